"""Export bundles: the annotated picture (lossless PNG), a JSON record and a Markdown report.

The JSON carries everything needed to reproduce or audit an answer: task, exact prompt, answer,
regions in every coordinate space, the view (plane, slice, frame, window), the model and its
quantization, generation settings and the app version. Patient identifiers stay out of the bundle
unless the user asks for them, and never reach a file name.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from medrega_core import __version__
from medrega_core.errors import N_, MedRegAError
from medrega_core.i18n import translate
from medrega_core.intake import Rendering, Scan, picture_values
from medrega_core.intake.scan import Plane
from medrega_core.render.export_frame import FramedPicture, frame_for_export
from medrega_core.render.overlay import draw_measurements
from medrega_core.tasks import (
    TASK_TITLES, BoxInScan, ModelBox, PixelBox, Task, answer_text, box_in_scan, parse_answer, region_rows, to_model,
)

DISCLAIMER = N_("For research and teaching only; not for diagnosis.")


class ExportError(MedRegAError):
    """The bundle could not be written."""


def public_model_name(checkpoint: str) -> str:
    """The checkpoint as users and exported files may see it: a local folder by its name only (the
    server's paths stay private), anything else (a Hugging Face id, a served model) as it is."""
    path = Path(checkpoint).expanduser()
    return path.resolve().name if path.is_absolute() or path.exists() else checkpoint


@dataclass(frozen=True)
class Measurement:
    """A mark the user placed with the viewer's length or probe tool, in picture pixels."""

    kind: str  # "length" (two points) or "probe" (one point)
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class MeasuredValue:
    """What a :class:`Measurement` reads on the picture: a length in mm (px without calibration) or
    the modality value under a probe (HU for CT; an RGB triple for colour)."""

    measurement: Measurement
    value: float | tuple[int, ...]
    unit: str

    @property
    def text(self) -> str:
        if isinstance(self.value, tuple):
            return "RGB " + ", ".join(map(str, self.value))
        digits = 1 if self.measurement.kind == "length" or abs(self.value) < 100 else 0
        return f"{self.value:.{digits}f} {self.unit}".strip()


def measure(measurement: Measurement, scan: Scan, rendering: Rendering) -> MeasuredValue:
    """Read ``measurement`` on the picture it was placed on (the server's values, not the browser's)."""
    if measurement.kind == "length":
        (x1, y1), (x2, y2) = measurement.points[:2]
        spacing = rendering.geometry.mm_per_picture_pixel
        if spacing is None:
            return MeasuredValue(measurement, math.hypot(x2 - x1, y2 - y1), "px")
        return MeasuredValue(measurement, math.hypot((x2 - x1) * spacing[0], (y2 - y1) * spacing[1]), "mm")
    values = picture_values(scan, rendering.view).values
    x, y = measurement.points[0]
    column = min(max(int(x), 0), values.shape[1] - 1)
    row = min(max(int(y), 0), values.shape[0] - 1)
    value = values[row, column]
    if values.ndim == 3:
        return MeasuredValue(measurement, tuple(int(v) for v in value), "")
    return MeasuredValue(measurement, float(value), scan.metadata.value_unit)


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
    user_box_labels:
        The user's label of each box, in the order of ``user_boxes`` (missing or empty: "your box N").
    engine_info:
        ``MedRegAEngine.describe()`` (model id, quantization, device).
    generation:
        Generation settings used (max new tokens, temperature, ...).
    measurements:
        The user's length and probe marks on the picture.
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
    user_box_labels: tuple[str, ...] = ()
    engine_info: dict[str, Any] = field(default_factory=dict)
    generation: dict[str, Any] = field(default_factory=dict)
    measurements: tuple[Measurement, ...] = ()
    include_identifiers: bool = False

    @property
    def measured(self) -> list[MeasuredValue]:
        return [measure(m, self.scan, self.rendering) for m in self.measurements]


@dataclass(frozen=True)
class ExportFiles:
    png: Path
    json: Path
    markdown: Path


def _box_entry(model_box: ModelBox, pixel_box: PixelBox, in_scan: BoxInScan | None) -> dict[str, Any]:
    """One box in every coordinate space: 0-999, picture pixels, stored indices and patient mm."""
    entry: dict[str, Any] = {
        "model_0_999": list(model_box.as_tuple()),
        "picture_px": [round(v, 2) for v in pixel_box.as_tuple()],
    }
    if in_scan is not None:
        entry["stored_index_corners"] = [[round(v, 3) for v in corner] for corner in in_scan.stored_corners]
        if in_scan.patient_corners_mm is not None:
            entry["patient_mm_corners_lps"] = [[round(v, 3) for v in c] for c in in_scan.patient_corners_mm]
        if in_scan.size_mm is not None:
            entry["size_mm"] = [round(v, 3) for v in in_scan.size_mm]
    return entry


def _regions(record: ExportRecord) -> list[dict[str, Any]]:
    parsed = parse_answer(record.answer)
    rendering = record.rendering
    height, width = rendering.rgb.shape[:2]
    user_box = record.user_boxes[0] if record.user_boxes else None
    rows = region_rows(parsed, width, height, rendering.geometry, user_box)
    regions = []
    for index, region in enumerate(parsed.regions):
        boxes = []
        for row in rows:
            if row.region_index == index:
                entry = {"tag": row.tag, **_box_entry(row.model_box, row.pixel_box, row.scan)}
                if row.iou_with_user is not None:
                    entry["iou_with_first_user_box"] = round(row.iou_with_user, 4)
                boxes.append(entry)
        regions.append({"name": region.name, "description": region.description, "boxes": boxes})
    return regions


def _user_boxes(record: ExportRecord) -> list[dict[str, Any]]:
    """The user's boxes with their labels, in the same coordinate spaces as the model's."""
    geometry = record.rendering.geometry
    height, width = record.rendering.rgb.shape[:2]
    labels = tuple(record.user_box_labels) + ("",) * len(record.user_boxes)
    return [
        {"number": number, "label": label.strip() or None,
         **_box_entry(to_model(box, width, height), box, box_in_scan(box, geometry))}
        for number, (box, label) in enumerate(zip(record.user_boxes, labels), start=1)
    ]


def _measurements(record: ExportRecord) -> list[dict[str, Any]]:
    """The user's length and probe marks: points in picture pixels (and patient mm), and what they read."""
    geometry = record.rendering.geometry
    entries = []
    for number, measured in enumerate(record.measured, start=1):
        points = measured.measurement.points
        entry: dict[str, Any] = {"number": number, "kind": measured.measurement.kind,
                                 "picture_px": [[round(x, 2), round(y, 2)] for x, y in points],
                                 "value": list(measured.value) if isinstance(measured.value, tuple) else round(measured.value, 3),
                                 "unit": measured.unit, "text": measured.text}
        patient = [geometry.picture_to_patient_mm(x, y) for x, y in points]
        if all(p is not None for p in patient):
            entry["patient_mm_lps"] = [[round(v, 3) for v in p] for p in patient]
        entries.append(entry)
    return entries


def _view(scan: Scan, rendering: Rendering) -> dict[str, Any]:
    """The view, with plane, slice, frame and timepoint only where the scan has a choice of them
    (a radiograph or a photo has one plane and one slice: writing them would mean nothing)."""
    view, window = rendering.view, rendering.window
    plane = Plane(getattr(view.plane, "value", view.plane))
    result: dict[str, Any] = {}
    if len(scan.planes) > 1:
        result["plane"] = plane.value
    if scan.num_slices(plane) > 1:
        result["slice_index"] = view.slice_index
    if scan.num_frames > 1:
        result["frame"] = view.frame
    if scan.num_timepoints > 1:
        result["timepoint"] = view.timepoint
    return result | {
        "window": None if window is None else {"center": window.center, "width": window.width},
        "orientation": dict(rendering.orientation),
        "picture_size": list(rendering.rgb.shape[1::-1]),
    }


def _png_entry(framed: FramedPicture) -> dict[str, Any]:
    bar = framed.scale_bar
    return {
        "picture_offset_px": list(framed.offset),
        "scale_bar": None if bar is None else {"mm": bar.mm, "pixels": bar.pixels, "rect_px": list(bar.rect)},
    }


def build_json(record: ExportRecord, created: datetime, framed: FramedPicture | None = None) -> dict[str, Any]:
    """The JSON document of a bundle (see the module docstring for what it holds); with ``framed``,
    where the picture and the scale bar lie in the exported PNG."""
    height, width = record.rendering.rgb.shape[:2]
    return {
        "app": {"name": "MedRegA Workbench", "version": __version__},
        "created_utc": created.isoformat(timespec="seconds"),
        "task": record.task,
        "language": record.lang,
        "prompt": record.prompt,
        "answer": record.answer,
        "answer_text": answer_text(record.answer),
        "regions": _regions(record),
        "user_boxes": _user_boxes(record),
        "measurements": _measurements(record),
        "view": _view(record.scan, record.rendering),
        "coordinates": {
            "model_grid": f"integers 0-999 relative to the {width}x{height} picture (x / width, y / height)",
            "picture_px": "x right, y down, (0, 0) = top-left corner of the picture",
            "patient_mm": "DICOM patient coordinates (LPS), millimetres",
        },
        "model": record.engine_info,
        "generation": record.generation,
        "scan": record.scan.dataset_for_export(include_identifiers=record.include_identifiers),
    } | ({"png": _png_entry(framed)} if framed is not None else {})


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
    "window_values": N_("level {center} / width {width}"),
    "user_boxes": N_("User boxes"),
    "your_box": N_("your box {number}"),
    "question": N_("Question"),
    "task": N_("Task"),
    "answer": N_("Answer"),
    "regions": N_("Regions"),
    "name": N_("Name"),
    "pixels": N_("Pixels"),
    "size_mm": N_("Size (mm)"),
    "measurements": N_("Measurements"),
    "measurement": N_("Measurement"),
    "result": N_("Result"),
    "length": N_("Length"),
    "probe": N_("Probe"),
    "model": N_("Model"),
    "checkpoint": N_("Checkpoint"),
    "quantization": N_("Quantization"),
    "app_version": N_("App version"),
    "created_utc": N_("Created (UTC)"),
}


#: What a picture shows (``Scan.plane_name``), as the viewer and the report name it.
PLANE_TITLES = {"axial": N_("Axial"), "coronal": N_("Coronal"), "sagittal": N_("Sagittal"), "oblique": N_("Oblique"),
                "projection": N_("Projection")}


def _view_line(view: dict[str, Any], label: dict[str, str], lang: str) -> str | None:
    """``Plane: Axial, slice 3`` with only the fields the view holds (None when it holds none)."""
    parts = []
    if "plane" in view:
        parts.append(f"{label['plane']}: {translate(PLANE_TITLES[view['plane']], lang)}")
    parts += [f"{label[key]} {view[field]}" for key, field in (("slice", "slice_index"), ("frame", "frame"))
              if field in view]
    return ", ".join(parts) or None


def _box_row(tag: Any, name: str, box: dict[str, Any]) -> str:
    size = " x ".join(f"{v:.1f}" for v in box["size_mm"]) if "size_mm" in box else "-"
    pixels = ", ".join(f"{v:.0f}" for v in box["picture_px"])
    return f"| {tag} | {name} | {box['model_0_999']} | {pixels} | {size} |"


def _markdown(document: dict[str, Any], png_name: str, lang: str) -> str:
    label = {key: translate(text, lang) for key, text in MARKDOWN_LABELS.items()}
    info = document["scan"]["info"]
    view = document["view"]
    window = view["window"]
    window_text = translate(MARKDOWN_LABELS["window_values"], lang, center=f"{window['center']:g}",
                            width=f"{window['width']:g}") if window else "-"
    view_line = _view_line(view, label, lang)
    task = document["task"]
    task_title = translate(TASK_TITLES[Task(task)], lang) if task in {t.value for t in Task} else task
    table_head = [f"| # | {label['name']} | 0-999 | {label['pixels']} | {label['size_mm']} |", "|---|---|---|---|---|"]
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
        *([f"- {view_line}"] if view_line else []),
        f"- {label['window']}: {window_text}",
        "",
        f"## {label['question']}",
        "",
        f"{label['task']}: {task_title} (`{task}`)",
        "",
        "```text",
        document["prompt"],
        "```",
        "",
        f"## {label['answer']}",
        "",
        document["answer_text"],
        "",
    ]
    if document["user_boxes"]:
        lines += [f"## {label['user_boxes']}", "", *table_head]
        for box in document["user_boxes"]:
            name = box["label"] or translate(MARKDOWN_LABELS["your_box"], lang, number=box["number"])
            lines.append(_box_row(box["number"], name, box))
        lines.append("")
    if document["regions"]:
        lines += [f"## {label['regions']}", "", *table_head]
        for region in document["regions"]:
            lines += [_box_row(box["tag"], region["name"] or "-", box) for box in region["boxes"]]
        lines.append("")
    if document["measurements"]:
        lines += [f"## {label['measurements']}", "", f"| # | {label['measurement']} | {label['pixels']} | {label['result']} |",
                  "|---|---|---|---|"]
        for entry in document["measurements"]:
            pixels = "; ".join(f"{x:.0f}, {y:.0f}" for x, y in entry["picture_px"])
            lines.append(f"| {entry['number']} | {label[entry['kind']]} | {pixels} | {entry['text']} |")
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
        ``(H, W, 3)`` uint8: the picture with the boxes drawn, as shown to the user. The PNG adds the
        user's measurements, and frames it with the orientation letters, a scale bar in mm, the answer
        in plain words and the research-only notice (in the record's language); the JSON's ``png``
        entry says where the picture lies in it.
    """
    created = datetime.now(timezone.utc)
    rendering = record.rendering
    marked = draw_measurements(overlay_rgb, [(m.measurement.points, m.text) for m in record.measured])
    framed = frame_for_export(marked, rendering.orientation, rendering.geometry.mm_per_picture_pixel,
                              translate(DISCLAIMER, record.lang), caption=answer_text(record.answer))
    stem = f"medrega-{record.task}-{created:%Y%m%d-%H%M%S}"
    folder = Path(folder)
    files = ExportFiles(folder / f"{stem}.png", folder / f"{stem}.json", folder / f"{stem}.md")
    document = build_json(record, created, framed)
    try:
        Image.fromarray(framed.rgb).save(files.png, format="PNG")
        files.json.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
        files.markdown.write_text(_markdown(document, files.png.name, record.lang), encoding="utf-8")
    except OSError as error:
        raise ExportError(N_("The export could not be written: {reason}."), reason=error.strerror or str(error))
    return files
