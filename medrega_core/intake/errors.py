"""Scan intake errors: one class per kind of bad input, each with a translatable message.

Messages name the file by its base name only and never quote header values, so no patient
identifier can reach a log or the screen through them.
"""

from __future__ import annotations

from dataclasses import dataclass

from medrega_core.errors import N_, ScanError

__all__ = [
    "ScanError",
    "UnsupportedFormatError",
    "CorruptFileError",
    "NoPixelDataError",
    "MissingDecoderError",
    "ImageTooLargeError",
    "UnsafeArchiveError",
    "TooManyFilesError",
    "ArchiveTooLargeError",
    "SeriesMismatchError",
    "NoImagesError",
    "MultipleSeriesError",
    "SeriesChoice",
    "InvalidViewError",
]


class UnsupportedFormatError(ScanError):
    """The file is not an image, DICOM or volume format this program reads."""


class CorruptFileError(ScanError):
    """The file claims a known format but cannot be parsed or decoded (truncated, damaged)."""


class NoPixelDataError(ScanError):
    """A DICOM file without an image (a report, a structured document, a DICOMDIR)."""


class MissingDecoderError(ScanError):
    """The DICOM transfer syntax needs a decoder package that is not installed."""


class ImageTooLargeError(ScanError):
    """The picture or volume is over the size limit (also catches decompression bombs)."""


class UnsafeArchiveError(ScanError):
    """A zip member would be written outside the archive folder, or the zip is unreadable."""


class TooManyFilesError(ScanError):
    """More files than ``IntakeLimits.max_files``."""


class ArchiveTooLargeError(ScanError):
    """The uncompressed size of a zip is over ``IntakeLimits.max_uncompressed_bytes``."""


class SeriesMismatchError(ScanError):
    """Files of one series disagree (size, frames) or a requested series is absent."""


class NoImagesError(ScanError):
    """Nothing to open: no paths, or a folder or zip without readable images."""


class MissingDataFileError(ScanError):
    """A volume header (MetaImage .mhd/.mha, NRRD .nhdr) names a data file that was not given."""


class InvalidViewError(ScanError):
    """A view asks for a plane, slice, frame, time point or window the scan does not have."""


@dataclass(frozen=True)
class SeriesChoice:
    """One DICOM series offered to the user when a file set holds several.

    Attributes
    ----------
    uid:
        SeriesInstanceUID, to pass back as ``open_scan(..., series_uid=uid)``.
    description:
        SeriesDescription (may be empty).
    modality:
        DICOM Modality, e.g. ``"CT"``.
    count:
        Number of image files in the series.
    number:
        SeriesNumber as written in the file (may be empty).
    date:
        SeriesDate, else StudyDate, as ``YYYY-MM-DD`` (empty when absent or malformed).
    """

    uid: str
    description: str
    modality: str
    count: int
    number: str = ""
    date: str = ""


class MultipleSeriesError(ScanError):
    """The files hold several series; ``choices`` lists them, largest first."""

    def __init__(self, choices: list[SeriesChoice]) -> None:
        super().__init__(
            N_("The files contain {count} series. Choose one of them."), count=len(choices)
        )
        self.choices = choices
