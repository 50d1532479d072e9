"""Region panel: the drawing canvas, the annotated picture (click to propose or select a box) and
the region table.

The canvas (``gradio_image_annotation``) reports boxes in picture pixels of the current rendering;
the annotated picture is drawn by :func:`medrega_core.render.draw_overlay` and is PNG, never WebP.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import gradio as gr
import numpy as np
from gradio_image_annotation import image_annotator
from PIL import Image

from medrega_core.i18n import translator
from medrega_core.errors import MedRegAError
from medrega_core.render import OverlayRegion, draw_overlay, palette_color, propose_box
from medrega_core.tasks import PixelBox, RegionRow, box_in_scan, region_rows, to_model
from ui_components.context import AppContext
from ui_components.labels import Texts, Translate, user_error
from ui_components.state import SessionState, UserBox

USER_COLOR = (255, 255, 255)
#: Display height of the pictures, in CSS pixels, at zoom 1x.
BASE_HEIGHT = 512


@dataclass(frozen=True)
class RegionHandles:
    canvas: Any  # image_annotator
    overlay: gr.Image
    selected: gr.Markdown
    table: gr.Dataframe
    clear: gr.Button


def texts(_: Translate, state: SessionState | None = None) -> Texts:
    return {
        "canvas": {"label": _("Draw a box: drag on the picture; double-click a box to rename it, Delete removes it")},
        "overlay": {"label": _("Annotated picture: click to propose a box, or click a model box to ask about it")},
        "table": {"label": _("Regions"), "headers": table_headers(_)},
        "clear": {"value": _("Clear my boxes")},
        "selected": {"value": selected_text(state, _) if state else ""},
    }


def table_headers(_: Translate) -> list[str]:
    return [_("Region"), _("Source"), _("Box (0-999)"), _("Box (pixels)"), _("Size (mm)"), _("IoU with your box")]


def create_regions(ctx: AppContext) -> RegionHandles:
    t = texts(lambda m, **p: m)
    canvas = image_annotator(
        value=None, label_list=[], image_type="numpy", sources=[], show_clear_button=False,
        box_min_size=4, height=BASE_HEIGHT, elem_id="region-canvas", **t["canvas"],
    )
    overlay = gr.Image(format="png", type="filepath", interactive=False, height=BASE_HEIGHT,
                       elem_id="annotated-picture", **t["overlay"])
    selected = gr.Markdown(elem_id="selected-region")
    table = gr.Dataframe(interactive=False, wrap=True, elem_id="region-table",
                         column_widths=["22%", "10%", "20%", "20%", "14%", "14%"], **t["table"])
    clear = gr.Button(size="sm", elem_id="clear-boxes", **t["clear"])
    return RegionHandles(canvas, overlay, selected, table, clear)


def save_png(rgb: np.ndarray, folder: Path, gray: bool = False) -> str:
    """Write an H x W x 3 uint8 picture losslessly under a fresh name (browsers cache by name).

    ``gray`` (all three channels equal) writes one channel: a third of the bytes to compress.
    These files are transient, so speed wins over size: one fixed row filter (Sub) and Huffman
    coding alone (no match search) encode a 7.5-megapixel radiograph two to three times as fast
    as Pillow's adaptive filtering at zlib level 1, and smaller.
    """
    import cv2  # only the display PNG needs OpenCV in this module

    path = folder / f"view-{uuid.uuid4().hex[:12]}.png"
    picture = rgb[..., 0] if gray else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    settings = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB,
                cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY]
    _, data = cv2.imencode(".png", np.ascontiguousarray(picture), settings)
    path.write_bytes(data.tobytes())
    return str(path)


def boxes_from_canvas(value: dict | None) -> list[UserBox]:
    """The canvas's boxes ({xmin, ymin, xmax, ymax, label}) as typed user boxes."""
    if not value:
        return []
    return [UserBox(PixelBox(float(b["xmin"]), float(b["ymin"]), float(b["xmax"]), float(b["ymax"])), b.get("label") or "")
            for b in value.get("boxes") or []]


def canvas_value(state: SessionState, ctx: AppContext) -> dict | None:
    """The canvas content: the current rendering (as a PNG file) with the user's boxes."""
    if state.rendering is None:
        return None
    boxes = [{"xmin": u.box.x1, "ymin": u.box.y1, "xmax": u.box.x2, "ymax": u.box.y2, "label": u.label,
              "color": "#ffffff"} for u in state.user_boxes]
    gray = not state.scan.is_colour
    return {"image": save_png(state.rendering.rgb, state.work_folder(ctx.work_root), gray), "boxes": boxes}


def overlay_regions(state: SessionState) -> list[OverlayRegion]:
    """User boxes (white) and the latest answer's regions (palette colours, selected one tagged)."""
    regions = [OverlayRegion(u.label or str(i + 1), [u.box], USER_COLOR, source="user", tag=None)
               for i, u in enumerate(state.user_boxes)]
    if state.parsed is not None and state.rendering is not None:
        g = state.rendering.geometry
        for i, region in enumerate(state.parsed.regions):
            tag = f"{i + 1}*" if i == state.selected_region else i + 1
            regions.append(OverlayRegion(region.name or "", region.pixel_boxes(g.width, g.height), palette_color(i),
                                         source="model", tag=tag))
    return regions


def overlay_picture(state: SessionState) -> np.ndarray | None:
    """The current picture with every box drawn, H x W x 3 uint8 (None without a scan)."""
    if state.rendering is None:
        return None
    return draw_overlay(state.rendering.rgb, overlay_regions(state))


def overlay_file(state: SessionState, ctx: AppContext) -> str | None:
    """:func:`overlay_picture` as a PNG file (written here at a fast zlib level rather than by Gradio)."""
    picture = overlay_picture(state)
    return None if picture is None else save_png(picture, state.work_folder(ctx.work_root))


def _mm_text(size_mm: tuple[float, float] | None) -> str:
    return f"{size_mm[0]:.1f} × {size_mm[1]:.1f}" if size_mm else "-"


def _model_row(row: RegionRow, _: Translate) -> list[Any]:
    return [f"[{row.tag}] {row.name or ''}".strip(), _("model"), row.model_box.as_text(), row.pixel_box.as_text(),
            _mm_text(row.scan.size_mm if row.scan else None),
            "-" if row.iou_with_user is None else f"{row.iou_with_user:.2f}"]


def table_rows(state: SessionState, _: Translate) -> list[list[Any]]:
    """The user's boxes, then one row per box of the latest answer (IoU against the first user box)."""
    if state.rendering is None:
        return []
    g = state.rendering.geometry
    rows = [[u.label or _("your box {number}", number=i + 1), _("you"), to_model(u.box, g.width, g.height).as_text(),
             u.box.as_text(), _mm_text(box_in_scan(u.box, g).size_mm), "-"]
            for i, u in enumerate(state.user_boxes)]
    if state.parsed is not None:
        user = state.user_boxes[0].box if state.user_boxes else None
        rows += [_model_row(row, _) for row in region_rows(state.parsed, g.width, g.height, g, user_box=user)]
    return rows


def selected_text(state: SessionState, _: Translate) -> str:
    if state.parsed is None or state.selected_region is None:
        return ""
    region = state.parsed.regions[state.selected_region]
    return _("Follow-up questions refer to: {name}", name=region.name or str(state.selected_region + 1))


def picture_updates(h: RegionHandles, state: SessionState, ctx: AppContext, _: Translate,
                    canvas: bool = True) -> dict[Any, Any]:
    """Updates of every widget that shows the picture or its regions."""
    updates = {
        h.overlay: overlay_file(state, ctx),
        h.table: gr.update(value=table_rows(state, _), headers=table_headers(_)),
        h.selected: selected_text(state, _),
    }
    if canvas:
        updates[h.canvas] = canvas_value(state, ctx)
    return updates


def click(state: SessionState, x: float, y: float) -> None:
    """A click on the annotated picture: select the model region under it, else propose a box there."""
    if state.rendering is None:
        return
    g = state.rendering.geometry
    if state.parsed is not None:
        for i, region in enumerate(state.parsed.regions):
            if any(box.contains(x, y) for box in region.pixel_boxes(g.width, g.height)):
                state.selected_region = i
                return
    state.user_boxes.append(UserBox(propose_box(state.rendering.rgb, x, y)))


def wire_regions(h: RegionHandles, ctx: AppContext, state_holder: gr.State,
                 refresh_prompt: Callable[[Any], Any]) -> None:
    """Canvas edits, clicks on the annotated picture and "clear" update the boxes, then the prompt."""

    def on_canvas_change(value: dict | None, state: SessionState) -> dict[Any, Any]:
        state.user_boxes = boxes_from_canvas(value)
        return picture_updates(h, state, ctx, translator(state.lang), canvas=False)

    def on_click(state: SessionState, evt: gr.SelectData) -> dict[Any, Any]:
        try:
            click(state, float(evt.index[0]), float(evt.index[1]))
        except MedRegAError as error:
            raise user_error(error, state.lang) from None
        return picture_updates(h, state, ctx, translator(state.lang))

    def on_clear(state: SessionState) -> dict[Any, Any]:
        state.user_boxes, state.selected_region = [], None
        return picture_updates(h, state, ctx, translator(state.lang))

    outputs = {h.canvas, h.overlay, h.table, h.selected}
    refresh_prompt(h.canvas.change(on_canvas_change, [h.canvas, state_holder], outputs - {h.canvas},
                                   api_name="set_boxes", show_progress="hidden"))
    refresh_prompt(h.overlay.select(on_click, [state_holder], outputs, api_name=False, show_progress="hidden"))
    refresh_prompt(h.clear.click(on_clear, [state_holder], outputs, api_name="clear_boxes"))
