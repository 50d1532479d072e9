"""Cutting display planes out of a scan, in radiological orientation and physical aspect ratio.

A volume is first viewed (no copy) in a canonical layout whose index axes run as close as possible
to patient left (x), posterior (y) and superior (z). Then:

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

from medrega_core.intake.scan import Plane, Scan, ScanKind

__all__ = ["CanonicalLayout", "canonical_layout", "PlaneCut", "cut_plane", "physical_picture_size", "resize_picture"]


@dataclass(frozen=True)
class CanonicalLayout:
    """How the stored axes map onto the canonical (L, P, S) axes.

    Attributes
    ----------
    axis_of_patient:
        For patient x, y, z: the stored axis (0 = i column, 1 = j row, 2 = k slice) running along it.
    flipped:
        For patient x, y, z: whether that stored axis runs the opposite way (towards R, A or I).
    shape_xyz:
        Canonical sizes along patient x, y, z.
    spacing_xyz:
        Canonical spacing in mm, or None.
    """

    axis_of_patient: tuple[int, int, int]
    flipped: tuple[bool, bool, bool]
    shape_xyz: tuple[int, int, int]
    spacing_xyz: tuple[float, float, float] | None

    def stored_from_canonical(self) -> np.ndarray:
        """4 x 4 affine from canonical ``(x, y, z, 1)`` indices to stored ``(i, j, k, 1)``."""
        affine = np.zeros((4, 4))
        affine[3, 3] = 1.0
        for patient_axis, stored_axis in enumerate(self.axis_of_patient):
            if self.flipped[patient_axis]:
                affine[stored_axis, patient_axis] = -1.0
                affine[stored_axis, 3] = self.shape_xyz[patient_axis] - 1
            else:
                affine[stored_axis, patient_axis] = 1.0
        return affine

    def view(self, stored_zyx: np.ndarray) -> np.ndarray:
        """The canonical ``[z, y, x(, c)]`` view of a stored ``[k, j, i(, c)]`` array (no copy)."""
        extra = tuple(range(3, stored_zyx.ndim))
        as_xyz = stored_zyx.transpose((2, 1, 0) + extra)
        canonical_xyz = as_xyz.transpose(self.axis_of_patient + extra)
        flips = tuple(slice(None, None, -1) if f else slice(None) for f in self.flipped)
        return canonical_xyz[flips].transpose((2, 1, 0) + extra)


def canonical_layout(scan: Scan) -> CanonicalLayout:
    """The layout of ``scan``: identity for 2-D pictures and volumes without a patient frame."""
    shape_ijk = (scan.voxels.shape[3], scan.voxels.shape[2], scan.voxels.shape[1])
    geometry = scan.geometry
    if scan.kind is not ScanKind.VOLUME or geometry.direction is None:
        return CanonicalLayout((0, 1, 2), (False, False, False), shape_ijk, geometry.spacing)
    weights = np.abs(np.asarray(geometry.direction, float))  # rows: patient axes; columns: stored axes
    axis_of_patient = [0, 0, 0]
    for _ in range(3):  # greedy: the strongest remaining (patient, stored) pair first
        patient_axis, stored_axis = np.unravel_index(int(np.argmax(weights)), weights.shape)
        axis_of_patient[patient_axis] = int(stored_axis)
        weights[patient_axis, :] = -1.0
        weights[:, stored_axis] = -1.0
    flipped = tuple(bool(geometry.direction[p, a] < 0) for p, a in enumerate(axis_of_patient))
    spacing = None if geometry.spacing is None else tuple(geometry.spacing[a] for a in axis_of_patient)
    return CanonicalLayout(
        tuple(axis_of_patient), flipped, tuple(shape_ijk[a] for a in axis_of_patient), spacing
    )


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
    layout = canonical_layout(scan)
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
    """Bilinear resize of a uint8 picture (pixel-centre aligned, as ``picture_from_plane`` assumes)."""
    if picture.shape[1] == width and picture.shape[0] == height:
        return picture
    return cv2.resize(picture, (width, height), interpolation=cv2.INTER_LINEAR)
