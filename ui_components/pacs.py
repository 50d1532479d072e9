"""PACS panel (``app.py --dicomweb URL``): search studies, pick a series, open it like an upload.

Series are retrieved with WADO-RS into the session's own folder and opened through
:meth:`ui_components.page.Page.open_files`, the only viewer function this panel uses; instances that
could not be retrieved or decoded are left out, with a warning saying how many. Patient names and IDs
stay hidden unless the user ticks the box.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gradio as gr

from medrega_core.errors import N_, MedRegAError
from medrega_core.i18n import translator
from medrega_core.pacs import PacsClient, PacsSettings, SeriesSummary, StudyQuery, StudySummary
from ui_components.context import AppContext, ServerOptions
from ui_components.labels import Texts, Translate, plain_error, user_error
from ui_components.state import SessionState

if TYPE_CHECKING:
    from ui_components.page import Page


@dataclass(frozen=True)
class PacsHandles:
    panel: gr.Accordion
    date_from: gr.Textbox
    date_to: gr.Textbox
    modality: gr.Textbox
    description: gr.Textbox
    patient_id: gr.Textbox
    show_identifiers: gr.Checkbox
    search: gr.Button
    studies: gr.Dataframe
    study: gr.Dropdown
    series: gr.Dropdown
    open: gr.Button


def pacs_settings(options: ServerOptions) -> PacsSettings | None:
    """The PACS the server was started with (``--dicomweb``), or None."""
    if not options.dicomweb_url:
        return None
    return PacsSettings(options.dicomweb_url, options.dicomweb_user, options.dicomweb_password,
                        options.dicomweb_token)


def texts(_: Translate, state: SessionState | None = None) -> Texts:
    return {
        "panel": {"label": _("PACS (DICOMweb)")},
        "date_from": {"label": _("Study date from"), "placeholder": "YYYYMMDD"},
        "date_to": {"label": _("Study date to"), "placeholder": "YYYYMMDD"},
        "modality": {"label": _("Modality"), "placeholder": "CT, MR, CR, DX..."},
        "description": {"label": _("Study description contains")},
        "patient_id": {"label": _("Patient ID (only when you are allowed to)")},
        "show_identifiers": {"label": _("Show patient name and ID (only when you are allowed to)")},
        "search": {"value": _("Search the PACS")},
        "studies": {"label": _("Studies")},
        "study": {"label": _("Study")},
        "series": {"label": _("Series")},
        "open": {"value": _("Open the series")},
    }


def create_pacs(ctx: AppContext) -> PacsHandles:
    t = texts(lambda m, **p: m)
    with gr.Accordion(open=True, elem_id="pacs", **t["panel"]) as panel:
        with gr.Row():
            date_from = gr.Textbox(elem_id="pacs-date-from", **t["date_from"])
            date_to = gr.Textbox(elem_id="pacs-date-to", **t["date_to"])
            modality = gr.Textbox(elem_id="pacs-modality", **t["modality"])
        with gr.Row():
            description = gr.Textbox(elem_id="pacs-description", **t["description"])
            patient_id = gr.Textbox(elem_id="pacs-patient-id", **t["patient_id"])
        with gr.Row():
            show_identifiers = gr.Checkbox(value=False, elem_id="pacs-show-identifiers", **t["show_identifiers"])
            search = gr.Button(elem_id="pacs-search", **t["search"])
        studies = gr.Dataframe(interactive=False, wrap=True, elem_id="pacs-studies", **t["studies"])
        # Custom values let API clients pass a UID directly; the client checks it is a valid UID.
        study = gr.Dropdown(choices=[], value=None, allow_custom_value=True, elem_id="pacs-study", **t["study"])
        with gr.Row():
            series = gr.Dropdown(choices=[], value=None, allow_custom_value=True, elem_id="pacs-series",
                                 **t["series"])
            open_ = gr.Button(elem_id="pacs-open", **t["open"])
    return PacsHandles(panel, date_from, date_to, modality, description, patient_id, show_identifiers, search,
                       studies, study, series, open_)


def study_table(studies: list[StudySummary], show_identifiers: bool, _: Translate) -> dict[str, Any]:
    """The study list as a Dataframe value; the identifier columns only when shown."""
    headers = [_("Date"), _("Modality"), _("Description"), _("Series")]
    if show_identifiers:
        headers += [_("Patient name"), _("Patient ID")]
    rows = []
    for study in studies:
        row = [study.date, "/".join(study.modalities), study.description, study.num_series]
        rows.append(row + [study.patient_name, study.patient_id] if show_identifiers else row)
    return {"headers": headers, "data": rows}


def study_label(study: StudySummary, _: Translate) -> str:
    """A dropdown label without identifiers: date · modalities · description · series count."""
    return _("{date} · {modality} · {description} · {count} series", date=study.date or "?",
             modality="/".join(study.modalities) or "?", description=study.description or "-",
             count=study.num_series or 0)


def series_label(series: SeriesSummary, _: Translate) -> str:
    return _("Series {number} · {modality} · {description} · {count} images",
             number=series.number if series.number is not None else "-", modality=series.modality or "?",
             description=series.description or "-", count=series.num_instances or 0)


def wire_pacs(page: "Page", ctx: AppContext) -> None:
    """Search, choose a study and a series, and open it in the viewer (api names ``pacs_*``)."""

    h = page.pacs
    settings = pacs_settings(ctx.options)

    def connect(state: SessionState) -> PacsClient:
        if settings is None:
            raise plain_error(N_("No PACS is configured: start the app with --dicomweb URL."), state.lang)
        return PacsClient(settings)

    def on_search(state: SessionState, date_from: str, date_to: str, modality: str, description: str,
                  patient_id: str, show_identifiers: bool) -> dict[Any, Any]:
        query = StudyQuery(date_from=(date_from or "").strip(), date_to=(date_to or "").strip(),
                           modality=modality or "", description=description or "", patient_id=patient_id or "")
        try:
            studies = connect(state).find_studies(query, show_identifiers=bool(show_identifiers))
        except MedRegAError as error:
            raise user_error(error, state.lang) from None
        _ = translator(state.lang)
        return {
            h.studies: study_table(studies, bool(show_identifiers), _),
            h.study: gr.update(choices=[(study_label(s, _), s.study_uid) for s in studies], value=None),
            h.series: gr.update(choices=[], value=None),
        }

    def on_study(state: SessionState, study_uid: str | None) -> dict[Any, Any]:
        if not study_uid:
            return {h.series: gr.update(choices=[], value=None)}
        try:
            series = connect(state).list_series(study_uid)
        except MedRegAError as error:
            raise user_error(error, state.lang) from None
        _ = translator(state.lang)
        choices = [(series_label(s, _), s.series_uid) for s in series]
        return {h.series: gr.update(choices=choices, value=choices[0][1] if choices else None)}

    def on_open(state: SessionState, study_uid: str | None, series_uid: str | None) -> dict[Any, Any]:
        if not study_uid or not series_uid:
            raise plain_error(N_("Choose a study and a series first."), state.lang)
        folder = tempfile.mkdtemp(prefix="pacs-", dir=state.work_folder(ctx.work_root))
        try:
            retrieval = connect(state).retrieve_series(study_uid, series_uid, folder)
        except MedRegAError as error:
            raise user_error(error, state.lang) from None
        _ = translator(state.lang)
        if not retrieval.paths:
            raise plain_error(N_("None of the {count} images of this series could be retrieved or decoded (damaged on "
                                 "the PACS)."), state.lang, count=len(retrieval.failed))
        outputs = page.open_files(ctx, [str(p) for p in retrieval.paths], state)
        if retrieval.failed:
            gr.Warning(_("Images of this series left out because they could not be retrieved or decoded (damaged on "
                         "the PACS): {count}. The others are open.", count=len(retrieval.failed)))
        return outputs

    search_inputs = [page.state, h.date_from, h.date_to, h.modality, h.description, h.patient_id, h.show_identifiers]
    search_outputs = {h.studies, h.study, h.series}
    gr.on([h.search.click, h.description.submit, h.patient_id.submit, h.modality.submit], on_search, search_inputs,
          search_outputs, api_name="pacs_search")
    h.study.input(on_study, [page.state, h.study], {h.series}, api_name="pacs_series")
    page.refresh_prompt(h.open.click(on_open, [page.state, h.study, h.series], page.scan_outputs(),
                                     api_name="pacs_open", show_progress_on=[page.viewer.viewer]))
