"""Export bundles: the annotated picture (lossless PNG), a JSON record and a Markdown report.

The JSON carries everything needed to reproduce or audit an answer: task, exact prompt, answer,
regions in every coordinate space, the view (plane, slice, frame, window), the model and its
quantization, generation settings and the app version. Patient identifiers stay out of the bundle
unless the user asks for them, and never reach a file name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from medrega_core import __version__
from medrega_core.errors import N_, MedRegAError
from medrega_core.i18n import translate
from medrega_core.intake import Rendering, Scan
from medrega_core.tasks import PixelBox, RegionRow, parse_answer, region_rows

DISCLAIMER = N_("For research and teaching only; not for diagnosis.")


class ExportError(MedRegAError):
    """The bundle could not be written."""


@dataclass(frozen=True)
class ExportRecord:
    """One exchange with the model, as the user saw it.

    Attributes
    ----------
    task:
        Task id (``medrega_core.tasks.Task`` value).
    prompt:
        The exact user text sent to the model.
    answer:
        The model's answer, tags included.
    rendering:
        The picture the model saw and its geometry.
    user_boxes:
        The user's boxes in picture pixels.
    engine_info:
        ``MedRegAEngine.describe()`` (model id, quantization, device).
    generation:
        Generation settings used (max new tokens, temperature, ...).
    include_identifiers:
        Keep patient identifiers in the exported header; only when the user asks.
    """

    task: str
    lang: str
    prompt: str
    answer: str
    rendering: Rendering
    scan: Scan
    user_boxes: tuple[PixelBox, ...] = ()
    engine_info: dict[str, Any] = field(default_factory=dict)
    generation: dict[str, Any] = field(default_factory=dict)
    include_identifiers: bool = False


@dataclass(frozen=True)
class ExportFiles:
    png: Path
    json: Path
    markdown: Path


def _box_entry(row: RegionRow) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "tag": row.tag,
        "model_0_999": list(row.model_box.as_tuple()),
        "picture_px": [round(v, 2) for v in row.pixel_box.as_tuple()],
    }
    if row.scan is not None:
        entry["stored_index_corners"] = [[round(v, 3) for v in corner] for corner in row.scan.stored_corners]
        if row.scan.patient_corners_mm is not None:
            entry["patient_mm_corners_lps"] = [[round(v, 3) for v in c] for c in row.scan.patient_corners_mm]
        if row.scan.size_mm is not None:
            entry["size_mm"] = [round(v, 3) for v in row.scan.size_mm]
    if row.iou_with_user is not None:
        entry["iou_with_first_user_box"] = round(row.iou_with_user, 4)
    return entry


def _regions(record: ExportRecord) -> list[dict[str, Any]]:
    parsed = parse_answer(record.answer)
    rendering = record.rendering
    height, width = rendering.rgb.shape[:2]
    user_box = record.user_boxes[0] if record.user_boxes else None
    rows = region_rows(parsed, width, height, rendering.geometry, user_box)
    return [
        {
            "name": region.name,
            "description": region.description,
            "boxes": [_box_entry(row) for row in rows if row.region_index == index],
        }
        for index, region in enumerate(parsed.regions)
    ]


def _view(rendering: Rendering) -> dict[str, Any]:
    view, window = rendering.view, rendering.window
    return {
        "plane": str(getattr(view.plane, "value", view.plane)),
        "slice_index": view.slice_index,
        "frame": view.frame,
        "timepoint": view.timepoint,
        "window": None if window is None else {"center": window.center, "width": window.width},
        "orientation": dict(rendering.orientation),
        "picture_size": list(rendering.rgb.shape[1::-1]),
    }


def build_json(record: ExportRecord, created: datetime) -> dict[str, Any]:
    """The JSON document of a bundle (see the module docstring for what it holds)."""
    height, width = record.rendering.rgb.shape[:2]
    return {
        "app": {"name": "MedRegA Workbench", "version": __version__},
        "created_utc": created.isoformat(timespec="seconds"),
        "task": record.task,
        "language": record.lang,
        "prompt": record.prompt,
        "answer": record.answer,
        "regions": _regions(record),
        "user_boxes": [{"picture_px": [round(v, 2) for v in box.as_tuple()]} for box in record.user_boxes],
        "view": _view(record.rendering),
        "coordinates": {
            "model_grid": f"integers 0-999 relative to the {width}x{height} picture (x / width, y / height)",
            "picture_px": "x right, y down, (0, 0) = top-left corner of the picture",
            "patient_mm": "DICOM patient coordinates (LPS), millimetres",
        },
        "model": record.engine_info,
        "generation": record.generation,
        "scan": record.scan.dataset_for_export(include_identifiers=record.include_identifiers),
    }


#: Headings and labels of the Markdown report (marked here: babel does not look inside f-strings).
MARKDOWN_LABELS = {
    "disclaimer": DISCLAIMER,
    "title": N_("MedRegA Workbench report"),
    "annotated_picture": N_("Annotated picture"),
    "scan": N_("Scan"),
    "modality": N_("Modality"),
    "body_part": N_("Body part"),
    "plane": N_("Plane"),
    "slice": N_("slice"),
    "frame": N_("frame"),
    "window": N_("Window"),
    "question": N_("Question"),
    "task": N_("Task"),
    "answer": N_("Answer"),
    "regions": N_("Regions"),
    "name": N_("Name"),
    "pixels": N_("Pixels"),
    "size_mm": N_("Size (mm)"),
    "model": N_("Model"),
    "checkpoint": N_("Checkpoint"),
    "quantization": N_("Quantization"),
    "app_version": N_("App version"),
    "created_utc": N_("Created (UTC)"),
}


def _markdown(document: dict[str, Any], png_name: str, lang: str) -> str:
    label = {key: translate(text, lang) for key, text in MARKDOWN_LABELS.items()}
    info = document["scan"]["info"]
    view = document["view"]
    window = view["window"]
    lines = [
        f"# {label['title']}",
        "",
        f"> {label['disclaimer']}",
        "",
        f"![{label['annotated_picture']}]({png_name})",
        "",
        f"## {label['scan']}",
        "",
        f"- {label['modality']}: {info.get('modality') or '-'}",
        f"- {label['body_part']}: {info.get('body_part') or '-'}",
        f"- {label['plane']}: {view['plane']}, {label['slice']} {view['slice_index']}, {label['frame']} {view['frame']}",
        f"- {label['window']}: " + (f"C {window['center']:g} / W {window['width']:g}" if window else "-"),
        "",
        f"## {label['question']}",
        "",
        f"{label['task']}: `{document['task']}`",
        "",
        "```text",
        document["prompt"],
        "```",
        "",
        f"## {label['answer']}",
        "",
        document["answer"],
        "",
    ]
    if document["regions"]:
        lines += [
            f"## {label['regions']}",
            "",
            f"| # | {label['name']} | 0-999 | {label['pixels']} | {label['size_mm']} |",
            "|---|---|---|---|---|",
        ]
        for region in document["regions"]:
            for box in region["boxes"]:
                size = " x ".join(f"{v:.1f}" for v in box["size_mm"]) if "size_mm" in box else "-"
                pixels = ", ".join(f"{v:.0f}" for v in box["picture_px"])
                lines.append(f"| {box['tag']} | {region['name'] or '-'} | {box['model_0_999']} | {pixels} | {size} |")
        lines.append("")
    model = document["model"]
    lines += [
        f"## {label['model']}",
        "",
        f"- {label['checkpoint']}: {model.get('checkpoint', '-')}",
        f"- {label['quantization']}: {model.get('quantization', '-')}",
        f"- {label['app_version']}: {document['app']['version']}",
        f"- {label['created_utc']}: {document['created_utc']}",
        "",
    ]
    return "\n".join(lines)


def write_bundle(record: ExportRecord, folder: str | Path, overlay_rgb: np.ndarray) -> ExportFiles:
    """Write the PNG, JSON and Markdown files of one exchange into ``folder``.

    Parameters
    ----------
    record:
        The exchange to export.
    folder:
        An existing folder, private to the user's session.
    overlay_rgb:
        ``(H, W, 3)`` uint8: the picture with the boxes drawn, as shown to the user.
    """
    created = datetime.now(timezone.utc)
    stem = f"medrega-{record.task}-{created:%Y%m%d-%H%M%S}"
    folder = Path(folder)
    files = ExportFiles(folder / f"{stem}.png", folder / f"{stem}.json", folder / f"{stem}.md")
    document = build_json(record, created)
    try:
        Image.fromarray(np.ascontiguousarray(overlay_rgb, dtype=np.uint8)).save(files.png, format="PNG")
        files.json.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
        files.markdown.write_text(_markdown(document, files.png.name, record.lang), encoding="utf-8")
    except OSError as error:
        raise ExportError(N_("The export could not be written: {reason}."), reason=error.strerror or str(error))
    return files
