"""Geometry of the stored pixel grid and of a rendered picture.

Conventions used everywhere in the intake package:

* Patient coordinates are DICOM's LPS, in millimetres: +x towards the patient's left, +y towards
  posterior, +z towards superior (head).
* Arrays are indexed numpy-style ``[z, y, x]`` = ``[slice, row, column]``; stored indices are
  written ``(i, j, k)`` = ``(column, row, slice)``, continuous, with pixel centres on integers.
* Picture coordinates are ``(x, y)``: x to the right, y down, continuous, ``(0, 0)`` the top-left
  corner of the top-left picture pixel (so pixel ``(c, r)`` has its centre at ``(c + .5, r + .5)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["VolumeGeometry", "SliceGeometry", "CanonicalLayout", "canonical_layout", "orientation_letter", "axis_code",
           "picture_plane"]

#: Letter of the +x, +y, +z LPS directions and of their opposites.
_POSITIVE_LETTERS = ("L", "P", "S")
_NEGATIVE_LETTERS = ("R", "A", "I")
#: NIfTI/nibabel affines are RAS; LPS differs by the sign of x and y.
_RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0])
#: A picture whose normal lies within this angle of a patient axis is named after that axis' plane
#: (a CT with a tilted gantry is still axial); farther off it is oblique.
PLANE_TOLERANCE_DEGREES = 25.0


def orientation_letter(direction_lps: np.ndarray) -> str:
    """The patient direction a vector points to most: one of ``L R P A S I``."""
    axis = int(np.argmax(np.abs(direction_lps)))
    return (_POSITIVE_LETTERS if direction_lps[axis] >= 0 else _NEGATIVE_LETTERS)[axis]


def axis_code(direction: np.ndarray) -> str:
    """Three letters naming where the i, j and k index axes point, e.g. ``"LPS"`` for axial DICOM."""
    return "".join(orientation_letter(direction[:, a]) for a in range(3))


def picture_plane(row_direction: np.ndarray, column_direction: np.ndarray) -> str:
    """The plane a picture with these LPS row and column directions cuts through the patient:
    ``axial``, ``coronal``, ``sagittal`` or ``oblique`` (see :data:`PLANE_TOLERANCE_DEGREES`)."""
    normal = np.cross(np.asarray(row_direction, float), np.asarray(column_direction, float))
    length = float(np.linalg.norm(normal))
    if not np.isfinite(length) or length == 0:
        return "oblique"
    axis = int(np.argmax(np.abs(normal)))
    if abs(normal[axis]) / length < np.cos(np.radians(PLANE_TOLERANCE_DEGREES)):
        return "oblique"
    return ("sagittal", "coronal", "axial")[axis]  # normal along x (L-R), y (A-P), z (S-I)


@dataclass(frozen=True)
class VolumeGeometry:
    """Where the stored pixel grid lies, apart from the pixels themselves.

    Attributes
    ----------
    spacing:
        ``(sx, sy, sz)`` in mm between column, row and slice centres, or None when unknown
        (plain pictures).
    origin:
        LPS position in mm of the centre of voxel ``(0, 0, 0)``, or None when the scan carries no
        patient frame (plain pictures, projection X-rays).
    direction:
        3 x 3 array whose columns are the unit LPS vectors of the i, j and k index axes, or None
        together with ``origin``.
    """

    spacing: tuple[float, float, float] | None = None
    origin: tuple[float, float, float] | None = None
    direction: np.ndarray | None = field(default=None, compare=False)

    @classmethod
    def from_dicom_plane(
        cls,
        row_direction: np.ndarray,
        column_direction: np.ndarray,
        origin: np.ndarray,
        spacing: tuple[float, float, float],
        normal: np.ndarray | None = None,
    ) -> VolumeGeometry:
        """From ImageOrientationPatient (row then column cosines) and ImagePositionPatient.

        DICOM is LPS already, so no flip is applied; the slice axis is ``normal`` or the cross
        product of the row and column directions.
        """
        row = np.asarray(row_direction, float)
        col = np.asarray(column_direction, float)
        slice_axis = np.cross(row, col) if normal is None else np.asarray(normal, float)
        direction = np.stack([row, col, slice_axis], axis=1)
        return cls(tuple(map(float, spacing)), tuple(map(float, origin)), direction)

    @classmethod
    def from_sitk_image(cls, image) -> VolumeGeometry:
        """From a SimpleITK image (ITK is LPS and x-y-z ordered: no flip, only a reshape)."""
        dimension = image.GetDimension()
        spacing = tuple(image.GetSpacing())[:3]
        origin = tuple(image.GetOrigin())[:3]
        direction = np.asarray(image.GetDirection(), float).reshape(dimension, dimension)[:3, :3]
        if dimension == 2:
            spacing, origin = spacing + (1.0,), origin + (0.0,)
            direction = np.eye(3)
            direction[:2, :2] = np.asarray(image.GetDirection(), float).reshape(2, 2)
        return cls(tuple(map(float, spacing)), tuple(map(float, origin)), direction)

    @classmethod
    def from_ras_affine(cls, affine: np.ndarray) -> VolumeGeometry:
        """From a NIfTI (nibabel) 4 x 4 voxel-to-RAS affine: x and y change sign to become LPS."""
        linear = _RAS_TO_LPS @ np.asarray(affine, float)[:3, :3]
        spacing = np.linalg.norm(linear, axis=0)
        spacing[spacing == 0] = 1.0
        origin = _RAS_TO_LPS @ np.asarray(affine, float)[:3, 3]
        return cls(tuple(map(float, spacing)), tuple(map(float, origin)), linear / spacing)

    @property
    def has_patient_frame(self) -> bool:
        return self.origin is not None and self.direction is not None and self.spacing is not None

    def patient_from_index(self) -> np.ndarray | None:
        """4 x 4 affine from homogeneous stored indices ``(i, j, k, 1)`` to LPS mm, or None."""
        if not self.has_patient_frame:
            return None
        affine = np.eye(4)
        affine[:3, :3] = self.direction * np.asarray(self.spacing)
        affine[:3, 3] = self.origin
        return affine


@dataclass(frozen=True)
class SliceGeometry:
    """The mapping between one rendered picture and the scan it was cut from.

    Attributes
    ----------
    width, height:
        Picture size in pixels.
    index_from_picture:
        3 x 3 affine: ``(i, j, k) = index_from_picture @ (x, y, 1)``, stored indices (column, row,
        slice or frame) of the file's own pixel grid, continuous with pixel centres on integers.
    spacing:
        ``(sx, sy, sz)`` mm of the stored grid, or None when unknown.
    patient_from_index:
        4 x 4 affine from ``(i, j, k, 1)`` to LPS mm, or None when the scan has no patient frame.
    """

    width: int
    height: int
    index_from_picture: np.ndarray = field(compare=False)
    spacing: tuple[float, float, float] | None = None
    patient_from_index: np.ndarray | None = field(default=None, compare=False)

    def picture_to_stored(self, x: float, y: float) -> tuple[float, float, float]:
        """Picture point ``(x, y)`` -> stored indices ``(i, j, k)`` (column, row, slice)."""
        i, j, k = self.index_from_picture @ np.array([x, y, 1.0])
        return float(i), float(j), float(k)

    def stored_to_picture(self, i: float, j: float, k: float) -> tuple[float, float]:
        """Stored indices -> picture point ``(x, y)``.

        A point off the picture's plane is projected onto it (least squares).
        """
        target = np.array([i, j, k], float)
        linear, offset = self.index_from_picture[:, :2], self.index_from_picture[:, 2]
        (x, y), *_ = np.linalg.lstsq(linear, target - offset, rcond=None)
        return float(x), float(y)

    def picture_to_patient_mm(self, x: float, y: float) -> tuple[float, float, float] | None:
        """Picture point -> LPS millimetres, or None when the scan has no patient frame."""
        if self.patient_from_index is None:
            return None
        point = self.patient_from_index @ np.array([*self.picture_to_stored(x, y), 1.0])
        return float(point[0]), float(point[1]), float(point[2])

    @property
    def mm_per_picture_pixel(self) -> tuple[float, float] | None:
        """Millimetres covered by one picture pixel along x and along y, or None if unknown."""
        if self.spacing is None:
            return None
        scaled = np.asarray(self.spacing)[:, None] * self.index_from_picture[:, :2]
        sx, sy = np.linalg.norm(scaled, axis=0)
        return float(sx), float(sy)

    def orientation(self) -> dict[str, str]:
        """Patient-direction letters on the picture's edges, e.g. ``{"left": "R", ...}``; {} if unknown."""
        if self.patient_from_index is None:
            return {}
        linear = self.patient_from_index[:3, :3] @ self.index_from_picture[:, :2]
        right, down = linear[:, 0], linear[:, 1]
        return {
            "left": orientation_letter(-right),
            "right": orientation_letter(right),
            "top": orientation_letter(-down),
            "bottom": orientation_letter(down),
        }


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


def canonical_layout(geometry: VolumeGeometry, shape_ijk: tuple[int, int, int], reorient: bool) -> CanonicalLayout:
    """The layout of a stored grid of ``shape_ijk`` (columns, rows, slices).

    Identity unless ``reorient`` (volumes) and the grid has a direction; each patient axis then
    takes the stored axis most parallel to it (greedy on the largest direction cosine).
    """
    if not reorient or geometry.direction is None:
        return CanonicalLayout((0, 1, 2), (False, False, False), shape_ijk, geometry.spacing)
    weights = np.abs(np.asarray(geometry.direction, float))  # rows: patient axes; columns: stored axes
    axis_of_patient = [0, 0, 0]
    for _ in range(3):  # the strongest remaining (patient, stored) pair first
        patient_axis, stored_axis = np.unravel_index(int(np.argmax(weights)), weights.shape)
        axis_of_patient[patient_axis] = int(stored_axis)
        weights[patient_axis, :] = -1.0
        weights[:, stored_axis] = -1.0
    flipped = tuple(bool(geometry.direction[p, a] < 0) for p, a in enumerate(axis_of_patient))
    spacing = None if geometry.spacing is None else tuple(geometry.spacing[a] for a in axis_of_patient)
    return CanonicalLayout(
        tuple(axis_of_patient), flipped, tuple(shape_ijk[a] for a in axis_of_patient), spacing
    )
