"""Click-to-box: propose the box of the structure under a click on the windowed picture.

A flood fill from the clicked pixel with a grey-level tolerance taken from the local statistics
around the click, on a lightly smoothed copy of the picture. A fill that leaks into most of the
picture, or reaches the picture's edge (often a leak into the air around the body), is retried
with a tighter tolerance; the first edge-reaching fill is kept when no tighter one stays inside.
Thin bridges to neighbouring structures are cut by a morphological opening. The box is at least a small fraction of the picture so a click on a
speck still gives something the user can see and adjust.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from medrega_core.errors import N_
from medrega_core.render.fonts import OverlayError
from medrega_core.render.overlay import checked_picture
from medrega_core.tasks import PixelBox

#: Work on at most this many pixels along the longer side; proposals need no more detail.
WORK_SIDE = 768
#: Tolerance multipliers tried in turn: loose first, tighter when the fill leaks.
TOLERANCE_STEPS = (1.0, 0.6, 0.35, 0.2)


class ClickOutsidePictureError(OverlayError):
    """A click position lies outside the picture."""


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(checked_picture(rgb)), cv2.COLOR_RGB2GRAY)


def _fill(image: np.ndarray, seed: tuple[int, int], tolerance: float, opening: int) -> np.ndarray:
    """Mask (uint8 0/1, same size as ``image``) of the opened flood-fill component holding ``seed``."""
    height, width = image.shape
    mask = np.zeros((height + 2, width + 2), np.uint8)
    flags = 4 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
    cv2.floodFill(image, mask, seed, 0, (tolerance,), (tolerance,), flags)
    filled = mask[1:-1, 1:-1]
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (opening, opening))
    opened = cv2.morphologyEx(filled, cv2.MORPH_OPEN, kernel)
    if not opened[seed[1], seed[0]]:
        return filled  # the click sits on a thin part; keep the unopened fill
    _, labels = cv2.connectedComponents(opened, connectivity=4)
    return (labels == labels[seed[1], seed[0]]).astype(np.uint8)


def _at_least(low: float, high: float, minimum: float, limit: float) -> tuple[float, float]:
    """Grow ``[low, high]`` around its centre to ``minimum`` length, kept inside ``[0, limit]``."""
    if high - low >= minimum:
        return low, high
    center = (low + high) / 2
    low = min(max(0.0, center - minimum / 2), max(0.0, limit - minimum))
    return low, min(limit, low + minimum)


def propose_box(
    rgb: np.ndarray, x: float, y: float, *, min_fraction: float = 0.04, max_area_fraction: float = 0.4
) -> PixelBox:
    """Box of the structure under the click at picture pixel ``(x, y)``.

    Parameters
    ----------
    rgb:
        The windowed picture the user clicked on, H x W x 3 uint8.
    x, y:
        Click position in picture pixels (x right, y down).
    min_fraction:
        Smallest box side as a fraction of the picture's shorter side.
    max_area_fraction:
        A fill whose bounding box covers more of the picture than this counts as a leak and is
        retried tighter.

    Returns
    -------
    PixelBox
        In picture pixels; never the whole picture (a fill that always leaks gives a box of
        a quarter of the shorter side around the click).
    """
    gray = _gray(rgb)
    height, width = gray.shape
    if not (0 <= x < width and 0 <= y < height):
        raise ClickOutsidePictureError(
            N_("The click at ({x}, {y}) is outside the {width}x{height} picture."),
            x=round(x), y=round(y), width=width, height=height,
        )
    scale = min(1.0, WORK_SIDE / max(width, height))
    small = cv2.resize(gray, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    sh, sw = small.shape
    smooth = cv2.GaussianBlur(small, (0, 0), max(1.0, min(sw, sh) / 300))
    seed = (min(sw - 1, int(x * scale)), min(sh - 1, int(y * scale)))
    radius = max(2, min(sw, sh) // 64)
    window = smooth[max(0, seed[1] - radius) : seed[1] + radius + 1, max(0, seed[0] - radius) : seed[0] + radius + 1]
    base_tolerance = float(np.clip(3.0 * window.std() + 6.0, 6.0, 48.0))
    opening = max(3, (min(sw, sh) // 80) | 1)
    box = None
    for step in TOLERANCE_STEPS:
        cx, cy, cw, ch = cv2.boundingRect(_fill(smooth, seed, base_tolerance * step, opening))
        if cw * ch > max_area_fraction * sw * sh:
            continue
        touches_edge = cx == 0 or cy == 0 or cx + cw == sw or cy + ch == sh
        if box is None or not touches_edge:
            box = (cx / scale, cy / scale, (cx + cw) / scale, (cy + ch) / scale)
        if not touches_edge:
            break  # a fill reaching the picture edge may have leaked outside the body: try tighter
    if box is None:
        half = min(width, height) / 8
        box = (x - half, y - half, x + half, y + half)
    minimum = max(4.0, min_fraction * min(width, height))
    x1, x2 = _at_least(max(0.0, box[0]), min(float(width), box[2]), minimum, width)
    y1, y2 = _at_least(max(0.0, box[1]), min(float(height), box[3]), minimum, height)
    return PixelBox(math.floor(x1), math.floor(y1), math.ceil(x2), math.ceil(y2))
