"""Overlays on the picture the user sees: boxes, numbered tags, CJK-safe labels, palette."""

from medrega_core.render.fonts import FontNotFoundError, OverlayError, find_cjk_font
from medrega_core.render.overlay import (
    BoxSource,
    OverlayRegion,
    OverlayStyle,
    draw_overlay,
    model_overlay_regions,
    place_labels,
)
from medrega_core.render.proposal import ClickOutsidePictureError, propose_box
from medrega_core.render.palette import OKABE_ITO, palette_color, palette_hex, text_color_on

__all__ = [
    "OKABE_ITO", "BoxSource", "ClickOutsidePictureError", "FontNotFoundError", "OverlayError", "OverlayRegion", "OverlayStyle", "draw_overlay",
    "find_cjk_font", "model_overlay_regions", "palette_color", "palette_hex", "place_labels", "propose_box",
    "text_color_on",
]
