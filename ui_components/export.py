"""Export panel: the annotated PNG, a JSON record and a Markdown report of the latest answer,
written by :func:`medrega_core.export.write_bundle`; identifiers stay out unless the user ticks the box."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import gradio as gr

from medrega_core.errors import N_, MedRegAError
from medrega_core.export import ExportRecord, write_bundle
from ui_components import regions as regions_panel
from ui_components.context import AppContext
from ui_components.labels import Texts, Translate, plain_error, user_error
from ui_components.state import SessionState


@dataclass(frozen=True)
class ExportHandles:
    identifiers: gr.Checkbox
    button: gr.Button
    files: gr.File


def texts(_: Translate, state: SessionState | None = None) -> Texts:
    return {
        "identifiers": {"label": _("Include patient identifiers (only when you are allowed to)")},
        "button": {"value": _("Export PNG, JSON and Markdown")},
        "files": {"label": _("Exported files")},
    }


def create_export(ctx: AppContext) -> ExportHandles:
    t = texts(lambda m, **p: m)
    identifiers = gr.Checkbox(value=False, elem_id="export-identifiers", **t["identifiers"])
    button = gr.Button(elem_id="export", **t["button"])
    files = gr.File(file_count="multiple", interactive=False, elem_id="export-files", **t["files"])
    return ExportHandles(identifiers, button, files)


def export(state: SessionState, ctx: AppContext, include_identifiers: bool) -> list[str]:
    """Write the bundle of the latest exchange into a fresh folder of the session; the file paths."""
    if state.rendering is None or not state.exchanges:
        raise plain_error(N_("Nothing to export yet: load a scan and ask a question first."), state.lang)
    exchange = state.exchanges[-1]
    info = ctx.host.describe()
    record = ExportRecord(
        task=exchange.task, lang=state.lang, prompt=exchange.prompt, answer=exchange.answer,
        rendering=exchange.rendering, scan=state.scan, user_boxes=tuple(u.box for u in exchange.user_boxes),
        user_box_labels=tuple(u.label for u in exchange.user_boxes),
        engine_info=info, generation=ctx.host.generation_settings(), include_identifiers=bool(include_identifiers),
    )
    folder = tempfile.mkdtemp(prefix="export-", dir=state.work_folder(ctx.work_root))
    try:
        files = write_bundle(record, folder, regions_panel.answer_picture(state, exchange))
    except MedRegAError as error:
        raise user_error(error, state.lang) from None
    return [str(files.png), str(files.json), str(files.markdown)]


def wire_export(h: ExportHandles, ctx: AppContext, state_holder: gr.State) -> None:
    def on_export(state: SessionState, include_identifiers: bool) -> list[str]:
        return export(state, ctx, include_identifiers)

    h.button.click(on_export, [state_holder, h.identifiers], h.files, api_name="export")

