"""``python -m medrega_core scan`` and de-identified export metadata, on real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from medrega_core.intake import View, open_scan, render
from tests.intake_fixtures import dicom_file

ROOT = Path(__file__).resolve().parent.parent
#: Identifying values in CT_small.dcm's header that must never be printed or exported.
_IDENTIFYING = ("PatientName", "PatientID", "InstitutionName", "StudyDate", "ReferringPhysicianName")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medrega_core", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def _identifiers(path: str) -> list[str]:
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    return [str(ds.get(k)) for k in _IDENTIFYING if ds.get(k)]


def test_info_prints_json_without_identifiers() -> None:
    path = dicom_file("CT_small.dcm")
    result = _run("scan", "info", path)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["modality"] == "CT" and info["size"] == [128, 128] and info["orientation"] == "LPS"
    assert info["orientation_letters"]["left"] == "R" and info["value_unit"] == "HU"
    identifiers = _identifiers(path)
    assert identifiers and not any(value in result.stdout for value in identifiers)


def test_render_writes_the_same_picture_as_the_api(tmp_path) -> None:
    path = dicom_file("CT_small.dcm")
    out = tmp_path / "lung.png"
    result = _run("scan", "render", path, "--out", str(out), "--window", "lung")
    assert result.returncode == 0, result.stderr
    expected = render(open_scan(path), View(window="lung")).rgb
    assert np.array_equal(np.asarray(Image.open(out)), expected)
    manual = tmp_path / "manual.png"
    assert _run("scan", "render", path, "--out", str(manual), "--window=-600,1500").returncode == 0
    assert np.array_equal(np.asarray(Image.open(manual)), expected)


@pytest.mark.slow  # three interpreter start-ups
def test_bad_input_exits_non_zero_with_the_localized_message(tmp_path) -> None:
    bogus = tmp_path / "scan.dcm"
    bogus.write_bytes(b"\x00" * 50 + b"not dicom at all")
    english = _run("scan", "info", str(bogus))
    chinese = _run("--lang", "zh", "scan", "info", str(bogus))
    for result in (english, chinese):
        assert result.returncode == 2 and "Traceback" not in result.stderr and "scan.dcm" in result.stderr
    assert "not a picture, DICOM file or volume" in english.stderr
    assert "不是" in chinese.stderr
    out_of_range = _run("scan", "render", dicom_file("CT_small.dcm"), "--out", str(tmp_path / "x.png"), "--slice", "9")
    assert out_of_range.returncode == 2 and "Slice 9 is out of range" in out_of_range.stderr


def test_export_metadata_is_deidentified_unless_asked() -> None:
    path = dicom_file("CT_small.dcm")
    scan = open_scan(path)
    identifiers = _identifiers(path)
    exported = scan.dataset_for_export()
    text = json.dumps(exported, default=str)
    assert exported["identifiers_removed"] and exported["dicom"]["PatientIdentityRemoved"] == "YES"
    assert not any(value in text for value in identifiers)
    assert exported["dicom"]["Modality"] == "CT" and exported["info"]["modality"] == "CT"
    assert "PixelData" not in exported["dicom"]
    kept = json.dumps(scan.dataset_for_export(include_identifiers=True), default=str)
    assert all(value in kept for value in identifiers)
    assert scan.dicom_header.PatientName == pydicom.dcmread(path, stop_before_pixels=True).PatientName  # untouched


def test_scan_info_repr_and_messages_carry_no_identifiers() -> None:
    path = dicom_file("CT_small.dcm")
    scan = open_scan(path)
    text = repr(scan) + json.dumps(scan.info.to_dict(), default=str)
    assert not any(value in text for value in _identifiers(path))


def test_invalid_identifying_values_are_not_logged_while_reading(tmp_path, caplog, recwarn) -> None:
    ds = pydicom.dcmread(dicom_file("CT_small.dcm"))
    ds.add_new(0x00100030, "DA", "19800101SECRET")  # PatientBirthDate, invalid as a date
    ds.add_new(0x00080020, "DA", "2004X0119")  # StudyDate, invalid
    path = tmp_path / "bad_dates.dcm"
    ds.save_as(path)
    caplog.set_level("DEBUG")
    scan = open_scan(path)
    render(scan)
    exported = json.dumps(scan.dataset_for_export(), default=str)  # dicognito cannot shift these dates
    seen = caplog.text + " ".join(str(w.message) for w in recwarn)
    assert "SECRET" not in seen + exported and "2004X0119" not in seen + exported
