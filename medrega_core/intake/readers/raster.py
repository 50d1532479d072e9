"""Plain pictures (PNG, JPEG, BMP, TIFF) through Pillow.

Reader boundary: Pillow gives ``[row, column(, channel)]``; the scan gets ``[1, 1, row, column]``
grey float32 or ``[1, 1, row, column, 3]`` RGB uint8. No patient frame and no spacing.
"""

from __future__ import annotations

import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from medrega_core.errors import N_
from medrega_core.intake.errors import CorruptFileError, ImageTooLargeError, UnsupportedFormatError
from medrega_core.intake.geometry import VolumeGeometry
from medrega_core.intake.limits import IntakeLimits
from medrega_core.intake.scan import Scan, ScanKind, ScanMetadata
from medrega_core.intake.windowing import Window

__all__ = ["RASTER_FORMATS", "scan_from_picture"]

#: Pillow format name -> scan format name.
RASTER_FORMATS = {"PNG": "png", "JPEG": "jpeg", "BMP": "bmp", "TIFF": "tiff"}
#: The full range of an 8-bit grey picture, offered as its "header" window.
_EIGHT_BIT_RANGE = Window(127.5, 255.0)
_WIDE_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_GREY_MODES = {"L", "LA", "1"} | _WIDE_MODES


def scan_from_picture(path: str, name: str, limits: IntakeLimits) -> Scan:
    """Open a PNG/JPEG/BMP/TIFF; grey pictures keep their values, others become RGB.

    Raises
    ------
    CorruptFileError
        Not a readable picture despite its extension, or truncated.
    ImageTooLargeError
        Over ``limits.max_pixels`` (decompression bombs included).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as picture:
                if picture.format not in RASTER_FORMATS:
                    raise UnsupportedFormatError(
                        N_("The file {name} is a {kind} picture, which is not supported; use PNG, JPEG, BMP or TIFF."),
                        name=name, kind=str(picture.format),
                    )
                if picture.width * picture.height > limits.max_pixels:
                    raise ImageTooLargeError(
                        N_("The image in {name} is too large ({size}); the limit is {limit} pixels."),
                        name=name, size=f"{picture.width}x{picture.height}", limit=limits.max_pixels,
                    )
                picture.load()
                file_format = RASTER_FORMATS[picture.format]
                pixels, grey = _pixels(picture)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageTooLargeError(
            N_("The image in {name} is too large ({size}); the limit is {limit} pixels."),
            name=name, size="?", limit=limits.max_pixels,
        ) from error
    except UnidentifiedImageError as error:
        raise CorruptFileError(N_("The file {name} is not a readable image."), name=name) from error
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise CorruptFileError(N_("The image in {name} is damaged or truncated."), name=name) from error
    header_window = _EIGHT_BIT_RANGE if grey and pixels.max(initial=0) <= 255 and picture.mode not in _WIDE_MODES else None
    return Scan(
        format=file_format,
        kind=ScanKind.IMAGE,
        voxels=pixels[None, None],
        geometry=VolumeGeometry(),
        metadata=ScanMetadata(photometric="MONOCHROME2" if grey else "RGB"),
        header_window=header_window,
    )


def _pixels(picture: Image.Image) -> tuple[np.ndarray, bool]:
    """``(pixels, is_grey)``: grey float32 ``[row, column]`` or RGB uint8 ``[row, column, 3]``."""
    if picture.mode in _GREY_MODES:
        grey = picture.convert("L") if picture.mode in ("LA", "1") else picture
        return np.asarray(grey).astype(np.float32), True
    rgb = np.ascontiguousarray(np.asarray(picture.convert("RGB"), dtype=np.uint8))
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
        return rgb[..., 0].astype(np.float32), True  # grey stored as RGB or as a grey palette
    return rgb, False
