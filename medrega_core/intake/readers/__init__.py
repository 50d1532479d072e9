"""Reader registry and ``open_scan``: which backend opens which input.

Each ``Reader`` names the packages it needs, so a missing backend's error can say what to install.
Detection trusts content over names: zip and DICOM are recognised by their magic bytes, pictures by
Pillow, volumes by their file name ending (their headers vary too much to sniff reliably).
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from medrega_core.errors import N_
from medrega_core.intake.errors import (
    ImageTooLargeError,
    MissingDataFileError,
    MissingDecoderError,
    MultipleSeriesError,
    NoImagesError,
    ScanError,
    SeriesChoice,
    SeriesMismatchError,
    TooManyFilesError,
    UnsupportedFormatError,
)
from medrega_core.intake.limits import DEFAULT_LIMITS, IntakeLimits
from medrega_core.intake.readers.archive import is_zip, read_zip_members
from medrega_core.intake.readers.dicom import (
    DicomPart,
    check_all_elements,
    check_image_data,
    parse_dicom,
    parse_dicom_bytes,
    scan_from_dicom_file,
    scan_from_dicom_series,
)
from medrega_core.intake.readers.raster import scan_from_picture
from medrega_core.intake.readers.volume import VOLUME_SUFFIXES, data_file_names, scan_from_volume_file
from medrega_core.intake.scan import Scan

__all__ = ["Reader", "READERS", "open_scan", "check_image_data"]

_PICTURE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"BM", b"II*\x00", b"MM\x00*")
_PICTURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


@dataclass(frozen=True)
class Reader:
    """One backend.

    Attributes
    ----------
    name:
        Shown in messages.
    packages:
        Import names the backend needs, with the pip name to install.
    """

    name: str
    packages: tuple[tuple[str, str], ...]

    def is_available(self) -> bool:
        return all(importlib.util.find_spec(module) is not None for module, _ in self.packages)

    def require(self) -> None:
        """Raise ``MissingDecoderError`` naming the pip packages when a dependency is absent."""
        if not self.is_available():
            raise MissingDecoderError(
                N_("Reading {reader} needs the package {package}, which is not installed."),
                reader=self.name, package=" ".join(pip for _, pip in self.packages),
            )


READERS: dict[str, Reader] = {
    "dicom": Reader("DICOM", (("pydicom", "pydicom"),)),
    "picture": Reader("PNG/JPEG/BMP/TIFF", (("PIL", "pillow"),)),
    "volume": Reader("NIfTI/NRRD/MetaImage", (("SimpleITK", "SimpleITK"), ("nibabel", "nibabel"))),
}


def _volume_format(path: Path) -> str | None:
    name = path.name.lower()
    return next((fmt for suffix, fmt in VOLUME_SUFFIXES.items() if name.endswith(suffix)), None)


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(132)


@dataclass(frozen=True)
class _Input:
    path: Path
    found_in_folder: bool  # such files may be skipped when they are not DICOM (READMEs, thumbnails)


def _expand(paths: Sequence[str | os.PathLike], limits: IntakeLimits) -> list[_Input]:
    """Input paths with folders replaced by the files under them, checked to exist and fit the limits."""
    files: list[_Input] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            # Stop listing one past the limit: a huge folder is refused without walking all of it.
            found = itertools.islice((p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")),
                                     limits.max_files + 1)
            files.extend(_Input(p, True) for p in sorted(found))
        elif path.is_file():
            files.append(_Input(path, False))
        else:
            raise NoImagesError(N_("The file {name} does not exist or cannot be read."), name=path.name)
        if len(files) > limits.max_files:
            raise TooManyFilesError(
                N_("Too many files ({count}); at most {limit} can be opened at once."),
                count=len(files), limit=limits.max_files,
            )
    if not files:
        raise NoImagesError(N_("No file was given."))
    for path in (item.path for item in files):
        if path.stat().st_size > limits.max_file_bytes:
            raise ImageTooLargeError(
                N_("The file {name} is {size} MB, over the limit of {limit} MB."),
                name=path.name, size=path.stat().st_size // 1_000_000, limit=limits.max_file_bytes // 1_000_000,
            )
    return files


def _open_single(path: Path, limits: IntakeLimits, series_uid: str | None, background: bool) -> Scan:
    head = _head(path)
    if head.startswith(b"PK\x03\x04"):
        READERS["dicom"].require()
        members = read_zip_members(str(path), path.name, limits)
        parts = []
        for member, data in members:
            try:
                parts.append(DicomPart(Path(member).name, parse_dicom_bytes(data, Path(member).name)))
            except UnsupportedFormatError:
                continue  # READMEs and other non-DICOM members of a series zip are left out
        if not parts:
            raise NoImagesError(N_("The zip file {name} contains no DICOM images."), name=path.name)
        return _open_dicom_parts(parts, limits, series_uid, background)
    if _volume_format(path) is not None:
        return _open_volume(path, [], limits)
    if head[128:132] == b"DICM":
        READERS["dicom"].require()
        return _open_dicom_parts([DicomPart(path.name, parse_dicom(str(path), path.name))], limits, series_uid)
    if head.startswith(_PICTURE_MAGIC) or path.suffix.lower() in _PICTURE_SUFFIXES:
        READERS["picture"].require()
        return scan_from_picture(str(path), path.name, limits)
    READERS["dicom"].require()  # DICOM without preamble, or nothing we read
    try:
        dataset = parse_dicom(str(path), path.name)
    except UnsupportedFormatError as error:
        raise UnsupportedFormatError(
            N_("The file {name} is not a picture, DICOM file or volume that can be opened."), name=path.name
        ) from error
    return _open_dicom_parts([DicomPart(path.name, dataset)], limits, series_uid)


def _data_files(header: Path, given: Sequence[Path]) -> dict[str, Path]:
    """Each data file ``header`` names (as written in it) -> the file holding it: one of ``given``
    with that name, else the file beside the header. A name that leaves the header's folder is refused."""
    found = {}
    for name in data_file_names(str(header), _volume_format(header)):
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise UnsupportedFormatError(
                N_("The volume header {name} points to a data file outside its folder; this is not opened."),
                name=header.name)
        match = next((p for p in given if p.name == relative.name), header.parent / relative)
        if not match.is_file():
            raise MissingDataFileError(
                N_("The volume header {name} keeps its pixels in {data}, which is missing: "
                   "upload {data} together with {name}."), name=header.name, data=relative.name)
        found[name] = match
    return found


def _open_volume(header: Path, given: Sequence[Path], limits: IntakeLimits) -> Scan:
    """A volume file, or a volume header with the data files it names (beside it or among ``given``:
    a browser upload puts every file into a folder of its own). Such files are linked into one
    temporary folder under the names the header uses, so the reader finds them and nothing else."""
    READERS["volume"].require()
    volume_format = _volume_format(header)
    data = _data_files(header, given)
    if all(path == header.parent / name for name, path in data.items()):
        return scan_from_volume_file(str(header), header.name, volume_format, limits)
    with tempfile.TemporaryDirectory(prefix="medrega-volume-") as folder:
        linked = Path(folder) / header.name
        os.symlink(header.resolve(), linked)
        for name, path in data.items():
            (Path(folder) / name).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(path.resolve(), Path(folder) / name)
        return scan_from_volume_file(str(linked), header.name, volume_format, limits)


def _volume_with_data(paths: list[Path]) -> Path | None:
    """The volume header among ``paths`` when the other paths are exactly the data files it names."""
    headers = [p for p in paths if _volume_format(p) is not None]
    if len(headers) != 1:
        return None
    names = {Path(name).name for name in data_file_names(str(headers[0]), _volume_format(headers[0]))}
    return headers[0] if names and {p.name for p in paths if p != headers[0]} <= names else None


def _series_uid(part: DicomPart) -> str:
    return str(part.dataset.get("SeriesInstanceUID", "") or "")


def _dicom_date(value: object) -> str:
    """A DICOM DA value (``YYYYMMDD``) as ``YYYY-MM-DD``; empty when absent or malformed."""
    text = str(value or "").strip()
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) == 8 and text.isdigit() else ""


def _series_choice(uid: str, group: list[DicomPart]) -> SeriesChoice:
    """How a series is offered to the user: its own header words, never patient identifiers."""
    ds = group[0].dataset
    number = ds.get("SeriesNumber", "")
    return SeriesChoice(uid, str(ds.get("SeriesDescription", "") or ""), str(ds.get("Modality", "") or ""),
                        len(group), number=str(number) if number not in (None, "") else "",
                        date=_dicom_date(ds.get("SeriesDate", "")) or _dicom_date(ds.get("StudyDate", "")))


def _open_dicom_parts(parts: list[DicomPart], limits: IntakeLimits, series_uid: str | None,
                      background: bool = False) -> Scan:
    """Pick one series from ``parts`` and open it: one file directly, several as a stack."""
    series: dict[str, list[DicomPart]] = {}
    for part in parts:
        if "PixelData" in part.dataset or len(parts) == 1:
            series.setdefault(_series_uid(part), []).append(part)
    if not series:
        raise NoImagesError(N_("None of the {count} DICOM files contains an image."), count=len(parts))
    if series_uid is not None:
        if series_uid not in series:
            raise SeriesMismatchError(N_("The series {uid} is not among the files."), uid=series_uid)
        chosen = series[series_uid]
    elif len(series) > 1:
        choices = [_series_choice(uid, group) for uid, group in series.items()]
        raise MultipleSeriesError(sorted(choices, key=lambda c: (-c.count, c.description, c.uid)))
    else:
        chosen = next(iter(series.values()))
    if len(chosen) == 1:
        return scan_from_dicom_file(chosen[0], limits)
    return scan_from_dicom_series(chosen, limits, background)


def open_scan(
    paths: Sequence[str | os.PathLike] | str | os.PathLike,
    *,
    series_uid: str | None = None,
    limits: IntakeLimits = DEFAULT_LIMITS,
    background: bool = False,
) -> Scan:
    """Open a picture, a DICOM file, a DICOM series (files, a folder or one zip) or a volume file.

    Parameters
    ----------
    paths:
        One path or several; folders are searched recursively. Several paths must all be DICOM
        files (one series, or a choice among several), or a volume header with the data files it names.
    series_uid:
        Which series to open when the inputs hold several (see ``MultipleSeriesError.choices``).
    limits:
        Size limits checked before decoding.
    background:
        A series of DICOM files returns once its headers are sorted and its middle slice decoded;
        a thread decodes the other slices (``Scan.loading``; pictures wait for the slices they need).

    Returns
    -------
    Scan

    Raises
    ------
    ScanError
        A subclass naming the problem: ``UnsupportedFormatError``, ``CorruptFileError``,
        ``NoPixelDataError``, ``MissingDecoderError``, ``ImageTooLargeError``,
        ``UnsafeArchiveError``, ``TooManyFilesError``, ``ArchiveTooLargeError``,
        ``MultipleSeriesError``, ``SeriesMismatchError``, ``NoImagesError``.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files = _expand(paths, limits)
    if len(files) == 1:
        return _open_single(files[0].path, limits, series_uid, background)
    header = _volume_with_data([item.path for item in files])
    if header is not None:
        return _open_volume(header, [item.path for item in files if item.path != header], limits)
    READERS["dicom"].require()
    parts = []
    for item in files:
        path = item.path
        try:
            if is_zip(str(path)) or _volume_format(path) is not None:
                raise UnsupportedFormatError(
                    N_("Several files can only be opened together when they are DICOM files; {name} is not."),
                    name=path.name,
                )
            # In the background each file's elements are checked as its slice is decoded.
            parts.append(DicomPart(path.name, parse_dicom(str(path), path.name, check_elements=not background)))
        except UnsupportedFormatError:
            if not item.found_in_folder:
                raise
    if not parts:
        raise NoImagesError(N_("No DICOM file was found among the {count} files."), count=len(files))
    if not background:
        return _open_dicom_parts(parts, limits, series_uid)
    try:
        return _open_dicom_parts(parts, limits, series_uid, background=True)
    except ScanError:
        raise
    except Exception:  # a damaged element read while sorting (the others are checked later): name its file
        for part in parts:
            check_all_elements(part.dataset, part.name)
        raise
