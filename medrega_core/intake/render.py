"""``render(scan, view)``: the one 8-bit RGB picture the user sees and the model receives."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from medrega_core.errors import N_
from medrega_core.intake.errors import InvalidViewError
from medrega_core.intake.geometry import SliceGeometry
from medrega_core.intake.reformat import PlaneCut, cut_plane, physical_picture_size, resize_picture
from medrega_core.intake.scan import Scan, ScanKind, View
from medrega_core.intake.windowing import CT_PRESETS, Window, WindowPreset, apply_voi_lut, apply_window

__all__ = ["PictureFrame", "PictureValues", "Rendering", "picture_frame", "picture_values", "render", "resolve_window",
           "window_picture"]


@dataclass(frozen=True, eq=False)
class Rendering:
    """A rendered picture and how it relates to the scan.

    Attributes
    ----------
    rgb:
        ``(H, W, 3)`` uint8, C-contiguous, read-only.
    geometry:
        Picture pixels <-> stored indices <-> LPS mm.
    window:
        The window applied (for a VOI LUT, the range it covers), or None for colour pictures.
    orientation:
        Patient-direction letters on the ``left``, ``right``, ``top`` and ``bottom`` edges; {} when
        the scan has no patient frame.
    view:
        The view with every default resolved: ``Plane``, slice index, and the window as requested
        (a preset name or ``Window``), or for the default the preset name (``header``/``auto``).
    """

    rgb: np.ndarray = field(repr=False)
    geometry: SliceGeometry
    window: Window | None
    orientation: dict[str, str]
    view: View


def resolve_window(scan: Scan, requested: Window | str | None) -> Window | None:
    """The ``Window`` that ``requested`` means for ``scan`` (None for colour pictures)."""
    if scan.is_colour:
        return None
    if requested is None:
        return scan.default_window
    if isinstance(requested, Window):
        return requested
    name = str(getattr(requested, "value", requested))
    if name not in scan.presets:
        raise InvalidViewError(
            N_("The window preset {name} is not available for this scan; available: {presets}."),
            name=name,
            presets=", ".join(scan.presets),
        )
    preset = WindowPreset(name)
    if preset in CT_PRESETS:
        return CT_PRESETS[preset]
    if preset is WindowPreset.HEADER:
        return scan.default_window if scan.voi_lut is not None else scan.header_window
    return scan.auto_window


#: Out-of-range messages per index kind.
_OUT_OF_RANGE = {
    "slice": N_("Slice {value} is out of range; this plane has {count} slices (0 to {last})."),
    "frame": N_("Frame {value} is out of range; this scan has {count} frames (0 to {last})."),
    "timepoint": N_("Time point {value} is out of range; this scan has {count} (0 to {last})."),
}


def _window_name(scan: Scan, requested: Window | str | None) -> Window | str | None:
    """``requested`` as given, or for the default the preset name that reproduces it (None for colour)."""
    if requested is not None:
        return requested.value if isinstance(requested, WindowPreset) else requested
    if scan.is_colour:
        return None
    return WindowPreset.HEADER.value if WindowPreset.HEADER.value in scan.presets else WindowPreset.AUTO.value


def _check_index(value: int | float, count: int, kind: str) -> int:
    """``value`` as an int in ``0 .. count - 1``; whole floats (from UI sliders) are accepted."""
    whole = isinstance(value, (int, np.integer)) or (isinstance(value, float) and value.is_integer())
    if not whole or not 0 <= value < count:
        raise InvalidViewError(_OUT_OF_RANGE[kind], value=value, count=count, last=count - 1)
    return int(value)


#: Opposite DICOM patient-direction codes (Patient Orientation uses H/F for head and foot).
_OPPOSITE_CODE = {"L": "R", "R": "L", "A": "P", "P": "A", "H": "F", "F": "H"}


def projection_orientation(codes: tuple[str, ...]) -> dict[str, str]:
    """Edge letters of a projection picture from its Patient Orientation (row direction, column direction)."""
    if len(codes) != 2:
        return {}
    def opposite(code: str) -> str:
        return "".join(_OPPOSITE_CODE[c] for c in code)
    row, column = codes
    return {"left": opposite(row), "right": row, "top": opposite(column), "bottom": column}


@dataclass(frozen=True, eq=False)
class PictureFrame:
    """Where one picture of a scan lies, known before any of its values are read.

    Attributes
    ----------
    geometry, orientation:
        As in :class:`Rendering`.
    view:
        The view with plane, slice, frame and time point resolved (the window as requested).
    """

    geometry: SliceGeometry
    orientation: dict[str, str]
    view: View


@dataclass(frozen=True, eq=False)
class PictureValues:
    """The values of one plane on the picture's own pixel grid, before any window.

    Attributes
    ----------
    values:
        ``(H, W)`` float32 modality values (padding holds the picture's lowest value, black in any
        window that starts above it), or ``(H, W, 3)`` uint8 for colour. Windowing these gives ``render``'s picture:
        the browser viewer receives exactly these values.
    geometry, orientation, view:
        As in :class:`PictureFrame`.
    """

    values: np.ndarray = field(repr=False)
    geometry: SliceGeometry
    orientation: dict[str, str]
    view: View


def _cut(scan: Scan, view: View | None) -> tuple[PlaneCut, View]:
    """The plane cut of ``view`` (values not read yet) and the view with its indices resolved."""
    view = view or scan.default_view()
    plane = scan.check_plane(view.plane)
    slices = scan.num_slices(plane)
    slice_index = _check_index(slices // 2 if view.slice_index is None else view.slice_index, slices, "slice")
    frame = _check_index(view.frame, scan.num_frames, "frame")
    timepoint = _check_index(view.timepoint, scan.num_timepoints, "timepoint")
    cut = cut_plane(scan, plane, slice_index, frame if scan.kind is ScanKind.FRAMES else timepoint)
    return cut, View(plane, slice_index, frame, timepoint, view.window)


def _frame(scan: Scan, cut: PlaneCut, view: View) -> PictureFrame:
    rows, columns = cut.pixels.shape[:2]
    width, height = physical_picture_size(rows, columns, cut.spacing)
    plane_from_picture = np.array([[columns / width, 0, -0.5], [0, rows / height, -0.5], [0, 0, 1]])
    geometry = SliceGeometry(
        width=width,
        height=height,
        index_from_picture=cut.stored_from_plane @ plane_from_picture,
        spacing=scan.geometry.spacing,
        patient_from_index=scan.geometry.patient_from_index(),
    )
    orientation = geometry.orientation() or projection_orientation(scan.metadata.patient_orientation)
    return PictureFrame(geometry, orientation, view)


def picture_frame(scan: Scan, view: View | None = None) -> PictureFrame:
    """The size, geometry and edge letters of ``view``'s picture, without reading (or waiting for) values.

    Raises
    ------
    InvalidViewError
        A plane or index this scan does not have.
    """
    return _frame(scan, *_cut(scan, view))


def _stored_slices(scan: Scan, cut: PlaneCut, view: View) -> list[int] | None:
    """The stored slices (frames of a frame stack) a cut reads, None for all of them (a reformatted plane)."""
    if scan.kind is ScanKind.FRAMES:
        return [view.frame]
    column, row, offset = cut.stored_from_plane[2]
    return [round(offset)] if abs(column) < 1e-9 and abs(row) < 1e-9 else None


def _fill_padding(values: np.ndarray) -> np.ndarray:
    """Padding (NaN) replaced by the picture's own lowest value: black in any window that starts above
    it. The picture's values alone decide, so a slice of a series still loading shows once it is decoded."""
    if values.dtype != np.float32 or not np.isnan(values.min()):
        return values
    lowest = np.fmin.reduce(values, axis=None)  # skips NaN; NaN only when the picture is all padding
    return np.where(np.isnan(values), np.float32(0.0 if np.isnan(lowest) else lowest), values)


def picture_values(scan: Scan, view: View | None = None) -> PictureValues:
    """Cut ``view``'s plane from ``scan`` and resample it so one pixel is square in millimetres.

    A series still loading is waited for: the picture's own slice, or every slice for a reformatted
    plane. Padding shows as the picture's lowest value.

    Raises
    ------
    InvalidViewError
        A plane or index this scan does not have.
    ScanError
        A slice the picture needs cannot be decoded (found damaged while the series loads).
    """
    cut, view = _cut(scan, view)
    frame = _frame(scan, cut, view)
    scan.wait_for(_stored_slices(scan, cut, view))
    values = _fill_padding(np.ascontiguousarray(cut.pixels))
    values = resize_picture(values, frame.geometry.width, frame.geometry.height)
    return PictureValues(values, frame.geometry, frame.orientation, view)


def window_picture(scan: Scan, values: np.ndarray, requested: Window | str | None) -> tuple[np.ndarray, Window | None]:
    """Grey levels (or the colour picture) of ``values`` under the ``requested`` window, and that window."""
    window = resolve_window(scan, requested)
    if scan.is_colour:
        return values, None
    uses_lut = scan.voi_lut is not None and (requested is None or requested == WindowPreset.HEADER.value)
    levels = apply_voi_lut(values, scan.voi_lut) if uses_lut else apply_window(values, window)
    if scan.invert:
        np.subtract(np.uint8(255), levels, out=levels)
    return levels, window


def render(scan: Scan, view: View | None = None) -> Rendering:
    """Render one plane of ``scan`` as the picture shown to the user and given to the model.

    Values are windowed (or passed through a VOI LUT), MONOCHROME1 is inverted, padding is black,
    and the picture is resampled so one pixel is square in millimetres.

    Parameters
    ----------
    scan:
        An opened scan.
    view:
        What to show; None means ``scan.default_view()``.

    Returns
    -------
    Rendering
        ``rgb`` is ``(H, W, 3)`` uint8.

    Raises
    ------
    InvalidViewError
        A plane, index or window this scan does not have.
    """
    cut = picture_values(scan, view)
    picture, window = window_picture(scan, cut.values, cut.view.window)
    # OpenCV's grey-to-RGB copy is about ten times faster than numpy's repeat on a radiograph.
    rgb = np.ascontiguousarray(picture) if picture.ndim == 3 else cv2.cvtColor(picture, cv2.COLOR_GRAY2RGB)
    rgb.flags.writeable = False
    resolved = View(cut.view.plane, cut.view.slice_index, cut.view.frame, cut.view.timepoint,
                    _window_name(scan, cut.view.window))
    return Rendering(rgb, cut.geometry, window, cut.orientation, resolved)
