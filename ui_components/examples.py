"""Examples gallery: real, openly licensed scans with a suggested task in each language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import gradio as gr

from medrega_core.examples import Example, list_examples
from medrega_core.i18n import translator
from ui_components.context import AppContext
from ui_components.labels import Texts, Translate
from ui_components.links import PageLinks, opening
from ui_components.state import SessionState


@dataclass(frozen=True)
class ExamplesHandles:
    gallery: gr.Dataset
    source: gr.Markdown
    catalog: tuple[Example, ...]


def samples(catalog: tuple[Example, ...], lang: str) -> list[list[str]]:
    return [[example.title.get(lang) or example.title["en"]] for example in catalog]


def texts(_: Translate, state: SessionState | None = None) -> Texts:
    return {"gallery": {"label": _("Examples (open scans; click one to load it with a suggested task)")}}


def create_examples(ctx: AppContext) -> ExamplesHandles:
    catalog = tuple(list_examples())
    gallery = gr.Dataset(components=[gr.Textbox(visible=False)], samples=samples(catalog, "en"), type="index",
                         elem_id="examples", **texts(lambda m, **p: m)["gallery"])
    source = gr.Markdown(elem_id="example-source")
    return ExamplesHandles(gallery, source, catalog)


def relabel_samples(h: ExamplesHandles, lang: str) -> dict[Any, Any]:
    return {h.gallery: gr.update(samples=samples(h.catalog, lang))}


def source_text(example: Example, _: Translate) -> str:
    return _("Source: {source}. Licence: {licence}.", source=example.source, licence=example.licence)


def wire_examples(h: ExamplesHandles, ctx: AppContext, links: PageLinks) -> None:
    """A click on an example opens its files and fills in its suggested task for the session's language."""
    t = links.task

    def opened_example(index: int | None, state: SessionState) -> dict[Any, Any]:
        if index is None:
            return {h.source: gr.update()}
        example = h.catalog[index]
        updates = links.open_files([str(p) for p in example.paths], state)
        suggestion = example.suggestion(state.lang)
        updates.update({t.task: suggestion.task.value, t.question: suggestion.question,
                        t.objects: ", ".join(suggestion.objects),
                        h.source: source_text(example, translator(state.lang))})
        return updates

    def on_pick(index: int | None, state: SessionState) -> Iterator[dict[Any, Any]]:
        yield from opening(lambda: opened_example(index, state))

    outputs = links.scan_outputs | {t.task, t.question, t.objects, h.source}
    links.refresh_prompt(h.gallery.click(on_pick, [h.gallery, links.state], outputs, api_name="open_example"))
