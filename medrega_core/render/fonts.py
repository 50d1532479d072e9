"""Finding a font that draws Chinese: OpenCV cannot, so labels go through Pillow with a CJK font."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from PIL import ImageFont

from medrega_core.errors import N_, MedRegAError

#: Debian's fonts-wqy-microhei, the fallback when the bundled Noto Sans SC package is missing.
WQY_MICROHEI = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


class OverlayError(MedRegAError):
    """An overlay could not be drawn."""


class FontNotFoundError(OverlayError):
    """No font able to draw Chinese labels is installed."""


def default_font_candidates() -> list[Path]:
    """Fonts to try, best first: the bundled Noto Sans SC (OFL-1.1), then WenQuanYi Micro Hei."""
    candidates: list[Path] = []
    try:
        import pylopdf_fonts_zh_cn

        candidates.append(Path(pylopdf_fonts_zh_cn.sans_path()))
    except ImportError:
        pass
    candidates.append(WQY_MICROHEI)
    return candidates


def find_cjk_font(candidates: Sequence[Path] | None = None) -> Path:
    """The first existing font of ``candidates`` (default: :func:`default_font_candidates`).

    Raises
    ------
    FontNotFoundError
        None of them exists; the message says what to install.
    """
    for path in default_font_candidates() if candidates is None else candidates:
        if Path(path).is_file():
            return Path(path)
    raise FontNotFoundError(
        N_("No font for Chinese labels was found. Install the Python package pylopdf-fonts-zh-cn "
           "or the Debian package fonts-wqy-microhei.")
    )


@functools.lru_cache(maxsize=32)
def load_font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    """A Pillow font of ``size`` pixels from ``path`` (cached: overlays redraw often)."""
    return ImageFont.truetype(str(path), size)
