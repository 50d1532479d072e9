"""``python -m medrega_core prompt ...`` and ``python -m medrega_core parse ...``.

``prompt`` writes the exact user text, byte for byte and without an added newline (a report prompt
ends with one of its own). ``parse`` reads an answer on stdin and writes its regions as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys

from medrega_core.errors import N_
from medrega_core.tasks.coordinates import PixelBox
from medrega_core.tasks.cot import build_cot_answer_prompt
from medrega_core.tasks.parser import ParsedAnswer, parse_answer
from medrega_core.tasks.prompts import PromptInputError, PromptLayout, Task, TaskRequest, build_prompt, split_names


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``prompt`` and ``parse`` sub-commands."""
    prompt = subparsers.add_parser("prompt", help="print the exact user text MedRegA receives for a task")
    prompt.add_argument("--task", required=True, choices=[t.value for t in Task])
    # SUPPRESS keeps the top-level --lang when this one is not given.
    prompt.add_argument("--lang", default=argparse.SUPPRESS, help="en or zh (also the language of errors)")
    prompt.add_argument("--question", default="")
    prompt.add_argument("--objects", nargs="+", default=[], help="names to locate, one argument each or comma-separated")
    prompt.add_argument("--box", help="x1,y1,x2,y2 in picture pixels (region-to-text)")
    prompt.add_argument("--width", type=int, help="picture width in pixels")
    prompt.add_argument("--height", type=int, help="picture height in pixels")
    prompt.add_argument("--candidates", nargs="+", default=[],
                        help="candidate diagnoses, one argument each or comma-separated")
    prompt.add_argument("--modality", default="", help='as written in the prompt: "CT", "MRI", "chest x-ray"')
    prompt.add_argument("--variant", default="", help="task variant or candidate preset (e.g. oct2017, mimic-cxr)")
    prompt.add_argument("--layout", default=PromptLayout.DEMO.value, choices=[layout.value for layout in PromptLayout])
    prompt.add_argument("--detected", help="regional-cot step 2: the model's answer to the step 1 prompt")
    prompt.set_defaults(func=run_prompt)

    parse = subparsers.add_parser("parse", help="read a MedRegA answer on stdin and print its regions as JSON")
    parse.add_argument("--width", type=int, help="picture width in pixels (adds pixel boxes)")
    parse.add_argument("--height", type=int, help="picture height in pixels (adds pixel boxes)")
    parse.set_defaults(func=run_parse)


def parse_box_argument(text: str) -> PixelBox:
    """``"x1,y1,x2,y2"`` -> :class:`PixelBox`; raises :class:`PromptInputError` on anything else."""
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4:
        raise PromptInputError(N_("The box must be four numbers x1,y1,x2,y2; got {text}."), text=text)
    return PixelBox(*values)


def _names(arguments: list[str]) -> tuple[str, ...]:
    """Names given one per argument, comma-separated, or both (split as the page splits them)."""
    return tuple(name for argument in arguments for name in split_names(argument))


def _write(text: str) -> None:
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.flush()


def run_prompt(args: argparse.Namespace) -> int:
    size = (args.width, args.height) if args.width and args.height else None
    request = TaskRequest(
        task=Task(args.task), lang=getattr(args, "lang", "en"), question=args.question, objects=_names(args.objects),
        box=parse_box_argument(args.box) if args.box else None, image_size=size,
        candidates=_names(args.candidates), modality=args.modality, variant=args.variant,
        layout=PromptLayout(args.layout),
    )
    if args.detected is not None and request.task is Task.REGIONAL_COT:
        _write(build_cot_answer_prompt(request, parse_answer(args.detected)))
    else:
        _write(build_prompt(request))
    return 0


def answer_to_json(parsed: ParsedAnswer, width: int | None = None, height: int | None = None) -> dict:
    """A JSON-ready dict of the regions (0..999 and, with a size, pixel boxes) and issues."""
    regions = []
    for index, region in enumerate(parsed.regions):
        item = {
            "tag": index + 1,
            "name": region.name,
            "boxes": [list(box.as_tuple()) for box in region.boxes],
            "description": region.description,
            "name_spans": [list(span) for span in region.name_spans],
            "box_spans": [list(span) for span in region.box_spans],
            "description_spans": [list(span) for span in region.description_spans],
        }
        if width and height:
            item["boxes_px"] = [[round(v, 2) for v in box.as_tuple()] for box in region.pixel_boxes(width, height)]
        regions.append(item)
    issues = [{"kind": i.kind.value, "span": list(i.span), "text": i.text} for i in parsed.issues]
    return {"regions": regions, "issues": issues}


def run_parse(args: argparse.Namespace) -> int:
    text = sys.stdin.buffer.read().decode("utf-8", errors="replace")
    result = answer_to_json(parse_answer(text), args.width, args.height)
    _write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return 0
