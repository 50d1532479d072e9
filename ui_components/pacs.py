"""PACS panel (``app.py --dicomweb URL``): search studies, pick a series, open it like an upload.

One panel serves every page that opens scans (the workbench, the teacher's page): each page says
where a series opens with a :class:`PacsTarget`. Series are retrieved with WADO-RS into the
session's own folder and opened through the target's ``open_files``, as an upload is on that page;
instances that could not be retrieved or decoded are left out, with a warning saying how many.
Patient names and IDs stay hidden unless the user ticks the box.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import gradio as gr

from medrega_core.errors import N_, MedRegAError
from medrega_core.i18n import translator
from medrega_core.pacs import PacsClient, SeriesSummary, StudyQuery, StudySummary
from ui_components.context import AppContext
from ui_components.labels import Texts, Translate, plain_error, user_error
from ui_components.links import PageLinks, Updates, opening
from ui_components.state import SessionState


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


@dataclass(frozen=True)
class PacsTarget:
    """Where the panel opens a retrieved series: a page's state, and how that page opens files."""

    state: gr.State
    #: ``session(value)``: the viewer's session in the state's value (its language and work folder).
    session: Callable[[Any], SessionState]
    #: ``open_files(paths, value)``: open the retrieved files as that page opens an upload; the updates.
    #: It may raise :class:`ui_components.links.ScanNotOpened` (the panel runs it inside ``opening``).
    open_files: Callable[[list[str], Any], Updates]
    #: Every widget ``open_files`` may update.
    outputs: set[Any]
    #: The viewer (an opening series shows its progress there).
    viewer: Any
    #: Offer the panel's events to scripts as ``/pacs_search``, ``/pacs_series``, ``/pacs_open``
    #: (one page only: the names are the app's).
    api: bool = True


def workbench_target(links: PageLinks) -> PacsTarget:
    """The workbench's page: a series opens as a new case, like an upload."""
    return PacsTarget(links.state, lambda state: state, links.open_files, links.scan_outputs, links.viewer)


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


def create_pacs(ctx: AppContext, elem_prefix: str = "pacs", opened: bool = True) -> PacsHandles:
    """The panel, its widgets' ids starting with ``elem_prefix``; ``opened``: unfolded at first."""
    t = texts(lambda m, **p: m)

    def elem(name: str = "") -> str:
        return f"{elem_prefix}-{name}" if name else elem_prefix

    with gr.Accordion(open=opened, elem_id=elem(), **t["panel"]) as panel:
        with gr.Row():
            date_from = gr.Textbox(elem_id=elem("date-from"), **t["date_from"])
            date_to = gr.Textbox(elem_id=elem("date-to"), **t["date_to"])
            modality = gr.Textbox(elem_id=elem("modality"), **t["modality"])
        with gr.Row():
            description = gr.Textbox(elem_id=elem("description"), **t["description"])
            patient_id = gr.Textbox(elem_id=elem("patient-id"), **t["patient_id"])
        with gr.Row():
            show_identifiers = gr.Checkbox(value=False, elem_id=elem("show-identifiers"), **t["show_identifiers"])
            search = gr.Button(elem_id=elem("search"), **t["search"])
        studies = gr.Dataframe(interactive=False, wrap=True, elem_id=elem("studies"), **t["studies"])
        # Custom values let API clients pass a UID directly; the client checks it is a valid UID.
        study = gr.Dropdown(choices=[], value=None, allow_custom_value=True, elem_id=elem("study"), **t["study"])
        with gr.Row():
            series = gr.Dropdown(choices=[], value=None, allow_custom_value=True, elem_id=elem("series"),
                                 **t["series"])
            open_ = gr.Button(elem_id=elem("open"), **t["open"])
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


def wire_pacs(h: PacsHandles, ctx: AppContext, target: PacsTarget) -> Any:
    """Search, choose a study and a series, and open it in the target's viewer (api names ``pacs_*``
    where the target offers them); returns the opening event, for the page to chain after it."""

    settings = ctx.options.pacs_settings()

    def connect(state: SessionState) -> PacsClient:
        if settings is None:
            raise plain_error(N_("No PACS is configured: start the app with --dicomweb URL."), state.lang)
        return PacsClient(settings)

    def on_search(value: Any, date_from: str, date_to: str, modality: str, description: str,
                  patient_id: str, show_identifiers: bool) -> dict[Any, Any]:
        state = target.session(value)
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

    def on_study(value: Any, study_uid: str | None) -> dict[Any, Any]:
        state = target.session(value)
        if not study_uid:
            return {h.series: gr.update(choices=[], value=None)}
        try:
            series = connect(state).list_series(study_uid)
        except MedRegAError as error:
            raise user_error(error, state.lang) from None
        _ = translator(state.lang)
        choices = [(series_label(s, _), s.series_uid) for s in series]
        return {h.series: gr.update(choices=choices, value=choices[0][1] if choices else None)}

    def open_series(value: Any, study_uid: str | None, series_uid: str | None) -> dict[Any, Any]:
        state = target.session(value)
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
        outputs = target.open_files([str(p) for p in retrieval.paths], value)
        if retrieval.failed:
            gr.Warning(_("Images of this series left out because they could not be retrieved or decoded (damaged on "
                         "the PACS): {count}. The others are open.", count=len(retrieval.failed)))
        return outputs

    def on_open(value: Any, study_uid: str | None, series_uid: str | None) -> Iterator[dict[Any, Any]]:
        # As an upload: files the intake refuses show the page without a scan, then the intake's message.
        yield from opening(lambda: open_series(value, study_uid, series_uid))

    def api_name(name: str) -> str | bool:
        return name if target.api else False

    search_inputs = [target.state, h.date_from, h.date_to, h.modality, h.description, h.patient_id,
                     h.show_identifiers]
    search_outputs = {h.studies, h.study, h.series}
    gr.on([h.search.click, h.description.submit, h.patient_id.submit, h.modality.submit], on_search, search_inputs,
          search_outputs, api_name=api_name("pacs_search"))
    h.study.input(on_study, [target.state, h.study], {h.series}, api_name=api_name("pacs_series"))
    return h.open.click(on_open, [target.state, h.study, h.series], target.outputs, api_name=api_name("pacs_open"),
                        show_progress_on=[target.viewer])
