"""Cutting display planes out of a scan, in radiological orientation and physical aspect ratio.

A volume is first viewed (no copy) in its canonical layout (``Scan.layout``), whose index axes run
as close as possible to patient left (x), posterior (y) and superior (z). Then:

* axial: rows run anterior -> posterior, columns right -> left (patient right on the picture's left);
* coronal: rows run superior -> inferior, columns right -> left;
* sagittal: rows run superior -> inferior, columns anterior -> posterior.

2-D pictures and frame stacks are shown as stored. Every step is an affine map, so the picture keeps
an exact ``SliceGeometry`` back to the file's own pixel indices.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from medrega_core.intake.scan import Plane, Scan

__all__ = ["PlaneCut", "cut_plane", "physical_picture_size", "resize_picture"]


@dataclass(frozen=True)
class PlaneCut:
    """One plane of a scan at stored resolution.

    Attributes
    ----------
    pixels:
        ``(rows, columns)`` float32 or ``(rows, columns, 3)`` uint8 (a view where possible).
    stored_from_plane:
        3 x 3 affine from plane ``(column, row, 1)`` pixel-centre indices to stored ``(i, j, k)``.
    spacing:
        ``(column spacing, row spacing)`` in mm, or None.
    """

    pixels: np.ndarray
    stored_from_plane: np.ndarray
    spacing: tuple[float, float] | None


def cut_plane(scan: Scan, plane: Plane, slice_index: int, volume_index: int) -> PlaneCut:
    """Cut ``plane`` at ``slice_index`` from time point / frame ``volume_index`` of ``scan``.

    Indices must be in range (``render`` checks them).
    """
    layout = scan.layout
    canonical = layout.view(scan.voxels[volume_index])
    nz = layout.shape_xyz[2]
    # canonical (x, y, z, 1) from plane (column, row, 1)
    if plane is Plane.AXIAL:
        pixels = canonical[slice_index]
        canonical_from_plane = [[1, 0, 0], [0, 1, 0], [0, 0, slice_index], [0, 0, 1]]
        axes = (0, 1)
    elif plane is Plane.CORONAL:
        pixels = canonical[::-1, slice_index]
        canonical_from_plane = [[1, 0, 0], [0, 0, slice_index], [0, -1, nz - 1], [0, 0, 1]]
        axes = (0, 2)
    else:
        pixels = canonical[::-1, :, slice_index]
        canonical_from_plane = [[0, 0, slice_index], [1, 0, 0], [0, -1, nz - 1], [0, 0, 1]]
        axes = (1, 2)
    stored = layout.stored_from_canonical() @ np.asarray(canonical_from_plane, float)
    spacing = None if layout.spacing_xyz is None else tuple(layout.spacing_xyz[a] for a in axes)
    return PlaneCut(pixels, stored[:3], spacing)


def physical_picture_size(rows: int, columns: int, spacing: tuple[float, float] | None) -> tuple[int, int]:
    """``(width, height)`` that makes one picture pixel square in mm.

    The finer spacing is kept and the coarser axis is stretched, so no detail is lost.
    """
    if spacing is None:
        return columns, rows
    column_mm, row_mm = spacing
    finest = min(column_mm, row_mm)
    return max(1, round(columns * column_mm / finest)), max(1, round(rows * row_mm / finest))


def resize_picture(picture: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear resize of a float32 or uint8 picture (pixel-centre aligned, as ``picture_from_plane`` assumes)."""
    if picture.shape[1] == width and picture.shape[0] == height:
        return picture
    return cv2.resize(picture, (width, height), interpolation=cv2.INTER_LINEAR)
