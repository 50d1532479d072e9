"""The whole page as one typed object, and the language switch that re-labels all of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import gradio as gr

from medrega_core.i18n import normalize_language, translator
from ui_components import chat, examples, export, pacs, regions, status, task_panel, viewer
from ui_components.chat import ChatHandles
from ui_components.context import AppContext
from ui_components.examples import ExamplesHandles
from ui_components.export import ExportHandles
from ui_components.labels import merge_updates, relabel
from ui_components.regions import RegionHandles
from ui_components.state import SessionState
from ui_components.status import StatusHandles
from ui_components.task_panel import TaskHandles
from ui_components.viewer import ViewerHandles

#: Language switch choices: (shown name, UI code).
LANGUAGE_CHOICES = [("English", "en"), ("中文", "zh")]


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
    pacs: Any = None


def title_text(_: Callable[..., str]) -> str:
    return "## " + _("MedRegA Workbench") + "\n" + _(
        "Load a scan, point at a region, and ask MedRegA in English or Chinese.")


def panels(page: Page) -> list[tuple[Any, Any]]:
    """(panel module, its handles) for every panel with language-dependent text."""
    found = [(viewer, page.viewer), (regions, page.regions), (task_panel, page.task), (chat, page.chat),
             (export, page.export), (examples, page.examples), (status, page.status)]
    return found + ([(pacs, page.pacs)] if page.pacs is not None else [])


def switch_language(page: Page, ctx: AppContext, lang: str, state: SessionState) -> dict[Any, Any]:
    """Every text of the page in ``lang``; the scan, boxes and conversation stay as they are."""
    state.lang = normalize_language(lang)
    _ = translator(state.lang)
    parts = [relabel(handles, module.texts(_, state)) for module, handles in panels(page)]
    if state.rendering is not None:
        parts.append(regions.picture_updates(page.regions, state, ctx, _, canvas=False))
        parts.append({page.viewer.orientation: viewer.orientation_text(state.rendering, _)})
    parts += [examples.relabel_samples(page.examples, state.lang), status.refreshed(page.status, ctx, _),
              {page.title: title_text(_)}]
    return merge_updates(*parts)


def all_text_outputs(page: Page) -> set[Any]:
    """Every widget :func:`switch_language` updates."""
    _ = translator("en")
    names = {getattr(h, name) for module, h in panels(page) for name in module.texts(_)}
    return names | {page.regions.overlay, page.regions.table, page.regions.selected, page.examples.gallery,
                    page.status.status, page.title, page.viewer.orientation}
