"""Boxes, numbered tags and labels drawn on the picture the user sees.

Boxes are painted as inner strokes (the stroke lies inside the box, so its outer edge is the box
edge) with a one-pixel dark halo on both sides; model boxes are solid, user boxes dashed. Labels
are drawn with Pillow (OpenCV cannot draw Chinese), placed next to their box, kept inside the
picture and off each other. Line width and label size scale with the picture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from medrega_core.errors import N_
from medrega_core.render.fonts import OverlayError, find_cjk_font, load_font
from medrega_core.render.palette import RGB, palette_color, text_color_on
from medrega_core.tasks import ParsedAnswer, PixelBox

#: ``(x1, y1, x2, y2)`` integer pixel rectangle, end exclusive.
Rect = tuple[int, int, int, int]

HALO_COLOR: RGB = (0, 0, 0)
#: The viewer draws the length and probe tools in Cornerstone's yellow; the export does the same.
MEASUREMENT_COLOR: RGB = (255, 255, 0)


class BoxSource(str, Enum):
    """Who drew a box: the model (solid lines) or the user (dashed lines)."""

    MODEL = "model"
    USER = "user"


@dataclass(frozen=True)
class OverlayRegion:
    """One region to draw.

    Attributes
    ----------
    label:
        Name shown beside the first box ("right lung", "胰腺癌"); may be empty.
    boxes_px:
        Boxes in picture pixels (XYXY floats) of the picture being drawn on.
    color:
        ``(r, g, b)``, normally ``palette_color(region_index)``.
    source:
        ``"model"`` or ``"user"``.
    tag:
        Number shown on every box of the region (the same number as in the answer text), or None.
    """

    label: str
    boxes_px: Sequence[PixelBox]
    color: RGB
    source: BoxSource | str = BoxSource.MODEL
    tag: int | str | None = None


@dataclass(frozen=True)
class OverlayStyle:
    """Sizes relative to the picture's shorter side, with pixel bounds; and what to show."""

    line_fraction: float = 1 / 320
    min_line: int = 1
    max_line: int = 14
    font_fraction: float = 1 / 28
    min_font: int = 12
    max_font: int = 72
    dash_factor: int = 3
    show_labels: bool = True
    font_path: Path | None = None

    def line_width(self, width: int, height: int) -> int:
        """Stroke width in pixels for a ``width x height`` picture."""
        return int(min(self.max_line, max(self.min_line, round(min(width, height) * self.line_fraction))))

    def font_size(self, width: int, height: int) -> int:
        """Label text size in pixels for a ``width x height`` picture."""
        return int(min(self.max_font, max(self.min_font, round(min(width, height) * self.font_fraction))))


def model_overlay_regions(parsed: ParsedAnswer, width: float, height: float) -> list[OverlayRegion]:
    """The parsed answer's regions ready to draw on a ``width x height`` picture.

    Region ``i`` gets ``palette_color(i)`` and tag ``i + 1``, as in ``medrega_core.tasks.answer_segments``.
    """
    return [
        OverlayRegion(region.name or "", region.pixel_boxes(width, height), palette_color(index), BoxSource.MODEL, index + 1)
        for index, region in enumerate(parsed.regions)
    ]


def box_pixel_rect(box: PixelBox, width: int, height: int) -> Rect:
    """The pixels a continuous box covers, clipped to the picture: ``(col1, row1, col2, row2)``, end exclusive."""
    b = box.ordered()
    x1 = min(width - 1, max(0, math.floor(b.x1)))
    y1 = min(height - 1, max(0, math.floor(b.y1)))
    x2 = min(width, max(x1 + 1, math.ceil(b.x2)))
    y2 = min(height, max(y1 + 1, math.ceil(b.y2)))
    return (x1, y1, x2, y2)


def _frame_bands(rect: Rect, t: int) -> list[Rect]:
    """The four bands of a frame of thickness ``t`` inside ``rect``: top, bottom, left, right."""
    x1, y1, x2, y2 = rect
    return [(x1, y1, x2, y1 + t), (x1, y2 - t, x2, y2), (x1, y1, x1 + t, y2), (x2 - t, y1, x2, y2)]


def _paint_bands(canvas: np.ndarray, rect: Rect, thickness: int, color: RGB, dash: int) -> None:
    """Frame of ``thickness`` just inside ``rect``, clipped to the canvas; dashes of ``dash`` pixels if > 0."""
    height, width = canvas.shape[:2]
    x1, y1, x2, y2 = rect
    t = max(1, min(thickness, (x2 - x1) // 2 or 1, (y2 - y1) // 2 or 1))
    value = np.array(color, dtype=np.uint8)
    for index, (bx1, by1, bx2, by2) in enumerate(_frame_bands(rect, t)):
        cx1, cy1, cx2, cy2 = max(0, bx1), max(0, by1), min(width, bx2), min(height, by2)
        if cx2 <= cx1 or cy2 <= cy1:
            continue
        region = canvas[cy1:cy2, cx1:cx2]
        if not dash:
            region[...] = value
        elif index < 2:  # horizontal band: dashes along x
            region[:, ((np.arange(cx1, cx2) - x1) // dash) % 2 == 0] = value
        else:
            region[((np.arange(cy1, cy2) - y1) // dash) % 2 == 0, :] = value


def draw_box(canvas: np.ndarray, box: PixelBox, color: RGB, thickness: int, dashed: bool, dash_factor: int = 3) -> Rect:
    """Draw one box in place on ``canvas`` (H x W x 3 uint8); return its pixel rectangle."""
    height, width = canvas.shape[:2]
    rect = box_pixel_rect(box, width, height)
    dash = max(2, dash_factor * thickness) if dashed else 0
    x1, y1, x2, y2 = rect
    _paint_bands(canvas, (x1 - 1, y1 - 1, x2 + 1, y2 + 1), thickness + 2, HALO_COLOR, dash)
    _paint_bands(canvas, rect, thickness, color, dash)
    return rect


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _inside(rect: Rect, width: int, height: int) -> Rect:
    w, h = rect[2] - rect[0], rect[3] - rect[1]
    x = min(max(0, rect[0]), max(0, width - w))
    y = min(max(0, rect[1]), max(0, height - h))
    return (x, y, x + w, y + h)


def place_labels(sizes: Sequence[tuple[int, int]], anchors: Sequence[Rect], width: int, height: int) -> list[Rect]:
    """Choose a rectangle for each label near its anchor box, inside the picture, not overlapping.

    Parameters
    ----------
    sizes:
        ``(w, h)`` of each label in pixels.
    anchors:
        Pixel rectangle of the box each label belongs to.
    width, height:
        Picture size in pixels.

    Returns
    -------
    list of Rect
        One rectangle per label, in input order. Candidates are tried in order (above the box,
        inside its top-left corner, below it, above its right end, inside its bottom-left
        corner), then the nearest free row or column; overlap remains only when the picture
        has no free room left.
    """
    placed: list[Rect] = []
    for (w, h), (ax1, ay1, ax2, ay2) in zip(sizes, anchors):
        candidates = [(ax1, ay1 - h), (ax1, ay1), (ax1, ay2), (ax2 - w, ay1 - h), (ax1, ay2 - h)]
        rects = [_inside((x, y, x + w, y + h), width, height) for x, y in candidates]
        choice = next((r for r in rects if not any(_overlaps(r, p) for p in placed)), None)
        if choice is None:
            choice = _nearest_free(rects[0], placed, width, height)
        placed.append(choice)
    return placed


def _nearest_free(start: Rect, placed: list[Rect], width: int, height: int) -> Rect:
    w, h = start[2] - start[0], start[3] - start[1]
    # Coarser steps on big pictures keep the search to about 128 x 128 positions.
    step_y, step_x = max(1, h // 2, height // 64), max(1, w // 4, width // 64)
    offsets = sorted(
        ((dx, dy) for dy in range(-height, height + 1, step_y) for dx in range(-width, width + 1, step_x)),
        key=lambda d: (abs(d[1]) + abs(d[0]), abs(d[0])),
    )
    for dx, dy in offsets:
        rect = (start[0] + dx, start[1] + dy, start[0] + dx + w, start[1] + dy + h)
        if rect[0] < 0 or rect[1] < 0 or rect[2] > width or rect[3] > height:
            continue
        if not any(_overlaps(rect, p) for p in placed):
            return rect
    return start


@dataclass(frozen=True)
class _Label:
    text: str
    color: RGB
    anchor: Rect


def _labels_for(region: OverlayRegion, rects: list[Rect]) -> list[_Label]:
    tag = "" if region.tag is None else str(region.tag)
    first = " ".join(part for part in (tag, region.label.strip()) if part)
    texts = [first] + [tag] * (len(rects) - 1)
    return [_Label(text, tuple(region.color), rect) for text, rect in zip(texts, rects) if text]


def checked_picture(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` as an array, or an ``OverlayError`` unless it is an H x W x 3 uint8 picture."""
    array = np.asarray(rgb)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8 or 0 in array.shape:
        raise OverlayError(
            N_("The picture must be an H x W x 3 array of 8-bit values; got shape {shape} of type {dtype}."),
            shape="x".join(map(str, array.shape)), dtype=str(array.dtype),
        )
    return np.array(array, copy=True, order="C")


def draw_overlay(rgb: np.ndarray, regions: Sequence[OverlayRegion], style: OverlayStyle | None = None) -> np.ndarray:
    """Draw regions on a copy of the picture.

    Parameters
    ----------
    rgb:
        Picture, H x W x 3 uint8, RGB; left untouched.
    regions:
        What to draw; boxes in this picture's pixels.
    style:
        Sizes and switches; :class:`OverlayStyle` defaults when None.

    Returns
    -------
    numpy.ndarray
        New H x W x 3 uint8 RGB array.

    Raises
    ------
    OverlayError
        The picture is not H x W x 3 uint8, or no CJK font is installed for the labels.
    """
    style = style or OverlayStyle()
    canvas = checked_picture(rgb)
    height, width = canvas.shape[:2]
    thickness = style.line_width(width, height)
    labels: list[_Label] = []
    for region in regions:
        dashed = BoxSource(region.source) is BoxSource.USER
        rects = [draw_box(canvas, box, tuple(region.color), thickness, dashed, style.dash_factor) for box in region.boxes_px]
        labels.extend(_labels_for(region, rects))
    if not (style.show_labels and labels):
        return canvas
    return _draw_labels(canvas, labels, style)


def _draw_labels(canvas: np.ndarray, labels: list[_Label], style: OverlayStyle) -> np.ndarray:
    height, width = canvas.shape[:2]
    font = load_font(style.font_path or find_cjk_font(), style.font_size(width, height))
    ascent, descent = font.getmetrics()
    pad = label_padding(font)
    sizes = [(math.ceil(font.getlength(label.text)) + 2 * pad, ascent + descent + 2 * pad) for label in labels]
    rects = place_labels(sizes, [label.anchor for label in labels], width, height)
    for label, rect in zip(labels, rects):
        draw_label(canvas, label.text, label.color, rect, font, pad)
    return canvas


def label_padding(font: ImageFont.FreeTypeFont) -> int:
    """Space around a label's text for ``font``."""
    ascent, descent = font.getmetrics()
    return max(2, (ascent + descent) // 6)


def draw_label(canvas: np.ndarray, text: str, color: RGB, rect: Rect, font: ImageFont.FreeTypeFont, pad: int) -> None:
    """Draw one label (``text`` on a ``color`` rectangle, CJK-safe) in place, through a Pillow image of
    only the pixels it can touch.

    The patch is the label rectangle joined with the text's ink box (glyphs may reach past the
    rectangle), so the result equals drawing on the whole picture at a fraction of the cost.
    """
    height, width = canvas.shape[:2]
    origin = (rect[0] + pad, rect[1] + pad)
    ink = font.getbbox(text)
    x1, y1 = max(0, min(rect[0], origin[0] + ink[0])), max(0, min(rect[1], origin[1] + ink[1]))
    x2, y2 = min(width, max(rect[2], origin[0] + ink[2])), min(height, max(rect[3], origin[1] + ink[3]))
    if x2 <= x1 or y2 <= y1:
        return
    patch = Image.fromarray(canvas[y1:y2, x1:x2])
    draw = ImageDraw.Draw(patch)
    draw.rectangle((rect[0] - x1, rect[1] - y1, rect[2] - 1 - x1, rect[3] - 1 - y1), fill=color, outline=HALO_COLOR)
    draw.text((origin[0] - x1, origin[1] - y1), text, font=font, fill=text_color_on(color))
    canvas[y1:y2, x1:x2] = np.asarray(patch)


def draw_measurements(rgb: np.ndarray, marks: Sequence[tuple[Sequence[tuple[float, float]], str]],
                      style: OverlayStyle | None = None) -> np.ndarray:
    """Draw the user's measurements on a copy of the picture: a length as a line between its two
    points, a probe as a ring around its point, each labelled with what it reads (``marks`` holds
    ``(points in picture pixels, text)``)."""
    import cv2

    style = style or OverlayStyle()
    canvas = checked_picture(rgb)
    if not marks:
        return canvas
    height, width = canvas.shape[:2]
    thickness = style.line_width(width, height)
    font = load_font(style.font_path or find_cjk_font(), style.font_size(width, height))
    ascent, descent = font.getmetrics()
    pad = label_padding(font)
    for points, text in marks:
        ends = [(int(round(x)), int(round(y))) for x, y in points]
        if len(ends) >= 2:
            cv2.line(canvas, ends[0], ends[1], HALO_COLOR, thickness + 2, cv2.LINE_AA)
            cv2.line(canvas, ends[0], ends[1], MEASUREMENT_COLOR, thickness, cv2.LINE_AA)
        else:
            cv2.circle(canvas, ends[0], 3 * thickness, MEASUREMENT_COLOR, thickness, cv2.LINE_AA)
        x, y = max(ends, key=lambda point: point[0])
        size = (math.ceil(font.getlength(text)) + 2 * pad, ascent + descent + 2 * pad)
        left = min(max(0, x + 3 * thickness), max(0, width - size[0]))
        top = min(max(0, y - size[1] // 2), max(0, height - size[1]))
        draw_label(canvas, text, MEASUREMENT_COLOR, (left, top, left + size[0], top + size[1]), font, pad)
    return canvas
