"""Size limits that keep hostile or accidental huge inputs from exhausting the server."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["IntakeLimits", "DEFAULT_LIMITS"]


@dataclass(frozen=True)
class IntakeLimits:
    """Bounds checked before anything large is decoded.

    Attributes
    ----------
    max_file_bytes:
        Largest single input file, in bytes.
    max_pixels:
        Largest picture (rows x columns of one frame), in pixels.
    max_voxels:
        Largest decoded scan (all frames, slices and time points together), in samples.
    max_files:
        Most files in one file set or zip.
    max_uncompressed_bytes:
        Largest total uncompressed size of the members of a zip, in bytes.
    max_compression_ratio:
        Largest uncompressed/compressed ratio of one zip member; zip bombs reach thousands.
    """

    max_file_bytes: int = 2 * 1024**3
    max_pixels: int = 100_000_000
    max_voxels: int = 400_000_000
    max_files: int = 4000
    max_uncompressed_bytes: int = 3 * 1024**3
    max_compression_ratio: float = 200.0


DEFAULT_LIMITS = IntakeLimits()
