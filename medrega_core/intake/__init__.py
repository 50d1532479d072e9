"""Scan intake: open DICOM, pictures and volumes, and render them as radiologists' viewers do.

``open_scan(paths) -> Scan`` reads; ``render(scan, view) -> Rendering`` gives the one 8-bit RGB
picture that the user sees and the model receives, with its ``SliceGeometry``.
"""

from medrega_core.intake.errors import (
    ArchiveTooLargeError,
    CorruptFileError,
    ImageTooLargeError,
    InvalidViewError,
    MissingDataFileError,
    MissingDecoderError,
    MultipleSeriesError,
    NoImagesError,
    NoPixelDataError,
    ScanError,
    SeriesChoice,
    SeriesMismatchError,
    TooManyFilesError,
    UnsafeArchiveError,
    UnsupportedFormatError,
)
from medrega_core.intake.geometry import SliceGeometry, VolumeGeometry
from medrega_core.intake.limits import DEFAULT_LIMITS, IntakeLimits
from medrega_core.intake.readers import READERS, Reader, check_image_data, open_scan
from medrega_core.intake.render import (
    PictureFrame, PictureValues, Rendering, picture_frame, picture_values, render, resolve_window, window_picture,
)
from medrega_core.intake.scan import Plane, Scan, ScanInfo, ScanKind, ScanMetadata, SourceInstance, View
from medrega_core.intake.windowing import CT_PRESETS, VoiLut, Window, WindowPreset

__all__ = [
    "open_scan", "check_image_data", "render", "resolve_window",
    "Scan", "ScanInfo", "ScanKind", "ScanMetadata", "SourceInstance", "View", "Plane", "Rendering",
    "SliceGeometry", "VolumeGeometry", "Window", "WindowPreset", "VoiLut", "CT_PRESETS",
    "IntakeLimits", "DEFAULT_LIMITS", "Reader", "READERS",
    "ScanError", "UnsupportedFormatError", "CorruptFileError", "NoPixelDataError", "MissingDecoderError",
    "ImageTooLargeError", "MissingDataFileError", "UnsafeArchiveError", "TooManyFilesError", "ArchiveTooLargeError",
    "SeriesMismatchError", "NoImagesError", "InvalidViewError", "MultipleSeriesError", "SeriesChoice",
]
