"""Window (centre/width) presets and the pure functions that turn values into grey levels.

Order of operations, as in DICOM PS3.3 C.11 and pydicom's ``apply_windowing``: stored values are
first mapped to modality values by the reader (rescale slope/intercept, giving Hounsfield units for
CT), then the VOI transform (a window or a VOI LUT) maps them to 0..255, then MONOCHROME1 pictures
are inverted for presentation.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from medrega_core.errors import N_
from medrega_core.intake.errors import InvalidViewError

__all__ = [
    "Window",
    "WindowPreset",
    "VoiLut",
    "CT_PRESETS",
    "apply_window",
    "apply_voi_lut",
    "robust_window",
]


@dataclass(frozen=True)
class Window:
    """A linear VOI window in modality units (HU for CT).

    Values at or below ``center - width / 2`` become black, at or above ``center + width / 2`` white.
    """

    center: float
    width: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.center) and np.isfinite(self.width)) or self.width <= 0:
            raise InvalidViewError(
                N_("A window needs a finite centre and a width above 0 (got {center}, {width})."),
                center=self.center,
                width=self.width,
            )

    @property
    def bounds(self) -> tuple[float, float]:
        """(lowest, highest) value of the window, in modality units."""
        return self.center - self.width / 2.0, self.center + self.width / 2.0


class WindowPreset(str, Enum):
    """Names accepted as ``View.window``."""

    SOFT_TISSUE = "soft_tissue"
    LUNG = "lung"
    LIVER = "liver"
    BONE = "bone"
    BRAIN = "brain"
    HEADER = "header"
    AUTO = "auto"

    def __str__(self) -> str:
        return self.value


#: OHIF Viewer's CT presets (width/level), in Hounsfield units.
CT_PRESETS: dict[WindowPreset, Window] = {
    WindowPreset.SOFT_TISSUE: Window(40, 400),
    WindowPreset.LUNG: Window(-600, 1500),
    WindowPreset.LIVER: Window(90, 150),
    WindowPreset.BONE: Window(480, 2500),
    WindowPreset.BRAIN: Window(40, 80),
}


@dataclass(frozen=True)
class VoiLut:
    """A DICOM VOI LUT: modality value ``first_mapped + n`` maps to ``table[n]``.

    Attributes
    ----------
    first_mapped:
        Modality value of the first table entry.
    table:
        1-D array of output levels.
    bits:
        Bits of the output levels; the largest level is ``2**bits - 1``.
    """

    first_mapped: int
    table: np.ndarray
    bits: int

    @property
    def equivalent_window(self) -> Window:
        """The input range the table covers, reported as a window."""
        return Window(self.first_mapped + len(self.table) / 2.0, float(len(self.table)))


#: Values windowed per step (a 256 KiB float32 scratch block).
_WINDOW_BLOCK = 1 << 16


def apply_window(values: np.ndarray, window: Window) -> np.ndarray:
    """Map modality values linearly through ``window`` to grey levels.

    Parameters
    ----------
    values:
        Any shape, float; NaN marks padding and becomes 0 (black).
    window:
        The window to apply.

    Returns
    -------
    numpy.ndarray
        Same shape, uint8 0..255.
    """
    low, high = window.bounds
    offset, scale, half = np.float32(low), np.float32(255.0 / (high - low)), np.float32(0.5)
    columns = values.shape[-1] if values.ndim and values.shape[-1] else 1
    rows = values.reshape(-1, columns)
    levels = np.empty(rows.shape, np.uint8)
    step = max(1, _WINDOW_BLOCK // rows.shape[1])
    scratch = np.empty((min(step, rows.shape[0]), rows.shape[1]), np.float32)
    # A few rows at a time through one float32 scratch block that stays in the CPU cache, updated
    # in place. fmax/fmin return the number when the other operand is NaN, so padding lands on
    # the lower bound (black) without a NaN pass; adding the rounding half before clamping to
    # [0.5, 255.5] equals clamping to [0, 255] and then adding it.
    for start in range(0, rows.shape[0], step):
        part = rows[start : start + step]
        block = scratch[: part.shape[0]]
        np.subtract(part, offset, out=block, dtype=np.float32)
        block *= scale
        block += half
        np.fmax(block, half, out=block)
        np.fmin(block, np.float32(255.5), out=block)
        np.copyto(levels[start : start + step], block, casting="unsafe")
    return levels.reshape(values.shape)


def apply_voi_lut(values: np.ndarray, lut: VoiLut) -> np.ndarray:
    """Map modality values through a VOI LUT to grey levels (uint8, same shape; NaN -> 0)."""
    finite = np.nan_to_num(values, nan=float(lut.first_mapped))
    index = np.clip(np.rint(finite) - lut.first_mapped, 0, len(lut.table) - 1).astype(np.intp)
    levels = lut.table.astype(np.float32)[index] * np.float32(255.0 / (2**lut.bits - 1))
    levels[np.isnan(values)] = 0
    return (np.clip(levels, 0, 255) + 0.5).astype(np.uint8)


def robust_window(values: np.ndarray, max_samples: int = 2_000_000) -> Window:
    """A window spanning the 0.5th to 99.5th percentile of the finite values.

    Used when the header has no usable window (missing, or a width of 0). Large arrays are
    sub-sampled with a regular stride, which keeps the percentiles stable and the cost bounded.

    Parameters
    ----------
    values:
        Any shape, modality units; NaN (padding) is ignored.
    max_samples:
        Most values looked at.
    """
    flat = values.reshape(-1)
    stride = max(1, flat.size // max_samples)
    sample = flat[::stride]
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return Window(0.5, 1.0)
    low, high = np.percentile(sample, [0.5, 99.5])
    if high <= low:
        low, high = float(sample.min()), float(sample.max())
    width = max(float(high - low), 1.0)
    return Window(float(low) + width / 2.0, width)
