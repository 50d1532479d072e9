"""What the app shows next to the picture: the region table and the answer split into coloured parts.

Region ``i`` (0-based, in ``ParsedAnswer.regions`` order) has tag ``i + 1`` and colour
``medrega_core.render.palette_color(i)`` everywhere: table, text and overlay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medrega_core.tasks.coordinates import BoxInScan, ModelBox, PictureGeometry, PixelBox, box_in_scan, iou, to_pixels
from medrega_core.tasks.parser import ParsedAnswer, parse_answer

_TAG_MARKUP = re.compile(r"</?(?:ref|box)>")


@dataclass(frozen=True)
class RegionRow:
    """One box of one region, in every coordinate space.

    Attributes
    ----------
    region_index:
        Index into ``ParsedAnswer.regions`` (also the palette index); ``tag`` is it plus one.
    model_box:
        0..999 grid.
    pixel_box:
        Picture pixels.
    scan:
        Stored indices and millimetres through the rendering's geometry, or None without one.
    iou_with_user:
        IoU with the user's box when one was given.
    """

    region_index: int
    tag: int
    name: str | None
    model_box: ModelBox
    pixel_box: PixelBox
    scan: BoxInScan | None
    iou_with_user: float | None


def region_rows(
    parsed: ParsedAnswer,
    width: float,
    height: float,
    geometry: PictureGeometry | None = None,
    user_box: PixelBox | None = None,
) -> list[RegionRow]:
    """Rows for the region table, one per box, regions in answer order.

    Parameters
    ----------
    parsed:
        The parsed answer.
    width, height:
        Size in pixels of the picture the model saw (and the user sees).
    geometry:
        The rendering's ``SliceGeometry`` for stored indices and millimetres, if any.
    user_box:
        The user's box in picture pixels, to compare each model box with.
    """
    rows = []
    for index, region in enumerate(parsed.regions):
        for model_box in region.boxes:
            pixel_box = to_pixels(model_box, width, height)
            rows.append(RegionRow(
                region_index=index,
                tag=index + 1,
                name=region.name,
                model_box=model_box,
                pixel_box=pixel_box,
                scan=box_in_scan(pixel_box, geometry) if geometry is not None else None,
                iou_with_user=iou(pixel_box, user_box) if user_box is not None else None,
            ))
    return rows


@dataclass(frozen=True)
class TextSegment:
    """A piece of the displayed answer; ``region_index`` says which colour, None for plain text."""

    text: str
    region_index: int | None


def answer_segments(parsed: ParsedAnswer) -> list[TextSegment]:
    """The answer as display text in coloured pieces (a ``HighlightedText``-style value).

    Names keep their words and take their region's colour; each box list becomes its region's
    tag, `` [n]``; leftover ``<ref>``/``<box>`` markup is removed. Plain text keeps its spacing.
    """
    marks: list[tuple[int, int, int, bool]] = []
    for index, region in enumerate(parsed.regions):
        marks += [(start, end, index, False) for start, end in region.name_spans]
        marks += [(start, end, index, True) for start, end in region.box_spans]
    marks.sort()
    segments: list[TextSegment] = []
    text, pos = parsed.text, 0

    def add(piece: str, index: int | None) -> None:
        if not piece:
            return
        if segments and segments[-1].region_index == index:
            segments[-1] = TextSegment(segments[-1].text + piece, index)
        else:
            segments.append(TextSegment(piece, index))

    for start, end, index, is_box in marks:
        if start < pos:
            continue
        add(_TAG_MARKUP.sub("", text[pos:start]), None)
        if is_box:
            shown = "".join(segment.text for segment in segments)
            add(f"[{index + 1}]" if not shown or shown[-1].isspace() else f" [{index + 1}]", index)
        else:
            add(text[start:end], index)
        pos = end
    add(_TAG_MARKUP.sub("", text[pos:]), None)
    return segments


def answer_text(answer: str) -> str:
    """A raw answer as readers see it: region names in plain words, box lists as tags ``[n]``, no markup."""
    return "".join(segment.text for segment in answer_segments(parse_answer(answer))).strip()
