"""Volume files: NIfTI, NRRD and MetaImage through SimpleITK, NIfTI through nibabel as fallback.

Reader boundary: SimpleITK is LPS and its arrays are ``[t, z, y, x]`` already (no flip); nibabel
is RAS with ``[x, y, z, t]`` arrays, so its data are transposed to ``[t, z, y, x]`` and its affine's
x and y rows change sign. nibabel reads what SimpleITK refuses, e.g. non-orthonormal NIfTI.
NIfTI's cal_min/cal_max display range, when set, is the scan's header window.
"""

from __future__ import annotations

import numpy as np

from medrega_core.errors import N_
from medrega_core.intake.errors import CorruptFileError, ImageTooLargeError, ScanError, UnsupportedFormatError
from medrega_core.intake.geometry import VolumeGeometry
from medrega_core.intake.limits import IntakeLimits
from medrega_core.intake.scan import Scan, ScanKind, ScanMetadata
from medrega_core.intake.windowing import Window

__all__ = ["VOLUME_SUFFIXES", "scan_from_volume_file", "data_file_names"]

#: File name ending -> scan format name.
VOLUME_SUFFIXES = {".nii": "nifti", ".nii.gz": "nifti", ".nrrd": "nrrd", ".nhdr": "nrrd", ".mha": "metaimage", ".mhd": "metaimage"}
#: Header fields naming the file(s) that hold the voxels, per format; the value LOCAL (MetaImage)
#: means the voxels follow the header in the same file, LIST that the names follow on the next lines.
_DATA_FILE_KEYS = {"metaimage": ("elementdatafile",), "nrrd": ("data file", "datafile")}
#: Headers are text and short; the voxels of an attached header follow it.
_HEADER_BYTES = 65536


def data_file_names(path: str, file_format: str) -> tuple[str, ...]:
    """The data files a volume header names for its voxels, as written in it (relative to the header);
    empty when the voxels are in the file itself (NIfTI, attached NRRD, MetaImage ``LOCAL``) or the
    header names them by a numbered pattern (SimpleITK resolves those)."""
    keys = _DATA_FILE_KEYS.get(file_format)
    if keys is None:
        return ()
    with open(path, "rb") as handle:
        lines = handle.read(_HEADER_BYTES).decode("latin-1").splitlines()
    separator = "=" if file_format == "metaimage" else ":"
    for index, line in enumerate(lines):
        key, found, value = line.partition(separator)
        if not found or key.strip().lower() not in keys:
            continue
        value = value.strip()
        if value.upper() == "LOCAL" or "%" in value:
            return ()
        if value.split()[:1] == ["LIST"]:
            return tuple(name.strip() for name in lines[index + 1:] if name.strip())
        return (value,)
    return ()


def _check_size(shape: tuple[int, ...], name: str, limits: IntakeLimits) -> None:
    if int(np.prod(shape, dtype=np.int64)) > limits.max_voxels:
        raise ImageTooLargeError(
            N_("The image in {name} is too large ({size}); the limit is {limit} pixels."),
            name=name, size="x".join(map(str, shape)), limit=limits.max_voxels,
        )


def _display_range(minimum: object, maximum: object) -> Window | None:
    """NIfTI's cal_min/cal_max display range as a window, when it is a real range (max > min)."""
    try:
        low, high = float(minimum), float(maximum)
    except (TypeError, ValueError):
        return None
    return Window((low + high) / 2.0, high - low) if np.isfinite(low) and np.isfinite(high) and high > low else None


def _read_sitk(path: str, name: str, limits: IntakeLimits) -> tuple[np.ndarray, VolumeGeometry, Window | None]:
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(path)
    reader.ReadImageInformation()
    size = reader.GetSize()
    if reader.GetNumberOfComponents() != 1:
        raise UnsupportedFormatError(
            N_("The volume {name} has {count} values per voxel; only single-valued volumes are supported."),
            name=name, count=reader.GetNumberOfComponents(),
        )
    _check_size(tuple(size), name, limits)
    keys = set(reader.GetMetaDataKeys())
    window = _display_range(reader.GetMetaData("cal_min"), reader.GetMetaData("cal_max")) if {"cal_min", "cal_max"} <= keys else None
    image = reader.Execute()
    array = sitk.GetArrayFromImage(image).astype(np.float32, copy=False)
    return array, VolumeGeometry.from_sitk_image(image), window


def _read_nibabel(path: str, name: str, limits: IntakeLimits) -> tuple[np.ndarray, VolumeGeometry, Window | None]:
    import nibabel

    image = nibabel.load(path)
    _check_size(tuple(image.shape), name, limits)
    data = np.asarray(image.dataobj, dtype=np.float32)
    if data.ndim > 4:
        raise UnsupportedFormatError(
            N_("The volume {name} has {count} dimensions; at most 4 (x, y, z, time) are supported."),
            name=name, count=data.ndim,
        )
    header = image.header
    window = _display_range(header.get("cal_min"), header.get("cal_max")) if "cal_max" in header else None
    return data.T, VolumeGeometry.from_ras_affine(image.affine), window


def scan_from_volume_file(path: str, name: str, file_format: str, limits: IntakeLimits) -> Scan:
    """Open a NIfTI (3-D or 4-D), NRRD or MetaImage volume as ``[t, z, y, x]`` float32.

    Raises
    ------
    CorruptFileError
        Neither SimpleITK nor (for NIfTI) nibabel can read it.
    ImageTooLargeError
        Over ``limits.max_voxels``.
    """
    try:
        array, geometry, header_window = _read_sitk(path, name, limits)
    except RuntimeError as sitk_error:
        if file_format != "nifti":
            raise CorruptFileError(N_("The volume file {name} is damaged or cannot be read."), name=name) from sitk_error
        try:
            array, geometry, header_window = _read_nibabel(path, name, limits)
        except ScanError:
            raise
        except Exception as error:  # nibabel raises many types (ImageFileError, HeaderDataError, ...) on damaged files
            raise CorruptFileError(N_("The volume file {name} is damaged or cannot be read."), name=name) from error
    array = array.reshape((1,) * (4 - array.ndim) + array.shape)
    kind = ScanKind.VOLUME if array.shape[1] > 1 else ScanKind.IMAGE
    return Scan(
        format=file_format,
        kind=kind,
        voxels=np.ascontiguousarray(array),
        geometry=geometry,
        metadata=ScanMetadata(photometric="MONOCHROME2"),
        header_window=header_window,
    )
