"""The opened scan: pixels in modality units, their geometry, and metadata without identifiers."""

from __future__ import annotations

import functools
import secrets
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, Iterable

import numpy as np

from medrega_core.errors import N_
from medrega_core.intake.errors import InvalidViewError
from medrega_core.intake.geometry import CanonicalLayout, VolumeGeometry, axis_code, canonical_layout, picture_plane
from medrega_core.intake.loading import SliceLoading
from medrega_core.intake.windowing import CT_PRESETS, VoiLut, Window, WindowPreset, robust_window

__all__ = ["Plane", "ScanKind", "ScanMetadata", "ScanInfo", "View", "Scan", "SourceInstance"]


class Plane(str, Enum):
    """Display planes. A 2-D picture has one plane, shown as stored, named ``axial``."""

    AXIAL = "axial"
    CORONAL = "coronal"
    SAGITTAL = "sagittal"

    def __str__(self) -> str:
        return self.value


#: DICOM modalities whose pictures are projections through the body (radiography, mammography,
#: fluoroscopy, angiography, dental), not cuts: they have no anatomical plane.
PROJECTION_MODALITIES = frozenset({"CR", "DX", "MG", "RF", "XA", "IO", "PX", "RG", "DF"})


class ScanKind(str, Enum):
    """``image``: one picture; ``frames``: a cine or frame stack; ``volume``: a 3-D (or 4-D) grid."""

    IMAGE = "image"
    FRAMES = "frames"
    VOLUME = "volume"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ScanMetadata:
    """Descriptive header values safe to show and export (never patient identifiers)."""

    modality: str = ""
    body_part: str = ""
    study_description: str = ""
    series_description: str = ""
    photometric: str = ""
    transfer_syntax: str = ""
    value_unit: str = ""
    #: DICOM Patient Orientation of a projection picture: where its rows and columns run, e.g.
    #: ``("A", "F")``; empty when absent (then volumes take their letters from the patient frame).
    patient_orientation: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceInstance:
    """The DICOM instance (and frame) one stored slice or frame came from, for references in reports.

    Attributes
    ----------
    sop_class_uid, sop_instance_uid:
        The source file's SOP Class and SOP Instance UIDs (not patient identifiers).
    frame_number:
        1-based frame of a multi-frame instance, or None for a single-frame instance.
    """

    sop_class_uid: str
    sop_instance_uid: str
    frame_number: int | None = None


@dataclass(frozen=True)
class ScanInfo:
    """What the UI and ``scan info`` show about a scan; contains no patient identifiers.

    Attributes
    ----------
    format:
        ``dicom``, ``dicom-series``, ``png``, ``jpeg``, ``bmp``, ``tiff``, ``nifti``, ``nrrd`` or
        ``metaimage``.
    size:
        ``(width, height)`` of one stored frame, in pixels.
    spacing:
        ``(sx, sy, sz)`` mm of the stored grid, or None when unknown.
    num_frames, num_slices, num_timepoints:
        Counts along the frame, stored-slice and time axes (1 where the axis is absent).
    default_window:
        The window shown first, or None for colour pictures.
    orientation:
        Where the stored column, row and slice axes point (e.g. ``"LPS"``), or None when the scan
        has no patient frame.
    """

    format: str
    kind: str
    modality: str
    body_part: str
    study_description: str
    series_description: str
    size: tuple[int, int]
    spacing: tuple[float, float, float] | None
    num_frames: int
    num_slices: int
    num_timepoints: int
    default_window: Window | None
    orientation: str | None
    photometric: str
    transfer_syntax: str
    value_unit: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (tuples become lists, the window a ``{center, width}`` mapping)."""
        return asdict(self)


@dataclass(frozen=True)
class View:
    """What to render: plane, slice, frame, time point and window.

    Attributes
    ----------
    plane:
        One of ``scan.planes``.
    slice_index:
        Slice along the plane's normal, or None for the middle slice.
    frame, timepoint:
        Frame of a cine / multi-frame file, time point of a 4-D volume (0 where absent).
    window:
        A ``Window``, a ``WindowPreset`` name in ``scan.presets``, or None for the default.
    """

    plane: Plane | str = Plane.AXIAL
    slice_index: int | None = None
    frame: int = 0
    timepoint: int = 0
    window: Window | str | None = None


@dataclass(frozen=True, eq=False)
class Scan:
    """An opened scan, immutable.

    Attributes
    ----------
    format:
        See ``ScanInfo.format``.
    kind:
        See ``ScanKind``.
    voxels:
        ``(T, Z, Y, X)`` float32 modality values (HU for CT; NaN = pixel padding), or
        ``(T, Z, Y, X, 3)`` uint8 RGB for colour. T counts frames (``frames``) or time points
        (``volume``); Z counts stored slices in the file's (sorted) order. Read-only.
    geometry:
        Geometry of the stored grid (x = column, y = row, z = slice).
    metadata:
        Descriptive values without identifiers.
    header_window:
        Valid window from the file header, if any.
    voi_lut:
        VOI LUT from the DICOM header, if any; used for the ``header`` window.
    invert:
        True for MONOCHROME1 (low values white).
    dicom_header:
        First DICOM dataset without pixel data (identifiers included: only ``dataset_for_export``
        and the structured-report writer read it), or None.
    source_instances:
        For DICOM: the ``SourceInstance`` of each stored slice (volumes, pictures) or of each frame
        (``frames``), in stored order; empty for other formats.
    loading:
        For a series opened in the background, what decodes its slices into ``voxels`` (read only
        the slices :meth:`wait_for` returned for); None when every slice was decoded on opening.
    deid_seed:
        Random per opened scan, never exported: every de-identified file of this case (JSON header,
        SR) gets the same substitute patient, dates and UIDs from it.
    """

    format: str
    kind: ScanKind
    voxels: np.ndarray = field(repr=False)
    geometry: VolumeGeometry
    metadata: ScanMetadata
    header_window: Window | None = None
    voi_lut: VoiLut | None = field(default=None, repr=False)
    invert: bool = False
    dicom_header: Any = field(default=None, repr=False)
    source_instances: tuple[SourceInstance, ...] = field(default=(), repr=False)
    loading: SliceLoading | None = field(default=None, repr=False)
    deid_seed: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)

    def __post_init__(self) -> None:
        self.voxels.flags.writeable = False

    def wait_for(self, slots: Iterable[int] | None = None) -> None:
        """Return once stored slices ``slots`` (frames of a frame stack; None: all) hold their values;
        raises the ``ScanError`` of one that cannot be decoded."""
        if self.loading is not None:
            self.loading.wait_for(slots)

    def stop_loading(self) -> None:
        """The scan is closed: slices nobody asked for are no longer decoded."""
        if self.loading is not None:
            self.loading.stop()

    @property
    def is_colour(self) -> bool:
        return self.voxels.ndim == 5

    @property
    def planes(self) -> tuple[Plane, ...]:
        if self.kind is ScanKind.VOLUME:
            return (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)
        return (Plane.AXIAL,)

    @property
    def num_frames(self) -> int:
        return self.voxels.shape[0] if self.kind is ScanKind.FRAMES else 1

    @property
    def num_timepoints(self) -> int:
        return self.voxels.shape[0] if self.kind is ScanKind.VOLUME else 1

    def num_slices(self, plane: Plane | str = Plane.AXIAL) -> int:
        """Slices available along ``plane``'s normal (1 for 2-D pictures)."""
        plane = self.check_plane(plane)
        if self.kind is not ScanKind.VOLUME:
            return 1
        return self.layout.shape_xyz[{Plane.SAGITTAL: 0, Plane.CORONAL: 1, Plane.AXIAL: 2}[plane]]

    @functools.cached_property
    def layout(self) -> CanonicalLayout:
        """How the stored axes map to the canonical L/P/S axes (identity for 2-D pictures)."""
        shape_ijk = (self.voxels.shape[3], self.voxels.shape[2], self.voxels.shape[1])
        return canonical_layout(self.geometry, shape_ijk, reorient=self.kind is ScanKind.VOLUME)

    def source_instance(self, slice_index: int, frame: int = 0) -> SourceInstance | None:
        """The DICOM instance behind stored slice ``slice_index`` (or ``frame`` of a frame stack), or None."""
        position = frame if self.kind is ScanKind.FRAMES else slice_index
        if 0 <= position < len(self.source_instances):
            return self.source_instances[position]
        return None

    def plane_name(self, plane: Plane | str = Plane.AXIAL) -> str | None:
        """What ``plane``'s pictures show: for a volume the plane itself; for a 2-D picture the plane
        its geometry cuts (``axial``, ``coronal``, ``sagittal``, ``oblique``), ``projection`` for a
        radiograph, angiogram or mammogram, and None without a patient frame (a photo, a screenshot)."""
        plane = self.check_plane(plane)
        if self.kind is ScanKind.VOLUME:
            return plane.value
        if self.metadata.modality in PROJECTION_MODALITIES:
            return "projection"
        if not self.geometry.has_patient_frame:
            return None
        return picture_plane(self.geometry.direction[:, 0], self.geometry.direction[:, 1])

    def check_plane(self, plane: Plane | str) -> Plane:
        """``plane`` as a ``Plane`` if this scan has it, else ``InvalidViewError``."""
        if plane not in {p.value for p in self.planes}:
            raise InvalidViewError(
                N_("This scan has no {plane} plane; available: {planes}."),
                plane=str(getattr(plane, "value", plane)),
                planes=", ".join(p.value for p in self.planes),
            )
        return Plane(plane)

    @functools.cached_property
    def auto_window(self) -> Window | None:
        """Robust percentile window of all values (it waits for every slice); None for colour."""
        if self.is_colour:
            return None
        if self.loading is not None:  # failed slices hold padding, which the window skips
            self.loading.load_all()
        return robust_window(self.voxels)

    @property
    def default_window(self) -> Window | None:
        if self.is_colour:
            return None
        if self.voi_lut is not None:
            return self.voi_lut.equivalent_window
        return self.header_window or self.auto_window

    @property
    def presets(self) -> list[str]:
        """Window preset names valid for this scan (empty for colour pictures)."""
        if self.is_colour:
            return []
        names = [p.value for p in CT_PRESETS] if self.metadata.modality == "CT" else []
        if self.header_window is not None or self.voi_lut is not None:
            names.append(WindowPreset.HEADER.value)
        names.append(WindowPreset.AUTO.value)
        return names

    def default_view(self) -> View:
        """Axial (or the stored plane), middle slice, first frame and time point, default window."""
        return View(plane=self.planes[0])

    @property
    def info(self) -> ScanInfo:
        stored = self.voxels.shape
        return ScanInfo(
            format=self.format,
            kind=self.kind.value,
            modality=self.metadata.modality,
            body_part=self.metadata.body_part,
            study_description=self.metadata.study_description,
            series_description=self.metadata.series_description,
            size=(int(stored[3]), int(stored[2])),
            spacing=self.geometry.spacing,
            num_frames=self.num_frames,
            num_slices=int(stored[1]),
            num_timepoints=self.num_timepoints,
            default_window=self.default_window,
            orientation=axis_code(self.geometry.direction) if self.geometry.has_patient_frame else None,
            photometric=self.metadata.photometric,
            transfer_syntax=self.metadata.transfer_syntax,
            value_unit=self.metadata.value_unit,
        )

    def dataset_for_export(self, include_identifiers: bool = False) -> dict[str, Any]:
        """Header metadata for an export bundle; de-identified unless ``include_identifiers``.

        See ``medrega_core.intake.deid.export_metadata``.
        """
        from medrega_core.intake.deid import export_metadata

        return export_metadata(self.info.to_dict(), self.dicom_header, self.deid_seed,
                               include_identifiers=include_identifiers)
