"""The exported picture: the annotated picture framed by its orientation letters, a scale bar in
millimetres and the research-only notice, so the PNG says on its own what it is and how to read it.

The picture itself is copied unchanged into the frame (its offset is returned), so box coordinates
in picture pixels stay valid inside the PNG after adding the offset.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from medrega_core.render.fonts import find_cjk_font, load_font
from medrega_core.render.overlay import OverlayStyle, Rect, checked_picture, draw_label, label_padding
from medrega_core.render.palette import RGB

#: Okabe-Ito vermillion, the colour of the notice on the page too.
NOTICE_COLOR: RGB = (213, 94, 0)
BACKGROUND: RGB = (0, 0, 0)
LETTER_COLOR: RGB = (64, 64, 64)
#: The answer's lines: light text on dark grey.
CAPTION_COLOR: RGB = (40, 40, 40)
SCALE_BAR_COLOR: RGB = (255, 255, 255)
#: The scale bar is at most this share of the picture's width.
SCALE_BAR_MAX_SHARE = 0.3
#: CJK characters may break anywhere; other text breaks after spaces.
_WRAP_PIECES = re.compile(r"[\u2e80-\u9fff\u3000-\u303f\uff00-\uffef]|[^\s\u2e80-\u9fff\u3000-\u303f\uff00-\uffef]+\s*|\s+")


@dataclass(frozen=True)
class ScaleBar:
    """The drawn scale bar: its length in mm and picture pixels, and its rectangle in the framed picture."""

    mm: float
    pixels: int
    rect: Rect


@dataclass(frozen=True)
class FramedPicture:
    """The framed picture and where the original picture lies in it.

    Attributes
    ----------
    rgb:
        ``(H', W', 3)`` uint8.
    offset:
        ``(x, y)`` of the original picture's top-left pixel.
    scale_bar:
        The scale bar, or None when the picture has no millimetre scale.
    """

    rgb: np.ndarray
    offset: tuple[int, int]
    scale_bar: ScaleBar | None


def scale_bar_length_mm(picture_width: int, mm_per_pixel: float) -> float | None:
    """The longest 1-2-5 length in mm whose bar fits :data:`SCALE_BAR_MAX_SHARE` of the width."""
    longest = SCALE_BAR_MAX_SHARE * picture_width * mm_per_pixel
    if longest <= 0 or not math.isfinite(longest):
        return None
    exponent = math.floor(math.log10(longest))
    for step in (5, 2, 1):
        length = step * 10.0**exponent
        if length <= longest:
            return length
    return None


def _wrapped(text: str, font, width: int) -> list[str]:
    lines, line = [], ""
    for piece in _WRAP_PIECES.findall(text):
        if line and font.getlength(line + piece.rstrip()) > width:
            lines.append(line.rstrip())
            line = piece.lstrip()
        else:
            line += piece
    return [*lines, line.rstrip()] if line.strip() else lines


def frame_for_export(
    rgb: np.ndarray,
    orientation: Mapping[str, str],
    mm_per_pixel: tuple[float, float] | None,
    notice: str,
    style: OverlayStyle | None = None,
    caption: str = "",
) -> FramedPicture:
    """Frame ``rgb`` with orientation letters on its four edges, a scale bar, ``caption`` and ``notice`` below.

    Parameters
    ----------
    rgb:
        The annotated picture, H x W x 3 uint8 (left untouched).
    orientation:
        Letters per edge (``{"left": "R", "right": "L", "top": "A", "bottom": "P"}``); missing edges stay blank.
    mm_per_pixel:
        ``(sx, sy)`` millimetres per picture pixel, or None (no scale bar).
    notice:
        The research-only notice, already in the user's language (wrapped to the frame's width).
    caption:
        Text shown above the notice (the model's answer in plain words), wrapped the same way.
    """
    picture = checked_picture(rgb)
    height, width = picture.shape[:2]
    style = style or OverlayStyle()
    font = load_font(style.font_path or find_cjk_font(), style.font_size(width, height))
    pad = label_padding(font)
    ascent, descent = font.getmetrics()
    line_height = ascent + descent + 2 * pad
    gap = max(2, line_height // 4)

    def text_width(text: str) -> int:
        return math.ceil(font.getlength(text)) + 2 * pad

    letters = {edge: text for edge, text in orientation.items() if edge in ("left", "right", "top", "bottom") and text}
    margin = max([line_height, *(text_width(t) for t in letters.values())]) + 2 * gap
    x0, y0 = margin, margin
    frame_width = width + 2 * margin
    bar_mm = scale_bar_length_mm(width, mm_per_pixel[0]) if mm_per_pixel else None
    text_room = frame_width - 2 * gap - 2 * pad
    footer_lines = [(line, CAPTION_COLOR) for paragraph in caption.splitlines() for line in _wrapped(paragraph, font, text_room)]
    footer_lines += [(line, NOTICE_COLOR) for line in _wrapped(notice, font, text_room)]
    footer_top = y0 + height + margin
    bar_row = line_height + gap if bar_mm else 0
    frame_height = footer_top + bar_row + len(footer_lines) * (line_height + gap) + gap
    canvas = np.empty((frame_height, frame_width, 3), np.uint8)
    canvas[:] = BACKGROUND
    canvas[y0:y0 + height, x0:x0 + width] = picture

    centres = {"left": (margin // 2, y0 + height // 2), "right": (x0 + width + margin // 2, y0 + height // 2),
               "top": (x0 + width // 2, margin // 2), "bottom": (x0 + width // 2, y0 + height + margin // 2)}
    for edge, text in letters.items():
        cx, cy = centres[edge]
        w = text_width(text)
        draw_label(canvas, text, LETTER_COLOR, (cx - w // 2, cy - line_height // 2, cx - w // 2 + w,
                                                 cy - line_height // 2 + line_height), font, pad)

    scale_bar = None
    if bar_mm:
        pixels = round(bar_mm / mm_per_pixel[0])
        thickness = max(3, line_height // 4)
        top = footer_top + (line_height - thickness) // 2
        rect = (x0, top, x0 + pixels, top + thickness)
        canvas[rect[1]:rect[3], rect[0]:rect[2]] = SCALE_BAR_COLOR
        label = f"{bar_mm:g} mm"
        draw_label(canvas, label, BACKGROUND, (rect[2] + gap, footer_top, rect[2] + gap + text_width(label),
                                               footer_top + line_height), font, pad)
        scale_bar = ScaleBar(bar_mm, pixels, rect)

    top = footer_top + bar_row
    for line, color in footer_lines:
        draw_label(canvas, line, color, (gap, top, gap + min(frame_width - 2 * gap, text_width(line)),
                                                top + line_height), font, pad)
        top += line_height + gap
    return FramedPicture(canvas, (x0, y0), scale_bar)
