"""The teacher's overview of one case: every resident's boxes on the picture, and the score spread."""

from __future__ import annotations

import dataclasses
import math
import statistics
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from medrega_core.intake import Rendering
from medrega_core.render import OverlayRegion, draw_overlay, palette_color
from medrega_core.tasks import PixelBox, parse_answer
from medrega_core.teaching.store import CaseRecord, Scored

#: IoU bins of the score spread (MedRegA reports accuracy at 0.25, 0.5 and 0.75).
IOU_BINS = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Palette places: the reference, the model, then one colour per resident.
REFERENCE_COLOUR, MODEL_COLOUR, FIRST_RESIDENT_COLOUR = 2, 0, 3
#: The class picture's longer side is enlarged to at least this many pixels.
MIN_PICTURE_SIDE = 512


@dataclass(frozen=True)
class ScoreSpread:
    """How a case's boxes scored: count per IoU bin (the last bin holds 1.0), mean IoU, hits."""

    counts: tuple[int, ...]
    mean_iou: float | None
    hits: int
    boxes: int


def score_spread(answers: Sequence[Scored]) -> ScoreSpread:
    values = [value for answer in answers for value in answer.ious]
    counts = [0] * (len(IOU_BINS) - 1)
    for value in values:
        counts[min(int(value / 0.25), len(counts) - 1)] += 1
    hits = sum(hit for answer in answers for hit in answer.hits)
    return ScoreSpread(tuple(counts), statistics.fmean(values) if values else None, hits, len(values))


def class_picture(rendering: Rendering, case: CaseRecord, answers: Sequence[Scored], show_names: bool,
                  reference_label: str, show_model: bool = True) -> np.ndarray:
    """The case's picture with the reference boxes (solid, named), the model's boxes (solid) and every
    resident's boxes (dashed, numbered in the order of ``answers``; named only with ``show_names``)."""
    width, height = case.picture_size
    # A small picture is enlarged (whole pixels repeated) so that lines and names stay readable.
    factor = max(1, math.ceil(MIN_PICTURE_SIDE / max(width, height)))
    regions = [OverlayRegion(box.label or reference_label, [box.box], palette_color(REFERENCE_COLOUR))
               for box in case.reference_boxes]
    if show_model and case.model_answer:
        regions += [OverlayRegion(region.name or "", region.pixel_boxes(width, height), palette_color(MODEL_COLOUR))
                    for region in parse_answer(case.model_answer).regions]
    for number, answer in enumerate(answers, start=1):
        regions.append(OverlayRegion(answer.name if show_names else "", [b.box for b in answer.boxes],
                                     palette_color(FIRST_RESIDENT_COLOUR + number - 1), "user", number))
    scaled = [dataclasses.replace(r, boxes_px=[PixelBox(*(v * factor for v in b.as_tuple())) for b in r.boxes_px])
              for r in regions]
    return draw_overlay(np.repeat(np.repeat(rendering.rgb, factor, axis=0), factor, axis=1), scaled)
