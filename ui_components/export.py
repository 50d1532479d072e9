"""Export panel: the annotated PNG, a JSON record and a Markdown report of the latest answer,
written by :meth:`medrega_core.session.Session.export`; identifiers stay out unless the user ticks the box.
For DICOM scans also the DICOM SR (:mod:`medrega_core.pacs`): downloaded as a file (de-identified
unless ticked), or sent to the PACS the app was started with (identifiers as in the source)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Any

import gradio as gr

from medrega_core.errors import N_, MedRegAError
from medrega_core.i18n import translator
from medrega_core.pacs import PacsClient, send_report, write_report
from ui_components.context import AppContext
from ui_components.labels import Texts, Translate, plain_error, user_error
from ui_components.links import PageLinks
from ui_components.state import SessionState


@dataclass(frozen=True)
class ExportHandles:
    identifiers: gr.Checkbox
    button: gr.Button
    sr_button: gr.Button
    send_button: gr.Button
    files: gr.File
    sent: gr.Markdown


def texts(_: Translate, state: SessionState | None = None) -> Texts:
    return {
        "identifiers": {"label": _("Include patient identifiers (only when you are allowed to)")},
        "button": {"value": _("Export PNG, JSON and Markdown")},
        "sr_button": {"value": _("Download SR")},
        "send_button": {"value": _("Send to PACS")},
        "files": {"label": _("Exported files")},
    }


def create_export(ctx: AppContext) -> ExportHandles:
    t = texts(lambda m, **p: m)
    identifiers = gr.Checkbox(value=False, elem_id="export-identifiers", **t["identifiers"])
    button = gr.Button(elem_id="export", **t["button"])
    with gr.Row():
        sr_button = gr.Button(elem_id="export-sr", **t["sr_button"])
        send_button = gr.Button(elem_id="send-sr", visible=bool(ctx.options.dicomweb_url), **t["send_button"])
    files = gr.File(file_count="multiple", interactive=False, elem_id="export-files", **t["files"])
    sent = gr.Markdown(elem_id="sent-sr")
    return ExportHandles(identifiers, button, sr_button, send_button, files, sent)


def exported_files(state: SessionState) -> list[str]:
    """Every file exported from the latest exchange (bundle and SR side by side)."""
    exported = state.exchanges[-1].exported if state.exchanges else {}
    return [path for kind in ("bundle", "sr") for path in exported.get(kind, [])]


def export(state: SessionState, ctx: AppContext, include_identifiers: bool) -> list[str]:
    """Write the bundle of the latest exchange into a fresh folder of the session; the file paths."""
    try:
        folder = tempfile.mkdtemp(prefix="export-", dir=state.work_folder(ctx.work_root))
        files = state.export(folder, bool(include_identifiers), state.selected_region)
    except MedRegAError as error:
        raise user_error(error, state.lang) from None
    state.exchanges[-1].exported["bundle"] = [str(files.png), str(files.json), str(files.markdown)]
    return exported_files(state)


def export_sr(state: SessionState, ctx: AppContext, include_identifiers: bool) -> list[str]:
    """Write the DICOM SR of the latest exchange into a fresh folder of the session; its path."""
    try:
        record = state.export_record(bool(include_identifiers))
        folder = tempfile.mkdtemp(prefix="export-", dir=state.work_folder(ctx.work_root))
        state.exchanges[-1].exported["sr"] = [str(write_report(record, folder))]
    except MedRegAError as error:
        raise user_error(error, state.lang) from None
    return exported_files(state)


def send_sr(state: SessionState, ctx: AppContext) -> str:
    """Store the SR of the latest exchange in the app's PACS; a confirmation line."""
    settings = ctx.options.pacs_settings()
    if settings is None:
        raise plain_error(N_("No PACS is configured: start the app with --dicomweb URL."), state.lang)
    try:
        sent = send_report(state.export_record(include_identifiers=True), PacsClient(settings))
    except MedRegAError as error:
        raise user_error(error, state.lang) from None
    _ = translator(state.lang)
    return _("Stored in the PACS: series {series} of study {study}.", series=str(sent.SeriesInstanceUID),
             study=str(sent.StudyInstanceUID))


def wire_export(h: ExportHandles, ctx: AppContext, links: PageLinks) -> None:
    state_holder = links.state

    def on_export(state: SessionState, include_identifiers: bool) -> list[str]:
        return export(state, ctx, include_identifiers)

    def on_export_sr(state: SessionState, include_identifiers: bool) -> list[str]:
        return export_sr(state, ctx, include_identifiers)

    def on_send(state: SessionState) -> str:
        return send_sr(state, ctx)

    h.button.click(on_export, [state_holder, h.identifiers], h.files, api_name="export")
    h.sr_button.click(on_export_sr, [state_holder, h.identifiers], h.files, api_name="export_sr")
    h.send_button.click(on_send, [state_holder], h.sent, api_name="send_sr")

