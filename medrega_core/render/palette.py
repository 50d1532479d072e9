"""Region colours shared by the overlay and the answer text.

Okabe-Ito's colour-blind-safe set (Okabe & Ito, "Color Universal Design", 2008) without its black,
which would vanish on dark scans; every box also gets a dark halo so light colours stay visible
on bright bone or lung.
"""

from __future__ import annotations

RGB = tuple[int, int, int]

OKABE_ITO: tuple[RGB, ...] = (
    (230, 159, 0),  # orange
    (86, 180, 233),  # sky blue
    (0, 158, 115),  # bluish green
    (240, 228, 66),  # yellow
    (0, 114, 178),  # blue
    (213, 94, 0),  # vermillion
    (204, 121, 167),  # reddish purple
)


def palette_color(index: int) -> RGB:
    """Colour ``(r, g, b)`` of region number ``index`` (0-based; the palette repeats after 7)."""
    return OKABE_ITO[index % len(OKABE_ITO)]


def palette_hex(index: int) -> str:
    """The same colour as ``#rrggbb``, for HTML legends and highlighted text."""
    r, g, b = palette_color(index)
    return f"#{r:02x}{g:02x}{b:02x}"


def text_color_on(background: RGB) -> RGB:
    """Black or white, whichever reads better on ``background`` (WCAG relative luminance)."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in background)
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return (0, 0, 0) if luminance > 0.179 else (255, 255, 255)
