"""Scoring a resident's boxes against the teacher's reference boxes.

The rule is MedRegA's own region evaluation: boxes are paired one to one so that the summed IoU is
largest (the Hungarian assignment; here an exact search over subsets, since a case has a handful of
boxes), and a box is a hit when its IoU with its partner is at least 0.5. A box without a partner
scores 0.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence

from medrega_core.tasks import PixelBox, iou

#: IoU at which a box counts as a hit (MedRegA's region accuracy at 0.5).
HIT_IOU = 0.5
#: More reference boxes than this would make the exact pairing slow; a case needs far fewer.
MAX_REFERENCE_BOXES = 12


@dataclass(frozen=True)
class BoxScore:
    """One submitted box: the index of its reference partner (None: unpaired) and their IoU."""

    reference: int | None
    iou: float

    @property
    def hit(self) -> bool:
        return self.iou >= HIT_IOU


def pair_boxes(submitted: Sequence[PixelBox], reference: Sequence[PixelBox]) -> list[BoxScore]:
    """One :class:`BoxScore` per submitted box, pairing boxes one to one for the largest summed IoU."""
    if len(reference) > MAX_REFERENCE_BOXES:
        raise ValueError(f"at most {MAX_REFERENCE_BOXES} reference boxes")
    table = [[iou(s.ordered(), r.ordered()) for r in reference] for s in submitted]

    @functools.lru_cache(maxsize=None)
    def best(index: int, used: int) -> tuple[float, tuple[int | None, ...]]:
        """Largest summed IoU of boxes ``index..`` with the reference boxes not in the ``used`` mask."""
        if index == len(submitted):
            return 0.0, ()
        total, rest = best(index + 1, used)
        choice: tuple[float, tuple[int | None, ...]] = (total, (None, *rest))
        for j, value in enumerate(table[index]):
            if not used & (1 << j) and value > 0:
                total, rest = best(index + 1, used | (1 << j))
                if total + value > choice[0]:
                    choice = (total + value, (j, *rest))
        return choice

    partners = best(0, 0)[1]
    return [BoxScore(j, table[i][j] if j is not None else 0.0) for i, j in enumerate(partners)]
