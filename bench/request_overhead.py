"""The app's own time per request, outside the model, for a 512x512 CT slice and a 3000x2500 chest X-ray.

Stages, each timed separately (median of ``--repeats`` runs, milliseconds):

- decode: ``open_scan`` of the DICOM file (once per upload);
- window: ``render`` with a window preset (each view change);
- display PNG: the lossless PNG the canvas shows (each view change);
- resize: the engine's preprocessing to the model's input size (each question);
- prompt: ``build_prompt`` for region-to-text with a user box (each question);
- parse: ``parse_answer`` of a grounded answer with three regions (each streamed step);
- overlay: ``draw_overlay`` of those regions on the picture (each new box).

The pictures are real: CT_small.dcm (pydicom) resampled to 512x512, and the CR chest radiograph
RG1_UNCI.dcm (pydicom-data, 1955x1841) resampled to 3000x2500, written as DICOM in a temporary folder.

Run: ``python bench/request_overhead.py [--repeats 15]``. For before/after numbers, run an older
commit's copy (``git archive <commit> | tar -x -C /tmp/base``) and this one back to back on the same
machine; ``docs/APP.md`` ("Request overhead") records such a pair.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from pydicom import dcmread
from pydicom.data import get_testdata_file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medrega_core.engine.preprocess import pixel_values  # noqa: E402
from medrega_core.intake import View, open_scan, render  # noqa: E402
from medrega_core.render import OverlayRegion, draw_overlay, palette_color  # noqa: E402
from medrega_core.tasks import PixelBox, Task, TaskRequest, build_prompt, parse_answer  # noqa: E402
from ui_components.regions import save_png  # noqa: E402

GOAL_MS = 50.0
#: The stages the goal counts (the issue's list); the display PNG is reported beside them.
REQUEST_STAGES = ("decode", "window", "resize", "prompt", "parse", "overlay")
QUESTION_STAGES = ("resize", "prompt", "parse", "overlay")
MODEL_INPUT_SIDE = 448
ANSWER = ("The <ref>right lung</ref><box>[[120, 180, 470, 820]]</box> shows an opacity in the "
          "<ref>lower zone</ref><box>[[200, 600, 450, 800]]</box>; the <ref>heart</ref>"
          "<box>[[400, 450, 720, 800]]</box> is not enlarged.")


def resampled_dicom(source_name: str, width: int, height: int, folder: Path) -> Path:
    """A copy of a pydicom test file with its pixels resampled to ``width`` x ``height``."""
    ds = dcmread(get_testdata_file(source_name))
    original = ds.pixel_array
    pixels = cv2.resize(original, (width, height), interpolation=cv2.INTER_LINEAR).astype(original.dtype)
    ds.Rows, ds.Columns = height, width
    ds.PixelData = pixels.tobytes()
    path = folder / f"{Path(source_name).stem}_{width}x{height}.dcm"
    ds.save_as(path)
    return path


def median_ms(function: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(path: Path, preset: str, repeats: int, folder: Path) -> dict[str, float]:
    scan = open_scan([path])
    view = View(window=preset)
    rendering = render(scan, view)
    rgb = rendering.rgb
    width, height = rendering.geometry.width, rendering.geometry.height
    box = PixelBox(width * 0.3, height * 0.3, width * 0.6, height * 0.7)
    request = TaskRequest(Task.REGION_TO_TEXT, "en", box=box, image_size=(width, height))
    parsed = parse_answer(ANSWER)
    regions = [OverlayRegion(r.name or "", r.pixel_boxes(width, height), palette_color(i), tag=i + 1)
               for i, r in enumerate(parsed.regions)]
    from PIL import Image

    picture = Image.fromarray(rgb)
    return {
        "decode": median_ms(lambda: open_scan([path]), repeats),
        "window": median_ms(lambda: render(scan, view), repeats),
        "display PNG": median_ms(lambda: save_png(rgb, folder, gray=not scan.is_colour), repeats),
        "resize": median_ms(lambda: pixel_values(picture, MODEL_INPUT_SIDE), repeats),
        "prompt": median_ms(lambda: build_prompt(request), repeats),
        "parse": median_ms(lambda: parse_answer(ANSWER), repeats),
        "overlay": median_ms(lambda: draw_overlay(rgb, regions), repeats),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = {
            "CT 512x512": (resampled_dicom("CT_small.dcm", 512, 512, folder), "soft_tissue"),
            "CR chest 3000x2500": (resampled_dicom("RG1_UNCI.dcm", 3000, 2500, folder), "auto"),
        }
        for name, (path, preset) in cases.items():
            stages = measure(path, preset, args.repeats, folder)
            print(f"{name} (median of {args.repeats} runs, ms)")
            for stage, value in stages.items():
                print(f"  {stage:<12} {value:8.1f}")
            request = sum(v for k, v in stages.items() if k in REQUEST_STAGES)
            question = sum(v for k, v in stages.items() if k in QUESTION_STAGES)
            print(f"  {'request':<12} {request:8.1f}   ({' + '.join(REQUEST_STAGES)}); "
                  f"goal {GOAL_MS:.0f} ms -> ratio {request / GOAL_MS:.2f}")
            print(f"  {'question':<12} {question:8.1f}   ({' + '.join(QUESTION_STAGES)}: a question on an open scan)")


if __name__ == "__main__":
    main()
