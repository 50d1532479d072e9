"""Region panel: the table of the user's and the model's boxes, the region follow-ups refer to, and
the answer's picture (drawn by :meth:`medrega_core.session.Session.answer_picture`, saved as PNG, never WebP).

The boxes themselves are drawn, moved and named in the viewer (:mod:`ui_components.viewer`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from medrega_core.tasks import RegionRow, box_in_scan, region_rows, to_model
from ui_components.context import AppContext
from ui_components.labels import Texts, Translate
from ui_components.links import PageLinks
from ui_components.state import Exchange, SessionState
from ui_components.task_panel import box_name


@dataclass(frozen=True)
class RegionHandles:
    selected: gr.Markdown
    table: gr.Dataframe
    clear: gr.Button


def texts(_: Translate, state: SessionState | None = None) -> Texts:
    return {
        "table": {"label": _("Regions"), "headers": table_headers(_)},
        "clear": {"value": _("Clear my boxes")},
        "selected": {"value": selected_text(state, _) if state else ""},
    }


def table_headers(_: Translate) -> list[str]:
    return [_("Region"), _("Source"), _("Box (0-999)"), _("Box (pixels)"), _("Size (mm)"), _("IoU with your box")]


def create_regions(ctx: AppContext) -> RegionHandles:
    t = texts(lambda m, **p: m)
    selected = gr.Markdown(elem_id="selected-region")
    table = gr.Dataframe(interactive=False, wrap=True, elem_id="region-table", max_height=260,
                         column_widths=["22%", "10%", "20%", "20%", "14%", "14%"], **t["table"])
    clear = gr.Button(size="sm", elem_id="clear-boxes", **t["clear"])
    return RegionHandles(selected, table, clear)


def save_png(rgb: np.ndarray, folder: Path, gray: bool = False) -> str:
    """Write an H x W x 3 uint8 picture losslessly under a fresh name (browsers cache by name).

    ``gray`` (all three channels equal) writes one channel: a third of the bytes to compress.
    These files are transient, so speed wins over size: one fixed row filter (Sub) and Huffman
    coding alone (no match search) encode a 7.5-megapixel radiograph two to three times as fast
    as Pillow's adaptive filtering at zlib level 1, and smaller.
    """
    import cv2  # only the PNG writer needs OpenCV in this module

    path = folder / f"view-{uuid.uuid4().hex[:12]}.png"
    picture = rgb[..., 0] if gray else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    settings = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB,
                cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY]
    _, data = cv2.imencode(".png", np.ascontiguousarray(picture), settings)
    path.write_bytes(data.tobytes())
    return str(path)


def save_answer_picture(state: SessionState, exchange: Exchange, ctx: AppContext) -> str:
    """The answer's picture (``Session.answer_picture``) as a PNG in the session folder; remembered on the exchange."""
    picture = state.answer_picture(exchange, state.selected_region)
    exchange.picture = save_png(picture, state.work_folder(ctx.work_root))
    return exchange.picture


def _mm_text(size_mm: tuple[float, float] | None) -> str:
    return f"{size_mm[0]:.1f} × {size_mm[1]:.1f}" if size_mm else "-"


def _model_row(row: RegionRow, _: Translate) -> list[Any]:
    return [f"[{row.tag}] {row.name or ''}".strip(), _("model"), row.model_box.as_text(), row.pixel_box.as_text(),
            _mm_text(row.scan.size_mm if row.scan else None),
            "-" if row.iou_with_user is None else f"{row.iou_with_user:.2f}"]


def table_rows(state: SessionState, _: Translate) -> list[list[Any]]:
    """The user's boxes on the picture shown (the one questions are about marked), then one row per
    box of the latest answer (IoU against the box asked about)."""
    if state.geometry is None:
        return []
    g = state.geometry
    rows = [[box_name(state, i, _), _("you, asked about") if i == state.asked_box else _("you"),
             to_model(u.box, g.width, g.height).as_text(), u.box.as_text(), _mm_text(box_in_scan(u.box, g).size_mm), "-"]
            for i, u in enumerate(state.user_boxes)]
    rendering = state.rendering
    if state.parsed is not None and rendering is not None:
        answer_g = rendering.geometry
        user = None if state.asked_box is None else state.user_boxes[state.asked_box].box
        rows += [_model_row(row, _) for row in region_rows(state.parsed, answer_g.width, answer_g.height, answer_g,
                                                          user_box=user)]
    return rows


def selected_text(state: SessionState, _: Translate) -> str:
    if state.parsed is None or state.selected_region is None:
        return ""
    region = state.parsed.regions[state.selected_region]
    return _("Follow-up questions refer to: {name}", name=region.name or str(state.selected_region + 1))


def region_updates(h: RegionHandles, state: SessionState, _: Translate) -> dict[Any, Any]:
    """Updates of the table and the selected-region line."""
    return {h.table: gr.update(value=table_rows(state, _), headers=table_headers(_)), h.selected: selected_text(state, _)}


def region_outputs(h: RegionHandles) -> set[Any]:
    return {h.table, h.selected}


def wire_regions(h: RegionHandles, ctx: AppContext, links: PageLinks) -> None:
    """"Clear my boxes" removes the user's boxes from the viewer and the table, then the prompt follows."""

    def on_clear(state: SessionState) -> dict[Any, Any]:
        state.set_boxes([])
        state.selected_region = None
        return links.picture_updates(state, push_boxes=True)

    links.refresh_prompt(h.clear.click(on_clear, [links.state], links.picture_outputs, api_name="clear_boxes"))
