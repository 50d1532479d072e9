"""The page: lays out every panel, links them (:class:`ui_components.links.PageLinks`), wires their
events, and owns the updates that span several panels and the language switch.

This is the only module that knows every panel; panels know only the links.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

import gradio as gr

from medrega_core.engine.base import stream_answer
from medrega_core.errors import N_, MedRegAError
from medrega_core.i18n import normalize_language, translate, translator
from ui_components import chat, examples, export, pacs, regions, status, task_panel, viewer
from ui_components.chat import ChatHandles
from ui_components.context import AppContext
from ui_components.examples import ExamplesHandles
from ui_components.export import ExportHandles
from ui_components.labels import merge_updates, relabel, user_error
from ui_components.links import PageLinks, ScanNotOpened
from ui_components.pacs import PacsHandles
from ui_components.regions import RegionHandles
from ui_components.state import SessionState, close_scan, delete_session
from ui_components.status import StatusHandles
from ui_components.task_panel import TaskHandles
from ui_components.viewer import ViewerHandles

#: The panels' own style rules, added to the page's.
PANEL_CSS = chat.CHAT_CSS

#: Language switch choices: (shown name, UI code).
LANGUAGE_CHOICES = [("English", "en"), ("中文", "zh")]
#: The UI code -> the locale of Gradio's own strings (its front end ships zh-CN).
GRADIO_LOCALES = {"en": "en", "zh": "zh-CN"}
#: Gradio front-end keys that its zh-CN strings (or its English ones) lack, with our msgid for each.
GRADIO_MISSING_STRINGS = {"common.upload": N_("Upload"), "common.download_all": N_("Download all"),
                          "common.progress": N_("Progress")}
#: Browser code run with the language switch: Gradio's own strings (validation messages, the upload
#: button, toasts) follow it. Gradio's front end keeps its locale in the module that exports
#: ``changeLocale`` (its settings panel uses it); the page already loaded that module, so importing
#: the same URL gives the same locale store.
SWITCH_GRADIO_LOCALE_JS = r"""(lang, ...rest) => {
  const locales = %s;
  const core = performance.getEntriesByType('resource').map(entry => entry.name)
    .find(name => /\/assets\/core-[^/]*\.js$/.test(name));
  if (core) import(core).then(module => module.changeLocale && module.changeLocale(locales[lang] || 'en'));
  return [lang, ...rest];
}""" % json.dumps(GRADIO_LOCALES)


def gradio_strings() -> gr.I18n:
    """``launch(i18n=...)``: the Gradio strings its catalogs lack, from ours, in both languages."""
    return gr.I18n(**{locale: {key: translate(msgid, lang) for key, msgid in GRADIO_MISSING_STRINGS.items()}
                      for lang, locale in GRADIO_LOCALES.items()})


@dataclass(frozen=True)
class Page:
    state: gr.State
    language: gr.Radio
    title: gr.Markdown
    status: StatusHandles
    viewer: ViewerHandles
    regions: RegionHandles
    task: TaskHandles
    chat: ChatHandles
    export: ExportHandles
    examples: ExamplesHandles
    #: ``refresh_prompt(event)`` chains the prompt preview after an event that changes picture or boxes.
    refresh_prompt: Callable[[Any], Any]
    #: The PACS panel's handles, or None when the app runs without ``--dicomweb``.
    pacs: PacsHandles | None = None

    def region_updates(self, state: SessionState) -> dict[Any, Any]:
        """The region table and the selected region, for the picture and boxes of the session."""
        return regions.region_updates(self.regions, state, translator(state.lang))

    def picture_updates(self, state: SessionState, push_view: bool = False, push_boxes: bool = False) -> dict[Any, Any]:
        """The viewer (model boxes, and the server's view or boxes when pushed) and the region table."""
        return {self.viewer.viewer: viewer.viewer_value(state, push_view, push_boxes), **self.region_updates(state)}

    def picture_outputs(self) -> set[Any]:
        return {self.viewer.viewer, *regions.region_outputs(self.regions)}

    def open_files(self, ctx: AppContext, files: list[str] | str | None, state: SessionState,
                   series_uid: str | None = None) -> dict[Any, Any]:
        """Open uploaded (or example, or PACS) files into the session: every upload is a new case.

        The upload box is emptied each time, so the next upload holds only its own files (Gradio's
        multiple-file box would otherwise add them to these), and so are the modality words of the
        task panel, which described the previous scan. Raises :class:`ScanNotOpened` when the
        files cannot be opened: the previous scan is then closed too."""
        if not files:
            return {self.viewer.series: gr.update()}
        paths = [files] if isinstance(files, str) else list(files)
        try:
            series = viewer.load_files(state, ctx, paths, series_uid or None)
        except MedRegAError as error:
            close_scan(state, ctx.scans)
            raise ScanNotOpened(self.closed_updates(state), user_error(error, state.lang)) from None
        if series is not None:  # the previous scan closes while the user chooses (the page shows none)
            close_scan(state, ctx.scans)
            state.pending_paths = paths
            return {**self.closed_updates(state), **viewer.series_updates(self.viewer, series, translator(state.lang))}
        return {**viewer.opened_updates(self.viewer, state), **self.picture_updates(state, True, True),
                **chat.cleared(self.chat, state), self.viewer.upload: None, self.task.modality: ""}

    def closed_updates(self, state: SessionState) -> dict[Any, Any]:
        """Every widget of :meth:`scan_outputs` showing no scan: empty viewer, table, chat and modality words."""
        h = self.viewer
        return {h.series: gr.update(visible=False, value=None), h.scan_line: "", h.metadata: None, h.upload: None,
                self.task.modality: "", **self.picture_updates(state, True, True), **chat.cleared(self.chat, state)}

    def scan_outputs(self) -> set[Any]:
        """Every widget :meth:`open_files` may update."""
        h = self.viewer
        return {h.upload, h.series, h.scan_line, h.metadata, self.task.modality, *self.picture_outputs(),
                *chat.cleared_outputs(self.chat)}

    def links(self, ctx: AppContext) -> PageLinks:
        """What the panels may use of the page."""
        return PageLinks(
            state=self.state, viewer=self.viewer.viewer, viewer_state=self.viewer.viewer_state, task=self.task,
            refresh_prompt=self.refresh_prompt, picture_updates=self.picture_updates,
            region_updates=self.region_updates, picture_outputs=self.picture_outputs(),
            open_files=lambda files, state, series_uid=None: self.open_files(ctx, files, state, series_uid),
            scan_outputs=self.scan_outputs())


def create_page(ctx: AppContext) -> Page:
    """Lay out the panels and wire their events, inside the caller's ``gr.Blocks``."""
    runner = ctx.on_gpu(stream_answer)  # the one GPU function (``spaces.GPU`` on ZeroGPU)
    state = gr.State(SessionState(runner=runner), delete_callback=lambda session: delete_session(session, ctx.scans))
    with gr.Row(equal_height=True):
        title = gr.Markdown(title_text(translator("en")), elem_id="title")
        language = gr.Radio(LANGUAGE_CHOICES, value="en", show_label=False, elem_id="language", scale=0,
                            min_width=220, container=False)
    status_h = status.create_status(ctx)
    with gr.Row():
        with gr.Column(scale=6):
            pacs_h = pacs.create_pacs(ctx) if ctx.options.dicomweb_url else None
            viewer_h = viewer.create_viewer(ctx)
        with gr.Column(scale=5):
            # The examples first: a new user sees them beside the empty viewer, without scrolling.
            examples_h = examples.create_examples(ctx)
            task_h = task_panel.create_task_panel(ctx)
            chat_h = chat.create_chat(ctx)
            regions_h = regions.create_regions(ctx)
    export_h = export.create_export(ctx)
    refresh_prompt = task_panel.wire_task_panel(task_h, ctx, state)
    page = Page(state, language, title, status_h, viewer_h, regions_h, task_h, chat_h, export_h, examples_h,
                refresh_prompt, pacs_h)
    links = page.links(ctx)
    status.wire_status(status_h, ctx, links)
    viewer.wire_viewer(viewer_h, ctx, links)
    regions.wire_regions(regions_h, ctx, links)
    for event in chat.wire_chat(chat_h, ctx, links):
        refresh_prompt(event)
    export.wire_export(export_h, ctx, links)
    examples.wire_examples(examples_h, ctx, links)
    if pacs_h is not None:
        refresh_prompt(pacs.wire_pacs(pacs_h, ctx, pacs.workbench_target(links)))
    switched = language.change(lambda lang, session: switch_language(page, ctx, lang, session), [language, state],
                               all_text_outputs(page), api_name="set_language", js=SWITCH_GRADIO_LOCALE_JS)
    refresh_prompt(switched)
    remount_drop_zone(switched, viewer_h.upload)
    return page


def title_text(_: Callable[..., str]) -> str:
    return "## " + _("MedRegA Workbench") + "\n" + _(
        "Load a scan, point at a region, and ask MedRegA in English or Chinese.")


def panels(page: Page) -> list[tuple[Any, Any]]:
    """(panel module, its handles) for every panel with language-dependent text."""
    found = [(viewer, page.viewer), (regions, page.regions), (task_panel, page.task), (chat, page.chat),
             (export, page.export), (examples, page.examples), (status, page.status)]
    return found + ([(pacs, page.pacs)] if page.pacs is not None else [])


def switch_language(page: Page, ctx: AppContext, lang: str, state: SessionState) -> dict[Any, Any]:
    """Every text of the page in ``lang``; the scan, view, boxes and conversation stay as they are."""
    state.lang = normalize_language(lang)
    _ = translator(state.lang)
    parts = [relabel(handles, module.texts(_, state)) for module, handles in panels(page)]
    parts += [page.picture_updates(state), {page.viewer.scan_line: viewer.scan_line_text(state, _)},
              examples.relabel_samples(page.examples, state.lang), status.refreshed(page.status, ctx, _),
              {page.title: title_text(_)}]
    return merge_updates(*parts)


def remount_drop_zone(switched: Any, upload: gr.File) -> None:
    """After the language switch, the upload is taken out of the page and put back: Gradio writes its
    drop-zone words ("Drop File Here") once, when the component mounts, not when the locale changes.
    The upload is empty whenever a scan is open, so nothing shown is lost."""
    switched.then(lambda: gr.update(visible=False), None, upload, queue=False, api_name=False,
                  show_progress="hidden").then(lambda: gr.update(visible=True), None, upload, queue=False,
                                               api_name=False, show_progress="hidden")


def all_text_outputs(page: Page) -> set[Any]:
    """Every widget :func:`switch_language` updates."""
    _ = translator("en")
    names = {getattr(h, name) for module, h in panels(page) for name in module.texts(_)}
    return names | page.picture_outputs() | {page.examples.gallery, page.status.status, page.title,
                                             page.viewer.scan_line}
