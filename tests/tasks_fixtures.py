"""Test helpers for the tasks layer."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AxialGeometry:
    """A plain axial slice: picture pixel (x, y) = stored (column, row) of slice ``k``, LPS mm from the origin.

    Written here to the intake contract (docs/ARCHITECTURE.md, ``SliceGeometry``) so this layer's
    conversion can be checked with known numbers.
    """

    width: int
    height: int
    spacing: tuple[float, float]
    origin: tuple[float, float, float]
    k: int

    def picture_to_stored(self, x: float, y: float) -> tuple[float, float, float]:
        return (x, y, float(self.k))

    def picture_to_patient_mm(self, x: float, y: float) -> tuple[float, float, float]:
        return (self.origin[0] + x * self.spacing[0], self.origin[1] + y * self.spacing[1], self.origin[2])

    @property
    def mm_per_picture_pixel(self) -> tuple[float, float]:
        return self.spacing
