"""Export bundles from a real DICOM: lossless PNG, complete JSON, Markdown, identifiers kept out."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from medrega_core.export import ExportRecord, Measurement, write_bundle
from medrega_core.intake import open_scan, render
from medrega_core.pacs import write_report
from medrega_core.render.export_frame import CAPTION_COLOR, NOTICE_COLOR
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


LENGTH = Measurement("length", ((10.0, 20.0), (70.0, 20.0)))
PROBE = Measurement("probe", ((64.0, 64.0),))


def test_measurements_go_out_in_json_markdown_png_and_sr(ct, tmp_path) -> None:
    scan, rendering = ct
    record = dataclasses.replace(_record(ct), measurements=(LENGTH, PROBE))
    files = write_bundle(record, tmp_path, np.array(rendering.rgb))
    length, probe = json.loads(files.json.read_text(encoding="utf-8"))["measurements"]
    sx = rendering.geometry.mm_per_picture_pixel[0]
    assert length["kind"] == "length" and length["unit"] == "mm" and length["value"] == pytest.approx(60 * sx, rel=1e-4)
    stored = pydicom.dcmread(CT_PATH).pixel_array[64, 64] * float(pydicom.dcmread(CT_PATH).RescaleSlope) + float(
        pydicom.dcmread(CT_PATH).RescaleIntercept)
    assert probe["kind"] == "probe" and probe["unit"] == "HU" and probe["value"] == pytest.approx(stored)
    report = files.markdown.read_text(encoding="utf-8")
    assert f"| 1 | Length | 10, 20; 70, 20 | {60 * sx:.1f} mm |" in report and f"| {probe['text']} |" in report
    document = json.loads(files.json.read_text(encoding="utf-8"))
    x0, y0 = document["png"]["picture_offset_px"]
    picture = np.asarray(Image.open(files.png).convert("RGB"))[y0:y0 + 128, x0:x0 + 128]
    row = picture[19:22, 15:60].astype(int)
    yellow = (row[..., 0] > 200) & (row[..., 1] > 200) & (row[..., 2] < 100)
    assert yellow.any(axis=0).all(), "the length is drawn as a yellow line"

    sr = write_report(record, tmp_path)
    dump = subprocess.run(["dsrdump", "+Pl", str(sr)], capture_output=True, text=True, check=True).stdout
    read_length = re.search(r'NUM:\(,,"Length"\)="([\d.]+)" \(mm,UCUM', dump)
    assert read_length and float(read_length.group(1)) == pytest.approx(length["value"], rel=1e-4)
    read_probe = re.search(r'NUM:\(,,"Value at a point"\)="(-?[\d.]+)" \(\[hnsf\'U\],UCUM', dump)
    assert read_probe and float(read_probe.group(1)) == pytest.approx(probe["value"])
    assert "(POINT,64/64)" in dump and "(POLYLINE,10/20,70/20)" in dump


def test_answers_go_out_in_plain_words(ct, tmp_path) -> None:
    scan, rendering = ct
    files = write_bundle(_record(ct), tmp_path, np.array(rendering.rgb))
    document = json.loads(files.json.read_text(encoding="utf-8"))
    assert document["answer"] == ANSWER and document["answer_text"] == "vertebral body [1]: a normal vertebra"
    answer_part = files.markdown.read_text(encoding="utf-8").split("## Answer")[1].split("##")[0]
    assert "vertebral body [1]: a normal vertebra" in answer_part and "<" not in answer_part
    dump = subprocess.run(["dsrdump", "+Pl", str(write_report(_record(ct), tmp_path))], capture_output=True, text=True,
                          check=True).stdout
    assert '"MedRegA answer")="vertebral body [1]: a normal vertebra"' in dump


def test_the_png_shows_the_answer_above_the_notice(ct, tmp_path) -> None:
    scan, rendering = ct
    with_answer = write_bundle(_record(ct), tmp_path, np.array(rendering.rgb)).png
    (tmp_path / "no-answer").mkdir()
    without = write_bundle(dataclasses.replace(_record(ct), answer=""), tmp_path / "no-answer", np.array(rendering.rgb)).png
    framed = np.asarray(Image.open(with_answer).convert("RGB"))
    assert framed.shape[0] > np.asarray(Image.open(without)).shape[0]
    assert ((framed == CAPTION_COLOR).all(axis=2)).sum() > 100, "the answer's lines on their dark band"


def test_json_and_sr_of_one_case_share_one_de_identification(ct, tmp_path) -> None:
    header = json.loads(write_bundle(_record(ct), tmp_path, np.array(ct[1].rgb)).json.read_text(encoding="utf-8"))
    sr = pydicom.dcmread(write_report(_record(ct), tmp_path))
    dicom = header["scan"]["dicom"]
    assert str(sr.PatientName) == dicom["PatientName"]["substitute"] != str(pydicom.dcmread(CT_PATH).PatientName)
    assert sr.PatientID == dicom["PatientID"]["substitute"]
    assert sr.StudyInstanceUID == dicom["StudyInstanceUID"]["substitute"]
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.SeriesInstanceUID == dicom["SeriesInstanceUID"]["substitute"]
    assert evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == dicom["SOPInstanceUID"]["substitute"]
    # A second scan of the same file is another case: other substitutes.
    other = open_scan([CT_PATH])
    other_header = dataclasses.replace(_record(ct), scan=other).scan.dataset_for_export()["dicom"]
    assert other_header["PatientName"]["substitute"] != dicom["PatientName"]["substitute"]


def test_nothing_invented_shows_in_the_header(ct) -> None:
    source = pydicom.dcmread(CT_PATH)
    assert "InstitutionName" in source and "InstitutionAddress" not in source
    dicom = ct[0].dataset_for_export()["dicom"]
    assert "InstitutionAddress" not in dicom and dicom["InstitutionName"]["replaced"] is True
    assert all(keyword in source or keyword in {"PatientIdentityRemoved", "DeidentificationMethod",
                                                "DeidentificationMethodCodeSequence"} for keyword in dicom)


def test_sr_names_user_boxes_by_their_labels(ct, tmp_path) -> None:
    record = dataclasses.replace(_record(ct), user_boxes=(PixelBox(40, 30, 90, 100), PixelBox(5, 5, 20, 20)),
                                 user_box_labels=("lesion", ""))
    dump = subprocess.run(["dsrdump", "+Pl", str(write_report(record, tmp_path))], capture_output=True, text=True,
                          check=True).stdout
    assert '"Tracking Identifier")="lesion"' in dump and '(,,"Finding")=' in dump
    assert '"Tracking Identifier")="User box 2"' in dump and "User box 1" not in dump
