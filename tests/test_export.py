"""Export bundles from a real DICOM: lossless PNG, complete JSON, Markdown, identifiers kept out."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from medrega_core.export import ExportRecord, write_bundle
from medrega_core.intake import open_scan, render
from medrega_core.render.export_frame import NOTICE_COLOR
from medrega_core.tasks import PixelBox, to_model

CT_PATH = get_testdata_file("CT_small.dcm")
ANSWER = "<ref>vertebral body</ref><box>[[300, 250, 700, 750]]</box>: a normal vertebra"


@pytest.fixture(scope="module")
def ct():
    scan = open_scan([CT_PATH])
    return scan, render(scan, scan.default_view())


def _record(ct, include_identifiers: bool = False, lang: str = "en") -> ExportRecord:
    scan, rendering = ct
    return ExportRecord(
        task="text-to-region", lang=lang, prompt="Please locate <ref>vertebral body</ref> in this CT scan.",
        answer=ANSWER, rendering=rendering, scan=scan, user_boxes=(PixelBox(40, 30, 90, 100),),
        engine_info={"checkpoint": "tiny", "quantization": "none"}, generation={"max_new_tokens": 24},
        include_identifiers=include_identifiers,
    )


def _bundle_text(files) -> str:
    return files.json.read_text(encoding="utf-8") + files.markdown.read_text(encoding="utf-8") + files.png.name


def test_bundle_holds_regions_in_every_coordinate_space(ct, tmp_path) -> None:
    scan, rendering = ct
    overlay = np.array(rendering.rgb)
    overlay[5:10, 5:10] = (255, 0, 0)
    files = write_bundle(_record(ct), tmp_path, overlay)

    document = json.loads(files.json.read_text(encoding="utf-8"))
    x0, y0 = document["png"]["picture_offset_px"]
    exported = np.asarray(Image.open(files.png).convert("RGB"))
    picture = exported[y0:y0 + overlay.shape[0], x0:x0 + overlay.shape[1]]
    assert np.array_equal(picture, overlay), "the picture inside the PNG must be lossless"
    (region,) = document["regions"]
    assert region["name"] == "vertebral body" and region["description"] == "a normal vertebra"
    (box,) = region["boxes"]
    height, width = rendering.rgb.shape[:2]
    assert box["model_0_999"] == [300, 250, 700, 750]
    assert box["picture_px"] == pytest.approx([300 / 999 * width, 250 / 999 * height, 700 / 999 * width, 750 / 999 * height], abs=0.01)
    spacing = [float(v) for v in pydicom.dcmread(CT_PATH).PixelSpacing]
    # CT_small has isotropic in-plane spacing, rendered one stored pixel per picture pixel.
    assert box["size_mm"] == pytest.approx([400 / 999 * width * spacing[1], 500 / 999 * height * spacing[0]], rel=1e-3)
    assert 0 < box["iou_with_first_user_box"] < 1
    assert document["view"]["window"] == {"center": rendering.window.center, "width": rendering.window.width}
    assert document["prompt"].startswith("Please locate") and document["answer"] == ANSWER
    assert document["model"]["quantization"] == "none" and document["app"]["version"]


def test_identifiers_stay_out_unless_asked(ct, tmp_path) -> None:
    header = pydicom.dcmread(CT_PATH)
    identifiers = [str(header.PatientName), str(header.PatientID)]
    assert all(identifiers)

    (tmp_path / "a").mkdir()
    removed = write_bundle(_record(ct), tmp_path / "a", np.array(ct[1].rgb))
    text = _bundle_text(removed)
    assert not any(value in text for value in identifiers)
    assert json.loads(removed.json.read_text(encoding="utf-8"))["scan"]["identifiers_removed"] is True

    scan_section = json.loads(removed.json.read_text(encoding="utf-8"))["scan"]
    assert scan_section["dicom"]["PatientName"]["replaced"] is True
    assert scan_section["dicom"]["PatientName"]["substitute"] and "substitute" in scan_section["note"].lower()
    assert scan_section["dicom"]["PatientID"]["replaced"] is True
    # Values the profile keeps are written plainly.
    assert scan_section["dicom"]["Modality"] == "CT" and scan_section["dicom"]["Rows"] == 128

    (tmp_path / "b").mkdir()
    kept = write_bundle(_record(ct, include_identifiers=True), tmp_path / "b", np.array(ct[1].rgb))
    assert str(header.PatientName) in kept.json.read_text(encoding="utf-8")
    assert not any(value in kept.png.name + kept.json.name for value in identifiers)


def test_markdown_report_follows_the_language(ct, tmp_path) -> None:
    files = write_bundle(_record(ct, lang="zh"), tmp_path, np.array(ct[1].rgb))
    report = files.markdown.read_text(encoding="utf-8")
    assert "仅供科研和教学" in report
    assert f"]({files.png.name})" in report and "vertebral body" in report


def _volume(tmp_path):
    from intake_fixtures import series_datasets, write_series

    scan = open_scan(write_series(series_datasets(CT_PATH, 5), tmp_path / "series"))
    return scan, render(scan, scan.default_view())


def test_view_fields_only_where_they_mean_something(ct, tmp_path) -> None:
    (tmp_path / "image").mkdir()
    single = write_bundle(_record(ct), tmp_path / "image", np.array(ct[1].rgb))
    view = json.loads(single.json.read_text(encoding="utf-8"))["view"]
    assert not {"plane", "slice_index", "frame", "timepoint"} & set(view)
    assert "Plane" not in single.markdown.read_text(encoding="utf-8")

    volume = _volume(tmp_path)
    (tmp_path / "volume").mkdir()
    files = write_bundle(_record(volume, lang="zh"), tmp_path / "volume", np.array(volume[1].rgb))
    view = json.loads(files.json.read_text(encoding="utf-8"))["view"]
    assert view["plane"] == "axial" and view["slice_index"] == volume[1].view.slice_index
    assert not {"frame", "timepoint"} & set(view)
    report = files.markdown.read_text(encoding="utf-8")
    assert "平面: 轴位" in report and "axial" not in report


def test_chinese_markdown_has_no_english_labels(ct, tmp_path) -> None:
    report = write_bundle(_record(ct, lang="zh"), tmp_path, np.array(ct[1].rgb)).markdown.read_text(encoding="utf-8")
    english_words = {"Window", "Plane", "slice", "frame", "Task", "Pixels", "User boxes", "Modality"}
    assert not [word for word in english_words if word in report]
    assert "窗位" in report and "用户框" in report


def test_user_boxes_go_out_with_label_grid_pixels_and_mm(ct, tmp_path) -> None:
    scan, rendering = ct
    record = dataclasses.replace(_record(ct), user_box_labels=("lesion",))
    files = write_bundle(record, tmp_path, np.array(rendering.rgb))
    (box,) = json.loads(files.json.read_text(encoding="utf-8"))["user_boxes"]
    height, width = rendering.rgb.shape[:2]
    assert box["label"] == "lesion" and box["picture_px"] == [40, 30, 90, 100]
    assert box["model_0_999"] == list(to_model(PixelBox(40, 30, 90, 100), width, height).as_tuple())
    sx, sy = rendering.geometry.mm_per_picture_pixel
    assert box["size_mm"] == pytest.approx([50 * sx, 70 * sy], rel=1e-3)
    assert "patient_mm_corners_lps" in box
    report = files.markdown.read_text(encoding="utf-8")
    assert "| lesion |" in report and f"{50 * sx:.1f} x {70 * sy:.1f}" in report


def test_png_carries_notice_orientation_letters_and_scale_bar(ct, tmp_path) -> None:
    scan, rendering = ct
    overlay = np.array(rendering.rgb)
    files = write_bundle(_record(ct, lang="zh"), tmp_path, overlay)
    document = json.loads(files.json.read_text(encoding="utf-8"))
    exported = np.asarray(Image.open(files.png).convert("RGB"))
    x0, y0 = document["png"]["picture_offset_px"]
    height, width = overlay.shape[:2]
    assert exported.shape[0] > height and exported.shape[1] > width
    bar = document["png"]["scale_bar"]
    sx = rendering.geometry.mm_per_picture_pixel[0]
    assert bar["pixels"] == pytest.approx(bar["mm"] / sx, abs=1)
    bx1, by1, bx2, by2 = bar["rect_px"]
    assert by1 >= y0 + height and bx2 - bx1 == bar["pixels"]
    assert (exported[by1:by2, bx1:bx2] == 255).all(), "the scale bar is solid white"
    # A letter on each of the four edges: ink in the middle of each margin.
    middle_y, middle_x = y0 + height // 2, x0 + width // 2
    margins = {"left": exported[middle_y - 8:middle_y + 8, :x0], "right": exported[middle_y - 8:middle_y + 8, x0 + width:],
               "top": exported[:y0, middle_x - 8:middle_x + 8], "bottom": exported[y0 + height:by1, middle_x - 8:middle_x + 8]}
    assert all(margin.size and margin.max() > 128 for margin in margins.values()), {k: m.shape for k, m in margins.items()}
    # The notice: a band of the notice colour below the scale bar.
    notice = exported[by2:]
    assert (np.abs(notice.astype(int) - NOTICE_COLOR).sum(axis=2) == 0).sum() > 50
