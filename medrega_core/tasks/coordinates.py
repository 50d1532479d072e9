"""One place for every box conversion: picture pixels <-> MedRegA's 0-999 grid <-> scan geometry.

Conventions
-----------
* Boxes are XYXY: ``(x1, y1)`` top-left, ``(x2, y2)`` bottom-right.
* Picture pixels are continuous: x grows to the right, y downwards, ``(0, 0)`` is the top-left
  corner of the top-left pixel, so a ``W x H`` picture spans ``[0, W] x [0, H]``.
* Model boxes are integers 0..999, each axis relative to the picture the model sees (x to its
  width, y to its height; aspect ratio not preserved). Forward ``v = round(x / W * 999)``,
  back ``x = v / 999 * W`` (spec B.2; the released evaluators divide by 999).

Model -> pixels -> model is exact for any picture size. Pixels -> model -> pixels moves a
coordinate by at most half a grid step, ``W / 1998`` pixels: under one picture pixel for
pictures up to 1998 pixels on that axis, and never more than one grid unit for larger ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from medrega_core.errors import N_, TaskError

#: Largest value on MedRegA's box grid; the evaluators de-normalise with ``/ 999``.
MODEL_GRID_MAX = 999

#: Shown beside model boxes: MedRegA names sides as radiologists do (spec B.1), never flipped.
SIDE_CONVENTION_NOTE = N_(
    "Left and right follow the radiological convention: the patient's right is on the picture's left."
)


class PictureSizeError(TaskError):
    """A picture width or height is not a positive number."""


@dataclass(frozen=True)
class PixelBox:
    """A box in picture pixels (floats, XYXY, continuous coordinates)."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def center(self) -> tuple[float, float]:
        """Centre ``(x, y)`` in picture pixels."""
        return ((self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2)

    def ordered(self) -> PixelBox:
        """The same box with ``x1 <= x2`` and ``y1 <= y2``."""
        return PixelBox(min(self.x1, self.x2), min(self.y1, self.y2), max(self.x1, self.x2), max(self.y1, self.y2))

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)

    def contains(self, x: float, y: float) -> bool:
        """Whether the picture point ``(x, y)`` lies in the box, edges included, whatever the corner order."""
        b = self.ordered()
        return b.x1 <= x <= b.x2 and b.y1 <= y <= b.y2

    def as_text(self) -> str:
        """The corners rounded to whole pixels, written like a model box: ``[x1, y1, x2, y2]``."""
        return "[" + ", ".join(f"{value:.0f}" for value in self.as_tuple()) + "]"


@dataclass(frozen=True)
class ModelBox:
    """A box on MedRegA's grid (ints 0..999, XYXY, each axis relative to the picture size)."""

    x1: int
    y1: int
    x2: int
    y2: int

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.x1, self.y1, self.x2, self.y2)

    def as_text(self) -> str:
        """The quadruple as MedRegA writes it: ``[x1, y1, x2, y2]``."""
        return f"[{self.x1}, {self.y1}, {self.x2}, {self.y2}]"


def format_box_list(boxes: list[ModelBox] | tuple[ModelBox, ...]) -> str:
    """Boxes as the model reads and writes them: ``[[x1, y1, x2, y2], [x3, y3, x4, y4]]``."""
    return "[" + ", ".join(box.as_text() for box in boxes) + "]"


def _check_size(width: float, height: float) -> None:
    if not (width > 0 and height > 0 and math.isfinite(width) and math.isfinite(height)):
        raise PictureSizeError(
            N_("The picture size {width}x{height} is not valid: both sides must be positive."), width=width, height=height
        )


def _to_grid(value: float, extent: float) -> int:
    # Round half up (not Python's banker's rounding) so the mapping is monotonic and predictable.
    return min(MODEL_GRID_MAX, max(0, math.floor(value / extent * MODEL_GRID_MAX + 0.5)))


def to_model(box: PixelBox, width: float, height: float) -> ModelBox:
    """Picture pixels -> 0..999 grid, clamped and with corners put in order.

    Parameters
    ----------
    box:
        Box in picture pixels of a ``width x height`` picture.
    width, height:
        Size of the picture the model sees, in pixels.
    """
    _check_size(width, height)
    b = box.ordered()
    return ModelBox(_to_grid(b.x1, width), _to_grid(b.y1, height), _to_grid(b.x2, width), _to_grid(b.y2, height))


def to_pixels(box: ModelBox, width: float, height: float) -> PixelBox:
    """0..999 grid -> picture pixels of a ``width x height`` picture (``v / 999 * W``)."""
    _check_size(width, height)
    return PixelBox(
        box.x1 / MODEL_GRID_MAX * width,
        box.y1 / MODEL_GRID_MAX * height,
        box.x2 / MODEL_GRID_MAX * width,
        box.y2 / MODEL_GRID_MAX * height,
    )


def iou(a: PixelBox | ModelBox, b: PixelBox | ModelBox) -> float:
    """Intersection over union of two XYXY boxes in the same space (spec B.4).

    Continuous areas, no "+1" pixel convention; a box with no area counts as empty, and two
    empty boxes give 0.0 rather than a division by zero. The value is the same on the 0..999
    grid and in pixels of the same picture (scaling each axis scales both areas alike).
    """
    inter_w = max(0.0, min(a.x2, b.x2) - max(a.x1, b.x1))
    inter_h = max(0.0, min(a.y2, b.y2) - max(a.y1, b.y1))
    intersection = inter_w * inter_h
    area_a = max(0.0, a.x2 - a.x1) * max(0.0, a.y2 - a.y1)
    area_b = max(0.0, b.x2 - b.x1) * max(0.0, b.y2 - b.y1)
    union = area_a + area_b - intersection
    return intersection / union if union > 0 else 0.0


class PictureGeometry(Protocol):
    """What this layer uses of the intake layer's ``SliceGeometry`` (see docs/ARCHITECTURE.md)."""

    width: int
    height: int

    def picture_to_stored(self, x: float, y: float) -> tuple[float, float, float]: ...

    def picture_to_patient_mm(self, x: float, y: float) -> tuple[float, float, float] | None: ...

    @property
    def mm_per_picture_pixel(self) -> tuple[float, float] | None: ...


@dataclass(frozen=True)
class BoxInScan:
    """A picture box located in the scan: stored pixel indices and patient millimetres.

    Attributes
    ----------
    stored_corners:
        ``(i, j, k)`` stored indices of the top-left and bottom-right picture corners, in the
        intake layer's axis order.
    patient_corners_mm:
        LPS millimetres of the same two corners, or None when the scan has no geometry.
    size_mm:
        ``(width_mm, height_mm)`` along the picture's x and y axes, or None without spacing.
    """

    stored_corners: tuple[tuple[float, float, float], tuple[float, float, float]]
    patient_corners_mm: tuple[tuple[float, float, float], tuple[float, float, float]] | None
    size_mm: tuple[float, float] | None


def box_in_scan(box: PixelBox, geometry: PictureGeometry) -> BoxInScan:
    """Locate a picture box in the scan through the rendering's geometry."""
    b = box.ordered()
    stored = (geometry.picture_to_stored(b.x1, b.y1), geometry.picture_to_stored(b.x2, b.y2))
    mm_tl, mm_br = geometry.picture_to_patient_mm(b.x1, b.y1), geometry.picture_to_patient_mm(b.x2, b.y2)
    spacing = geometry.mm_per_picture_pixel
    size = (b.width * spacing[0], b.height * spacing[1]) if spacing else None
    corners_mm = (mm_tl, mm_br) if mm_tl is not None and mm_br is not None else None
    return BoxInScan(stored_corners=stored, patient_corners_mm=corners_mm, size_mm=size)
