"""What a case is made of, checked against its scan: the view, the labelled boxes, the question.

A case's question is one of :data:`CASE_TASKS`; its prompt (the exact text the model is sent) is
built by :func:`medrega_core.tasks.build_prompt`, so a stored model answer and a resident's
follow-up use the same words as the workbench.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from medrega_core.errors import N_, MedRegAError
from medrega_core.intake import Scan, ScanKind, View, Window, picture_values
from medrega_core.tasks import PixelBox, Task, TaskRequest, build_prompt, split_names

#: The questions a case may ask: a free question, "locate X", "what is in this box", a report.
CASE_TASKS = (Task.FREE, Task.TEXT_TO_REGION, Task.REGION_TO_TEXT, Task.REPORT)
#: Most boxes a teacher or a resident may mark on one case.
MAX_BOXES = 12


class CaseError(MedRegAError):
    """A case, a session or an answer cannot be saved or used as given."""


@dataclass(frozen=True)
class LabelledBox:
    """A box in picture pixels of the case's view, with its name."""

    box: PixelBox
    label: str = ""

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "LabelledBox":
        box = PixelBox(float(raw["xmin"]), float(raw["ymin"]), float(raw["xmax"]), float(raw["ymax"])).ordered()
        return cls(box, str(raw.get("label") or "").strip()[:80])

    def to_dict(self) -> dict[str, Any]:
        b = self.box
        return {"xmin": round(b.x1, 2), "ymin": round(b.y1, 2), "xmax": round(b.x2, 2), "ymax": round(b.y2, 2),
                "label": self.label}


def parse_boxes(raw: Any, picture_size: tuple[int, int]) -> list[LabelledBox]:
    """``[{xmin, ymin, xmax, ymax, label}]`` checked: numbers, inside the picture, with an area."""
    width, height = picture_size
    if raw in (None, ""):
        return []
    try:
        boxes = [LabelledBox.from_dict(b) for b in raw]
    except (KeyError, TypeError, ValueError, AttributeError):
        raise CaseError(N_("Boxes are a list of {{xmin, ymin, xmax, ymax, label}} in picture pixels.")) from None
    if len(boxes) > MAX_BOXES:
        raise CaseError(N_("At most {count} boxes can be marked on a case."), count=MAX_BOXES)
    for item in boxes:
        b = item.box
        values = b.as_tuple()
        if not all(math.isfinite(v) for v in values) or b.x1 < -0.5 or b.y1 < -0.5 or b.x2 > width + 0.5 \
                or b.y2 > height + 0.5 or b.width <= 0 or b.height <= 0:
            raise CaseError(N_("A box lies outside the {width} x {height} picture or has no area."),
                            width=width, height=height)
    return boxes


def parse_view(scan: Scan, request: dict[str, Any] | None) -> View:
    """The :class:`View` of ``{plane, slice, frame, window}`` (window: ``{center, width}``, a preset
    name, or absent for the scan's default); checked against the scan."""
    request = request or {}
    try:
        window: Window | str | None = request.get("window") or None
        if isinstance(window, dict):
            window = Window(float(window["center"]), float(window["width"]))
        step = int(request.get("frame") or 0)
        frames = scan.kind is ScanKind.FRAMES
        slice_index = request.get("slice")
        view = View(plane=str(request.get("plane") or scan.planes[0].value),
                    slice_index=None if slice_index is None else int(slice_index),
                    frame=step if frames else 0, timepoint=0 if frames else step, window=window)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise CaseError(
            N_("The view is {{plane, slice, frame, window}}; window is {{center, width}} or a preset name.")) from None
    return dataclasses.replace(picture_values(scan, view).view, window=window)


def view_dict(view: View, scan: Scan) -> dict[str, Any]:
    """The stored form of a resolved view (the inverse of :func:`parse_view`)."""
    window = view.window
    step = view.frame if scan.kind is ScanKind.FRAMES else view.timepoint
    return {"plane": str(getattr(view.plane, "value", view.plane)), "slice": view.slice_index or 0, "frame": step,
            "window": {"center": window.center, "width": window.width} if isinstance(window, Window) else window}


def picture_size(scan: Scan, view: View) -> tuple[int, int]:
    geometry = picture_values(scan, view).geometry
    return geometry.width, geometry.height


def case_task(task: str | None) -> Task:
    try:
        chosen = Task(task or Task.FREE.value)
    except ValueError:
        chosen = None
    if chosen not in CASE_TASKS:
        raise CaseError(N_("A case asks a free question, locates objects, asks what is in a box, or asks for a "
                           "report."))
    return chosen


def case_request(task: Task | str, question: str, boxes: list[LabelledBox], size: tuple[int, int],
                 lang: str) -> TaskRequest:
    """What the model is asked for this case (``question`` holds the objects to locate for
    text-to-region; region-to-text asks about the first box)."""
    task = Task(task)
    if task is Task.REGION_TO_TEXT and not boxes:
        raise CaseError(N_("Draw the box the question is about."))
    return TaskRequest(task=task, lang=lang, question=question,
                       objects=split_names(question) if task is Task.TEXT_TO_REGION else (),
                       box=boxes[0].box if task is Task.REGION_TO_TEXT else None, image_size=size)


def case_prompt(task: Task, question: str, boxes: list[LabelledBox], size: tuple[int, int], lang: str) -> str:
    """The exact text the model is sent for this case."""
    return build_prompt(case_request(task, question, boxes, size, lang))
