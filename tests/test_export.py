"""Export bundles from a real DICOM: lossless PNG, complete JSON, Markdown, identifiers kept out."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from medrega_core.export import ExportRecord, write_bundle
from medrega_core.intake import open_scan, render
from medrega_core.tasks import PixelBox

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

    assert np.array_equal(np.asarray(Image.open(files.png).convert("RGB")), overlay), "PNG must be lossless"
    document = json.loads(files.json.read_text(encoding="utf-8"))
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

    (tmp_path / "b").mkdir()
    kept = write_bundle(_record(ct, include_identifiers=True), tmp_path / "b", np.array(ct[1].rgb))
    assert str(header.PatientName) in kept.json.read_text(encoding="utf-8")
    assert not any(value in kept.png.name + kept.json.name for value in identifiers)


def test_markdown_report_follows_the_language(ct, tmp_path) -> None:
    files = write_bundle(_record(ct, lang="zh"), tmp_path, np.array(ct[1].rgb))
    report = files.markdown.read_text(encoding="utf-8")
    assert "仅供科研和教学" in report
    assert f"]({files.png.name})" in report and "vertebral body" in report
