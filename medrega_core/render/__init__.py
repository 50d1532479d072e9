"""Overlays on the picture the user sees: boxes, numbered tags, CJK-safe labels, palette."""

from medrega_core.render.fonts import FontNotFoundError, OverlayError, find_cjk_font
from medrega_core.render.overlay import BoxSource, OverlayRegion, OverlayStyle, draw_overlay, place_labels
from medrega_core.render.palette import OKABE_ITO, palette_color, palette_hex, text_color_on

__all__ = [
    "OKABE_ITO", "BoxSource", "FontNotFoundError", "OverlayError", "OverlayRegion", "OverlayStyle", "draw_overlay",
    "find_cjk_font", "palette_color", "palette_hex", "place_labels", "text_color_on",
]
