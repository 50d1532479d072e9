"""A case's scan files, stored de-identified.

Every DICOM file goes through :func:`medrega_core.intake.deid.deidentify` (the export's PS3.15 basic
profile, private tags removed), all files of a case with one seed so that they still form one series;
a zip is unpacked (with the intake's checks) and only the chosen series is kept. Pictures and volume
files carry no DICOM header and are stored as uploaded.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Iterator, Sequence

from medrega_core.errors import N_
from medrega_core.intake import DEFAULT_LIMITS, NoImagesError, UnsupportedFormatError
from medrega_core.intake.deid import deidentify
from medrega_core.intake.readers.archive import is_zip, read_zip_members
from medrega_core.intake.readers.dicom import parse_dicom_bytes


def _contents(paths: Sequence[Path]) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every input file: folders walked, zips unpacked."""
    for path in paths:
        if path.is_dir():
            for inner in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
                yield inner.name, inner.read_bytes()
        elif is_zip(str(path)):
            for member, data in read_zip_members(str(path), path.name, DEFAULT_LIMITS):
                yield Path(member).name, data
        else:
            yield path.name, path.read_bytes()


def _suffix(name: str) -> str:
    """The file's type suffix (``.nii.gz`` kept whole: the volume reader goes by it)."""
    lowered = name.lower()
    for double in (".nii.gz", ".nrrd.gz"):
        if lowered.endswith(double):
            return double
    return Path(lowered).suffix


def store_deidentified(paths: Sequence[str | Path], folder: Path, series_uid: str | None = None) -> list[str]:
    """Copy a scan's files into ``folder`` (created), DICOM de-identified; returns the stored names.

    ``series_uid`` keeps only that series of an upload holding several. Non-DICOM files are kept
    only when the upload is a single file (several files open only as a DICOM series)."""
    folder.mkdir(parents=True, exist_ok=True)
    seed = secrets.token_hex(16)
    stored: list[str] = []
    others: list[tuple[str, bytes]] = []
    for name, data in _contents([Path(p) for p in paths]):
        try:
            dataset = parse_dicom_bytes(data, name)
        except UnsupportedFormatError:
            others.append((name, data))
            continue
        if series_uid and str(dataset.get("SeriesInstanceUID", "")) != series_uid:
            continue
        target = f"{len(stored):05d}.dcm"
        deidentify(dataset, seed=seed).save_as(folder / target, enforce_file_format=False)
        stored.append(target)
    if not stored and len(others) == 1:
        name, data = others[0]
        target = "scan" + _suffix(name)
        (folder / target).write_bytes(data)
        stored.append(target)
    if not stored:
        raise NoImagesError(N_("No file was given."))
    return stored
