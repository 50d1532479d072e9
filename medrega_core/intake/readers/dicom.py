"""DICOM files and series through pydicom and its pixel decoder plugins.

Reader boundary: pydicom gives frames as ``[frame, row, column(, sample)]``; patient geometry
comes from ImagePositionPatient / ImageOrientationPatient (already LPS, no flip). Frames of an
enhanced multi-frame file and files of a series are sorted by position along the slice normal,
then by instance number, into ``[k, j, i]``. Stored values go through the modality transform
(rescale slope/intercept) into float32; pixel padding becomes NaN.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable

import numpy as np
import pydicom
import pydicom.uid
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue

from medrega_core.errors import N_
from medrega_core.intake.errors import (
    CorruptFileError,
    ImageTooLargeError,
    MissingDecoderError,
    NoPixelDataError,
    ScanError,
    SeriesMismatchError,
    UnsupportedFormatError,
)
from medrega_core.intake.geometry import VolumeGeometry
from medrega_core.intake.limits import IntakeLimits
from medrega_core.intake.loading import SliceLoading
from medrega_core.intake.scan import Scan, ScanKind, ScanMetadata, SourceInstance
from medrega_core.intake.windowing import VoiLut, Window

__all__ = ["DicomPart", "check_all_elements", "parse_dicom", "scan_from_dicom_file", "scan_from_dicom_series", "DECODER_PACKAGES"]

# pydicom's reading validation warns *and logs* invalid values verbatim ("Invalid value for VR DA:
# '19800101'"), which would put birth dates and names into server logs. Only this layer uses
# pydicom, and it validates what it reads itself, so validation is switched off process-wide.
pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE

#: Permissively licensed packages that decode each compressed transfer syntax (named in errors).
DECODER_PACKAGES: dict[str, str] = {
    pydicom.uid.JPEGBaseline8Bit: "python-gdcm or pylibjpeg with pylibjpeg-libjpeg",
    pydicom.uid.JPEGExtended12Bit: "pylibjpeg with pylibjpeg-libjpeg (GPL-3; python-gdcm and Pillow decode only 8-bit JPEG Extended)",
    pydicom.uid.JPEGLossless: "python-gdcm or pylibjpeg with pylibjpeg-libjpeg",
    pydicom.uid.JPEGLosslessSV1: "python-gdcm or pylibjpeg with pylibjpeg-libjpeg",
    pydicom.uid.JPEGLSLossless: "pyjpegls or python-gdcm",
    pydicom.uid.JPEGLSNearLossless: "pyjpegls or python-gdcm",
    pydicom.uid.JPEG2000Lossless: "pylibjpeg-openjpeg or python-gdcm",
    pydicom.uid.JPEG2000: "pylibjpeg-openjpeg or python-gdcm",
    pydicom.uid.HTJ2KLossless: "pylibjpeg-openjpeg",
    pydicom.uid.HTJ2KLosslessRPCL: "pylibjpeg-openjpeg",
    pydicom.uid.HTJ2K: "pylibjpeg-openjpeg",
    pydicom.uid.RLELossless: "pylibjpeg-rle",
}
#: Decoder plugin tried alone first for each syntax. GDCM aborts the whole process on some damaged
#: JPEG 2000 data (a C++ exception escaping its wrapper), so plugins that fail with a Python
#: exception go first; GDCM is used only where it is the sole decoder (JPEG Lossless) or when the
#: preferred plugin declines a variant it does not support.
_PREFERRED_PLUGINS: dict[str, str] = {
    pydicom.uid.JPEGBaseline8Bit: "pillow",
    pydicom.uid.JPEGLSLossless: "pyjpegls",
    pydicom.uid.JPEGLSNearLossless: "pyjpegls",
    pydicom.uid.JPEG2000Lossless: "pylibjpeg",
    pydicom.uid.JPEG2000: "pylibjpeg",
    pydicom.uid.HTJ2KLossless: "pylibjpeg",
    pydicom.uid.HTJ2KLosslessRPCL: "pylibjpeg",
    pydicom.uid.HTJ2K: "pylibjpeg",
    pydicom.uid.RLELossless: "pylibjpeg",
}
_NO_PACKAGE = "no Python package (export the images uncompressed or as JPEG from the scanner)"

#: Parsing and decoding hostile bytes raises arbitrary exception types inside pydicom and its
#: plugins (struct.error, BytesLengthException, plugin-specific errors...); at these two library
#: boundaries every one of them means "this file is damaged".
_PARSE_ERRORS = (Exception,)


def _is_library_failure(error: BaseException) -> bool:
    """Decoder plugins written in Rust (pylibjpeg-rle) panic with ``pyo3_runtime.PanicException``,
    a ``BaseException``; it means a damaged frame, unlike KeyboardInterrupt or SystemExit."""
    return isinstance(error, Exception) or type(error).__name__ == "PanicException"


@dataclass(frozen=True)
class DicomPart:
    """One parsed DICOM file (pixel data still encoded) and its name for messages."""

    name: str
    dataset: Dataset


def parse_dicom(source: str | BinaryIO, name: str, check_elements: bool = True) -> Dataset:
    """Parse a DICOM file without decoding pixels.

    Files without the 'DICM' preamble are accepted when they parse into a dataset with a SOP class
    or pixel data. Raises ``UnsupportedFormatError`` for non-DICOM input, ``CorruptFileError`` for
    damaged DICOM. Every element is converted now (see :func:`check_elements`) unless
    ``check_elements`` is False: a series opened in the background checks each file's elements when
    its slice is decoded.
    """
    try:
        try:
            dataset = pydicom.dcmread(source)
        except InvalidDicomError:
            dataset = _parse_without_preamble(source, name)
    except ScanError:
        raise
    except _PARSE_ERRORS as error:
        raise CorruptFileError(N_("The DICOM file {name} is damaged or truncated."), name=name) from error
    if check_elements:
        check_all_elements(dataset, name)
    _ensure_transfer_syntax(dataset)
    return dataset


def check_all_elements(dataset: Dataset, name: str) -> None:
    """Convert every element of ``dataset`` (file meta included) now: pydicom converts lazily, and a
    damaged element would otherwise fail later, far from the parse, with an error that is not a
    ``ScanError``. Raises ``CorruptFileError`` naming the file."""
    try:
        _materialize(dataset)
        _materialize(getattr(dataset, "file_meta", None) or Dataset())
    except _PARSE_ERRORS as error:
        raise CorruptFileError(N_("The DICOM file {name} is damaged or truncated."), name=name) from error


def _materialize(dataset: Dataset) -> None:
    for element in dataset:
        if element.VR == "SQ":
            for item in element.value:
                _materialize(item)


def _parse_without_preamble(source: str | BinaryIO, name: str) -> Dataset:
    if not isinstance(source, str):
        source.seek(0)
    try:
        dataset = pydicom.dcmread(source, force=True)
        looks_like_dicom = "SOPClassUID" in dataset or "PixelData" in dataset
    except _PARSE_ERRORS:
        looks_like_dicom = False
    if not looks_like_dicom:
        raise UnsupportedFormatError(N_("The file {name} is not a DICOM file."), name=name)
    return dataset


def _ensure_transfer_syntax(dataset: Dataset) -> None:
    """Fill a missing TransferSyntaxUID from the encoding the file was actually read with."""
    if "TransferSyntaxUID" in getattr(dataset, "file_meta", Dataset()):
        return
    implicit, little = dataset.original_encoding
    syntax = (pydicom.uid.ImplicitVRLittleEndian if implicit else
              pydicom.uid.ExplicitVRLittleEndian if little else pydicom.uid.ExplicitVRBigEndian)
    dataset.file_meta = getattr(dataset, "file_meta", None) or pydicom.dataset.FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = syntax


def _number_of_frames(dataset: Dataset) -> int:
    try:
        return max(1, int(dataset.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def _check_decodable(part: DicomPart, limits: IntakeLimits, files: int = 1) -> None:
    dataset, name = part.dataset, part.name
    if "PixelData" not in dataset:
        raise NoPixelDataError(N_("The DICOM file {name} contains no image (no pixel data)."), name=name)
    try:
        rows, columns = int(dataset.Rows), int(dataset.Columns)
        samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    except (AttributeError, TypeError, ValueError) as error:
        raise CorruptFileError(N_("The DICOM file {name} lacks its image size (Rows, Columns)."), name=name) from error
    if rows * columns > limits.max_pixels or rows * columns * samples * _number_of_frames(dataset) * files > limits.max_voxels:
        raise ImageTooLargeError(
            N_("The image in {name} is too large ({size}); the limit is {limit} pixels."),
            name=name, size=f"{columns}x{rows}x{_number_of_frames(dataset) * files}", limit=limits.max_voxels,
        )
    syntax = dataset.file_meta.TransferSyntaxUID
    try:
        decoder = pydicom.pixels.get_decoder(syntax)
    except NotImplementedError:
        decoder = None
    if decoder is None or not decoder.is_available:
        raise _missing_decoder(part)


def _missing_decoder(part: DicomPart) -> MissingDecoderError:
    syntax = part.dataset.file_meta.TransferSyntaxUID
    return MissingDecoderError(
        N_("{name} is compressed as {syntax}, and no decoder for it is installed; it needs {package}."),
        name=part.name, syntax=getattr(syntax, "name", str(syntax)), package=DECODER_PACKAGES.get(syntax, _NO_PACKAGE),
    )


def _pixel_array(dataset: Dataset) -> np.ndarray:
    """``dataset.pixel_array`` through the preferred plugin, then any plugin if it declines."""
    syntax = dataset.file_meta.TransferSyntaxUID
    preferred = _PREFERRED_PLUGINS.get(syntax)
    if preferred and preferred in pydicom.pixels.get_decoder(syntax).available_plugins:
        try:
            dataset.pixel_array_options(decoding_plugin=preferred)
            return dataset.pixel_array
        except Exception as error:
            if "does not support" not in str(error) and "not supported" not in str(error):
                raise
        finally:
            dataset.pixel_array_options(decoding_plugin="")
    return dataset.pixel_array


def _decode(part: DicomPart) -> np.ndarray:
    """Decoded pixels as ``[frame, row, column(, sample)]``; colour is converted to RGB uint8."""
    dataset = part.dataset
    try:
        pixels = _pixel_array(dataset)
        photometric = str(dataset.get("PhotometricInterpretation", ""))
        if photometric == "PALETTE COLOR":
            pixels = pydicom.pixels.apply_color_lut(pixels, dataset)
    except BaseException as error:
        if not _is_library_failure(error):
            raise
        if "does not support" in str(error):  # every installed plugin declined this variant (e.g. 12-bit JPEG)
            raise _missing_decoder(part) from error
        raise CorruptFileError(N_("The image data in {name} cannot be decoded (damaged or truncated)."),
                               name=part.name) from error
    frames = _number_of_frames(dataset)
    colour = pixels.shape[-1] == 3 and (photometric == "PALETTE COLOR" or int(dataset.get("SamplesPerPixel", 1)) == 3)
    shape = (frames, int(dataset.Rows), int(dataset.Columns)) + ((3,) if colour else ())
    if pixels.size != int(np.prod(shape)):
        raise CorruptFileError(N_("The image data in {name} do not match its declared size."), name=part.name)
    pixels = pixels.reshape(shape)
    if colour and pixels.dtype != np.uint8:
        # Palette LUTs give 8- or 16-bit levels; true colour keeps BitsStored bits.
        bits = 16 if photometric == "PALETTE COLOR" and pixels.max() > 255 else int(dataset.get("BitsStored", 8))
        pixels = (pixels >> max(0, bits - 8)).astype(np.uint8)
    return pixels


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) else value


def _functional(dataset: Dataset, sequence: str, frame: int | None = None) -> Dataset | None:
    """An item of a functional group macro: per-frame when present, else shared, else None."""
    groups = []
    if frame is not None and "PerFrameFunctionalGroupsSequence" in dataset:
        per_frame = dataset.PerFrameFunctionalGroupsSequence
        if frame < len(per_frame):
            groups.append(per_frame[frame])
    if "SharedFunctionalGroupsSequence" in dataset and len(dataset.SharedFunctionalGroupsSequence):
        groups.append(dataset.SharedFunctionalGroupsSequence[0])
    for group in groups:
        if sequence in group and len(group[sequence].value):
            return group[sequence].value[0]
    return None


def _attribute(dataset: Dataset, keyword: str, sequence: str, frame: int | None = None) -> Any:
    """``keyword`` from the top level or from the functional group ``sequence``."""
    if keyword in dataset and dataset[keyword].value not in (None, ""):
        return dataset[keyword].value
    item = _functional(dataset, sequence, frame)
    return None if item is None else item.get(keyword)


def _rescale(dataset: Dataset, frame: int) -> tuple[float, float]:
    slope = _attribute(dataset, "RescaleSlope", "PixelValueTransformationSequence", frame)
    intercept = _attribute(dataset, "RescaleIntercept", "PixelValueTransformationSequence", frame)
    try:
        return float(slope if slope is not None else 1.0), float(intercept if intercept is not None else 0.0)
    except (TypeError, ValueError):
        return 1.0, 0.0


def _modality_values(dataset: Dataset, pixels: np.ndarray, out: np.ndarray) -> None:
    """Write rescaled float32 values of ``pixels`` ``[frame, row, column]`` into ``out``; padding -> NaN."""
    padding = dataset.get("PixelPaddingValue")
    padding_limit = dataset.get("PixelPaddingRangeLimit", padding)
    for frame in range(pixels.shape[0]):
        slope, intercept = _rescale(dataset, frame)
        np.copyto(out[frame], pixels[frame], casting="unsafe")
        if slope != 1.0:
            out[frame] *= np.float32(slope)
        if intercept:
            out[frame] += np.float32(intercept)
        if isinstance(padding, int) and isinstance(padding_limit, int):
            low, high = sorted((padding, padding_limit))
            stored = pixels[frame]
            padded = stored == low if low == high else (stored >= low) & (stored <= high)
            np.putmask(out[frame], padded, np.float32(np.nan))


def _header_window(dataset: Dataset) -> Window | None:
    """The first window in the header when its width is above 0, else None (auto window then)."""
    center = _attribute(dataset, "WindowCenter", "FrameVOILUTSequence", 0)
    width = _attribute(dataset, "WindowWidth", "FrameVOILUTSequence", 0)
    try:
        center, width = float(_first(center)), float(_first(width))
    except (TypeError, ValueError):
        return None
    if not (np.isfinite(center) and np.isfinite(width)) or width <= 0:
        return None
    return Window(center, width)


def _voi_lut(dataset: Dataset) -> VoiLut | None:
    if "VOILUTSequence" not in dataset or not len(dataset.VOILUTSequence):
        return None
    item = dataset.VOILUTSequence[0]
    try:
        entries, first_mapped, bits = (int(v) for v in item.LUTDescriptor)
        data = item.LUTData
        table = (np.frombuffer(data, dtype=np.uint16 if bits > 8 else np.uint8)
                 if isinstance(data, bytes) else np.asarray(data, dtype=np.float64).reshape(-1))
    except (AttributeError, TypeError, ValueError):
        return None
    entries = entries or 65536
    if table.size < entries or not 1 <= bits <= 16:
        return None
    return VoiLut(first_mapped, table[:entries], bits)


def _metadata(dataset: Dataset) -> ScanMetadata:
    modality = str(dataset.get("Modality", "") or "")
    unit = "HU" if modality == "CT" else str(_attribute(dataset, "RescaleType", "PixelValueTransformationSequence", 0) or "")
    return ScanMetadata(
        modality=modality,
        body_part=str(dataset.get("BodyPartExamined", "") or ""),
        study_description=str(dataset.get("StudyDescription", "") or ""),
        series_description=str(dataset.get("SeriesDescription", "") or ""),
        photometric=str(dataset.get("PhotometricInterpretation", "") or ""),
        transfer_syntax=str(getattr(dataset.file_meta.TransferSyntaxUID, "name", "")),
        value_unit=unit,
        patient_orientation=_patient_orientation(dataset),
    )


def _patient_orientation(dataset: Dataset) -> tuple[str, ...]:
    """Patient Orientation (0020,0020) as two upper-case direction codes, or () when absent or malformed."""
    value = dataset.get("PatientOrientation")
    codes = [str(v).strip().upper() for v in (value if isinstance(value, (list, tuple, MultiValue)) else [value])
             if v is not None]
    if len(codes) != 2 or not all(codes) or not all(set(c) <= set("LRAPHF") for c in codes):
        return ()
    return tuple(codes)


def _vector(value: Any, size: int) -> np.ndarray | None:
    try:
        vector = np.asarray([float(v) for v in value], float)
    except (TypeError, ValueError):
        return None
    return vector if vector.shape == (size,) and np.all(np.isfinite(vector)) else None


def _pixel_spacing(dataset: Dataset) -> tuple[float, float] | None:
    """(column spacing, row spacing) in mm; DICOM stores PixelSpacing as (row, column)."""
    spacing = _attribute(dataset, "PixelSpacing", "PixelMeasuresSequence", 0)
    spacing = _vector(spacing if spacing is not None else dataset.get("ImagerPixelSpacing"), 2)
    if spacing is None or np.any(spacing <= 0):
        return None
    return float(spacing[1]), float(spacing[0])


def _slice_thickness(dataset: Dataset) -> float:
    for keyword in ("SpacingBetweenSlices", "SliceThickness"):
        value = _attribute(dataset, keyword, "PixelMeasuresSequence", 0)
        try:
            if value is not None and float(value) > 0:
                return float(value)
        except (TypeError, ValueError):
            continue
    return 1.0


def _orientation(dataset: Dataset) -> tuple[np.ndarray, np.ndarray] | None:
    cosines = _vector(_attribute(dataset, "ImageOrientationPatient", "PlaneOrientationSequence", 0), 6)
    if cosines is None:
        return None
    row, column = cosines[:3], cosines[3:]
    if abs(np.linalg.norm(row) - 1) > 0.05 or abs(np.linalg.norm(column) - 1) > 0.05 or abs(row @ column) > 0.05:
        return None
    return row, column


@dataclass(frozen=True)
class _Stack:
    """Slices sorted along the normal: order into the input, geometry, and whether they form a volume."""

    order: list[int]
    geometry: VolumeGeometry
    is_volume: bool


def _stack(positions: list[np.ndarray | None], instance_numbers: list[int], dataset: Dataset) -> _Stack:
    """Sort slices by position along the slice normal, then instance number.

    Slices without positions, or sharing one, keep instance-number order and form frames, not a volume.
    """
    spacing = _pixel_spacing(dataset)
    orientation = _orientation(dataset)
    by_instance = sorted(range(len(positions)), key=lambda n: instance_numbers[n])
    if orientation is None or spacing is None or any(p is None for p in positions):
        spacing3 = None if spacing is None else (*spacing, _slice_thickness(dataset))
        return _Stack(by_instance, VolumeGeometry(spacing3), False)
    row, column = orientation
    normal = np.cross(row, column)
    distance = [float(p @ normal) for p in positions]
    order = sorted(range(len(positions)), key=lambda n: (distance[n], instance_numbers[n]))
    gaps = np.diff([distance[n] for n in order])
    if len(order) > 1 and np.any(gaps < 1e-4):
        spacing3 = (*spacing, _slice_thickness(dataset))
        return _Stack(by_instance, VolumeGeometry.from_dicom_plane(row, column, positions[by_instance[0]], spacing3), False)
    slice_spacing = float(np.median(gaps)) if len(order) > 1 else _slice_thickness(dataset)
    geometry = VolumeGeometry.from_dicom_plane(row, column, positions[order[0]], (*spacing, slice_spacing), normal)
    return _Stack(order, geometry, len(order) > 1)


def _instance_number(dataset: Dataset) -> int:
    try:
        return int(dataset.get("InstanceNumber", 0) or 0)
    except (TypeError, ValueError):
        return 0


def _allocate(shape: tuple[int, ...], name: str) -> np.ndarray:
    try:
        return np.empty(shape, dtype=np.float32)
    except MemoryError as error:
        raise ImageTooLargeError(N_("There is not enough memory to open {name} ({size} values)."),
                                 name=name, size="x".join(map(str, shape))) from error


def check_image_data(dataset: Dataset, name: str, limits: IntakeLimits) -> None:
    """Decode the image data of one parsed DICOM instance as opening it would, keeping nothing.

    Raises the ``ScanError`` opening would: ``CorruptFileError`` for damaged or truncated image data,
    ``MissingDecoderError``, ``ImageTooLargeError``, ``NoPixelDataError``.
    """
    part = DicomPart(name, dataset)
    _check_decodable(part, limits)
    _decode(part)


def scan_from_dicom_file(part: DicomPart, limits: IntakeLimits) -> Scan:
    """A single DICOM file: one picture, a frame stack (cine), or an enhanced multi-frame volume."""
    _check_decodable(part, limits)
    dataset = part.dataset
    pixels = _decode(part)
    frames = pixels.shape[0]
    colour = pixels.ndim == 4
    per_frame = dataset.get("PerFrameFunctionalGroupsSequence")
    positions = [None] * frames
    if per_frame is not None and len(per_frame) == frames:
        positions = [_vector((_functional(dataset, "PlanePositionSequence", n) or Dataset()).get("ImagePositionPatient"), 3)
                     for n in range(frames)]
    elif frames == 1:
        positions = [_vector(dataset.get("ImagePositionPatient"), 3)]
    stack = _stack(positions, list(range(frames)), dataset)
    if not colour:
        values = _allocate(pixels.shape, part.name)
        _modality_values(dataset, pixels, values)
        pixels = values
    # Modality values are a fresh array: reorder (a full copy) only when out of order. Colour
    # pixels may be pydicom's own cached array, so they are always copied.
    if colour or stack.order != list(range(frames)):
        pixels = pixels[stack.order]
    if stack.is_volume:
        kind, voxels = ScanKind.VOLUME, pixels[None]
    elif frames > 1:
        kind, voxels = ScanKind.FRAMES, pixels[:, None]
    else:
        kind, voxels = ScanKind.IMAGE, pixels[None]
    multi_frame = "NumberOfFrames" in dataset
    sources = tuple(_source_instance(dataset, n + 1 if multi_frame else None) for n in stack.order)
    return _scan("dicom", kind, voxels, stack.geometry, dataset, colour, sources)


def _source_instance(dataset: Dataset, frame_number: int | None) -> SourceInstance:
    return SourceInstance(str(dataset.get("SOPClassUID", "") or ""), str(dataset.get("SOPInstanceUID", "") or ""),
                          frame_number)


def _scan(
    format_name: str, kind: ScanKind, voxels: np.ndarray, geometry: VolumeGeometry, header: Dataset, colour: bool,
    sources: tuple[SourceInstance, ...], loading: SliceLoading | None = None,
) -> Scan:
    """A ``Scan`` whose display and export facts (window, VOI LUT, inversion, header) come from ``header``."""
    return Scan(
        format=format_name,
        kind=kind,
        voxels=voxels,
        geometry=geometry,
        metadata=_metadata(header),
        header_window=None if colour else _header_window(header),
        voi_lut=None if colour else _voi_lut(header),
        invert=str(header.get("PhotometricInterpretation", "")) == "MONOCHROME1",
        dicom_header=_header_only(header),
        source_instances=sources,
        loading=loading,
    )


def _header_only(dataset: Dataset) -> Dataset:
    header = Dataset()
    header.update({tag: element for tag, element in dataset.items() if tag != 0x7FE00010})
    header.file_meta = dataset.file_meta
    return header


def scan_from_dicom_series(parts: list[DicomPart], limits: IntakeLimits, background: bool = False) -> Scan:
    """Several single-frame DICOM files of one series, sorted into a volume (or frames).

    All files must share rows, columns and photometric interpretation. Headers are checked and sorted
    first; then every slice is decoded, or, with ``background``, only the middle one (the picture shown
    first) while a thread decodes the rest (``Scan.loading``).
    """
    first = parts[0].dataset
    for part in parts:
        _check_decodable(part, limits, files=len(parts))
        dataset = part.dataset
        if (dataset.Rows, dataset.Columns) != (first.Rows, first.Columns) or _number_of_frames(dataset) != 1:
            raise SeriesMismatchError(
                N_("{name} does not match the other files of the series (image size or number of frames differ)."),
                name=part.name,
            )
    reference_orientation = _orientation(first)
    for part in parts:
        orientation = _orientation(part.dataset)
        if (orientation is None) != (reference_orientation is None) or (
            orientation is not None and not np.allclose(np.concatenate(orientation), np.concatenate(reference_orientation), atol=1e-3)
        ):
            raise SeriesMismatchError(
                N_("{name} is oriented differently from the other files of the series (e.g. a localizer); open it on its own."),
                name=part.name,
            )
    positions = [_vector(p.dataset.get("ImagePositionPatient"), 3) for p in parts]
    stack = _stack(positions, [_instance_number(p.dataset) for p in parts], first)
    colour = int(first.get("SamplesPerPixel", 1) or 1) == 3 or first.get("PhotometricInterpretation") == "PALETTE COLOR"
    shape = (len(parts), int(first.Rows), int(first.Columns))
    voxels = np.empty(shape + (3,), np.uint8) if colour else _allocate(shape, parts[0].name)
    reference = parts[stack.order[0]]
    if background:  # its header is the scan's (export, de-identification): checked whole now
        check_all_elements(reference.dataset, reference.name)
    sources = tuple(_source_instance(parts[index].dataset, None) for index in stack.order)
    ordered = [parts[index] for index in stack.order]
    loading = SliceLoading(len(parts), _slice_decoder(ordered, voxels, colour, check_elements=background))
    if background:
        loading.wait_for([len(parts) // 2])
        loading.start(first=len(parts) // 2)
    else:
        loading.wait_for()
    kind = ScanKind.VOLUME if stack.is_volume else ScanKind.FRAMES
    return _scan("dicom-series", kind, voxels[None] if kind is ScanKind.VOLUME else voxels[:, None], stack.geometry,
                 reference.dataset, colour, sources, loading if background else None)


def _slice_decoder(ordered: list[DicomPart], voxels: np.ndarray, colour: bool,
                   check_elements: bool) -> Callable[[int], None]:
    """``decode(slot)``: the file of stored slice ``slot`` decoded into ``voxels[slot]`` (its elements
    checked first with ``check_elements``); its encoded pixels are let go once decoded. A slice that
    cannot be decoded becomes padding (NaN, black for colour), so passes over the whole volume
    (automatic window) skip it."""
    pending: list[DicomPart | None] = list(ordered)

    def decode(slot: int) -> None:
        part = pending[slot]
        pending[slot] = None
        try:
            if check_elements:
                check_all_elements(part.dataset, part.name)
            pixels = _decode(part)
            if pixels.shape[1:] != voxels.shape[1:]:
                raise SeriesMismatchError(
                    N_("{name} does not match the other files of the series (image size or number of frames differ)."),
                    name=part.name,
                )
        except ScanError:
            voxels[slot] = 0 if colour else np.nan
            raise
        if colour:
            voxels[slot] = pixels[0]
        else:
            _modality_values(part.dataset, pixels, voxels[slot : slot + 1])
    return decode


def parse_dicom_bytes(data: bytes, name: str) -> Dataset:
    """``parse_dicom`` for in-memory content (zip members)."""
    return parse_dicom(io.BytesIO(data), name)
