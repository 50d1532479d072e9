"""PACS round trip against a real Orthanc: find, retrieve, DICOM SR (validated by dciodvfy and dsrdump,
read back with highdicom), STOW-RS, and the errors of a wrong login, a stopped server and a refused store."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest

from conftest import IN_CI, REPO_ROOT
from intake_fixtures import dicom_file
from medrega_core.intake import open_scan, render
from medrega_core.pacs import (
    PacsAuthError,
    PacsClient,
    PacsNoImagesError,
    PacsSettings,
    PacsUnreachableError,
    StudyQuery,
)
from pacs_fixtures import PASSWORD, REFUSED_STUDY, USER, PacsContent, pacs, start_orthanc  # noqa: F401  (fixture)

ANSWER = "<ref>liver</ref><box>[[100, 200, 400, 600]]</box>: enlarged, smooth outline"
BOX = (100, 200, 400, 600)


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "medrega_core", *args], capture_output=True, text=True,
                            cwd=REPO_ROOT, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def login(content: PacsContent) -> list[str]:
    return ["--url", content.orthanc.dicomweb, "--user", USER, "--password", PASSWORD]


def client(content: PacsContent, password: str = PASSWORD) -> PacsClient:
    return PacsClient(PacsSettings(content.orthanc.dicomweb, USER, password))


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian packages dicom3tools and dcmtk)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_find_lists_the_studies_without_identifiers_unless_asked(pacs: PacsContent) -> None:
    # First in the file, so before the tests below add report series to the CT study.
    rows = json.loads(cli("pacs", "find", *login(pacs)).stdout)
    by_uid = {row["study_uid"]: row for row in rows}
    assert {pacs.ct_study, pacs.cr_study} <= set(by_uid)
    assert by_uid[pacs.ct_study]["modalities"] == ["CT"] and by_uid[pacs.ct_study]["num_series"] == 1
    assert by_uid[pacs.ct_study]["num_instances"] == 4 and by_uid[pacs.ct_study]["date"] == "20040119"
    assert by_uid[pacs.cr_study]["modalities"] == ["CR"] and by_uid[pacs.cr_study]["description"] == "THORAX"
    assert all("patient_name" not in row and "patient_id" not in row for row in rows)
    assert "CompressedSamples" not in json.dumps(rows)

    shown = json.loads(cli("pacs", "find", *login(pacs), "--show-identifiers").stdout)
    ct = next(row for row in shown if row["study_uid"] == pacs.ct_study)
    assert ct["patient_id"] == "1CT1" and ct["patient_name"] == "CompressedSamples^CT1"


def test_find_filters_by_modality_date_description_and_patient(pacs: PacsContent) -> None:
    only_ct = json.loads(cli("pacs", "find", *login(pacs), "--modality", "CT").stdout)
    assert pacs.ct_study in {r["study_uid"] for r in only_ct} and pacs.cr_study not in {r["study_uid"] for r in only_ct}
    since = json.loads(cli("pacs", "find", *login(pacs), "--since", "20040801").stdout)
    assert pacs.cr_study in {r["study_uid"] for r in since} and pacs.ct_study not in {r["study_uid"] for r in since}
    found = client(pacs).find_studies(StudyQuery(description="thor"))
    assert [s.study_uid for s in found] == [pacs.cr_study]
    by_patient = client(pacs).find_studies(StudyQuery(patient_id="9RG1"))
    assert [s.study_uid for s in by_patient] == [pacs.cr_study] and by_patient[0].patient_id == ""
    series = client(pacs).list_series(pacs.ct_study)
    assert [(s.series_uid, s.modality, s.num_instances) for s in series] == [(pacs.ct_series, "CT", 4)]


@pytest.mark.parametrize("kind", ["ct", "cr"])
def test_get_retrieves_a_series_with_the_same_pixels(pacs: PacsContent, tmp_path: Path, kind: str) -> None:
    study, series, originals = ((pacs.ct_study, pacs.ct_series, pacs.ct_paths) if kind == "ct"
                                else (pacs.cr_study, pacs.cr_series, [pacs.cr_path]))
    written = json.loads(cli("pacs", "get", *login(pacs), "--study", study, "--series", series,
                             "--out", str(tmp_path)).stdout)[series]
    assert len(written) == len(originals) and all(Path(p).parent == tmp_path for p in written)
    retrieved, direct = open_scan(written), open_scan([str(p) for p in originals])
    assert retrieved.info == direct.info
    np.testing.assert_array_equal(retrieved.voxels, direct.voxels)


def test_get_a_whole_study_takes_its_image_series_only(pacs: PacsContent, tmp_path: Path) -> None:
    # A report series stored in the study beforehand has no pixels and is left out.
    cli("sr", "--scan", *map(str, pacs.ct_paths), "--answer", ANSWER, "--task", "text-to-region", "--prompt", "p",
        "--out", str(tmp_path / "r.dcm"), "--send", pacs.orthanc.dicomweb, "--user", USER, "--password", PASSWORD)
    written = json.loads(cli("pacs", "get", *login(pacs), "--study", pacs.ct_study, "--out",
                             str(tmp_path / "study")).stdout)
    assert list(written) == [pacs.ct_series] and len(written[pacs.ct_series]) == 4


@pytest.mark.parametrize(("lang", "summary"), [("en", "could not be retrieved or decoded"), ("zh", "无法获取或解码")])
def test_get_writes_every_good_instance_and_names_the_damaged_ones(pacs: PacsContent, tmp_path: Path, lang: str,
                                                                   summary: str) -> None:
    """Instances carrying command elements are written as valid files; the two damaged ones are named, exit
    status 3, and the other 18 open with the pixels of their source files."""
    result = cli("--lang", lang, "pacs", "get", *login(pacs), "--study", pacs.mr_study, "--series", pacs.mr_series,
                 "--out", str(tmp_path), check=False)
    assert result.returncode == 3 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert summary in lines[0] and "2" in lines[0] and len(lines) == 3, result.stderr
    assert sorted(line.split(":")[0].strip() for line in lines[1:]) == sorted(pacs.damaged_uids)
    written = json.loads(result.stdout)[pacs.mr_series]
    assert len(written) == 18
    for path in written:
        dataset = pydicom.dcmread(path)  # a DICOM file with its preamble and file meta, not forced
        assert dataset.file_meta.MediaStorageSOPInstanceUID == dataset.SOPInstanceUID not in pacs.damaged_uids
        assert not [tag for tag in dataset.keys() if tag.group == 0]
    good = [str(path) for number, path in enumerate(pacs.mr_paths) if number not in (6, 12)]
    retrieved, direct = open_scan(written), open_scan(good)
    assert retrieved.info == direct.info and retrieved.info.num_slices == 18
    np.testing.assert_array_equal(retrieved.voxels, direct.voxels)


def test_the_failed_instances_are_named_with_translated_reasons(pacs: PacsContent, tmp_path: Path) -> None:
    from medrega_core.pacs import PacsInstanceError

    retrieval = client(pacs).retrieve_series(pacs.mr_study, pacs.mr_series, tmp_path)
    assert len(retrieval.paths) == 18 and sorted(tmp_path.iterdir()) == sorted(retrieval.paths)
    reasons = {failed.sop_instance_uid: failed.reason for failed in retrieval.failed}
    assert set(reasons) == set(pacs.damaged_uids)
    assert all(isinstance(reason, PacsInstanceError) for reason in reasons.values())
    cut, blank = (reasons[uid] for uid in pacs.damaged_uids)
    assert "cannot be decoded" in cut.localized("en") and "无法解码" in cut.localized("zh")
    assert "without readable image data" in blank.localized("en") and "图像数据" in blank.localized("zh")


def test_a_series_the_pacs_does_not_send_whole_comes_instance_by_instance(pacs: PacsContent, tmp_path: Path) -> None:
    series_uid = str(pydicom.dcmread(pacs.refused_paths[0], stop_before_pixels=True).SeriesInstanceUID)
    with pytest.raises(Exception, match="403"):  # the gateway's refusal, as the PACS gives it
        client(pacs)._client.retrieve_series(REFUSED_STUDY, series_uid)
    retrieval = client(pacs).retrieve_series(REFUSED_STUDY, series_uid, tmp_path)
    assert not retrieval.failed and len(retrieval.paths) == 2
    retrieved, direct = open_scan(list(retrieval.paths)), open_scan([str(p) for p in pacs.refused_paths])
    np.testing.assert_array_equal(retrieved.voxels, direct.voxels)


def test_a_series_larger_than_the_intake_limit_is_not_kept(pacs: PacsContent, tmp_path: Path) -> None:
    from medrega_core.pacs import PacsSeriesTooLargeError

    with pytest.raises(PacsSeriesTooLargeError, match="more than 3 images"):
        client(pacs).retrieve_series(pacs.ct_study, pacs.ct_series, tmp_path / "big", max_images=3)
    assert not list((tmp_path / "big").iterdir())


def test_a_study_without_images_gives_a_clear_error(pacs: PacsContent, tmp_path: Path) -> None:
    with pytest.raises(PacsNoImagesError) as caught:
        client(pacs).retrieve_study(pacs.no_image_study, tmp_path)
    assert "holds no images" in str(caught.value) and not list(tmp_path.iterdir())
    result = cli("--lang", "zh", "pacs", "get", *login(pacs), "--study", pacs.no_image_study, "--out",
                 str(tmp_path), check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "图像" in result.stderr


def _expected_corners(columns: int, rows: int) -> np.ndarray:
    """The model box's corners in DICOM image coordinates, from the stored size alone (0-999 is relative)."""
    x1, y1, x2, y2 = (v / 999 for v in BOX)
    points = [(x1, y1), (x2, y1), (x2, y2), (x1, y2), (x1, y1)]
    return np.array([(x * columns, y * rows) for x, y in points])


@pytest.mark.parametrize("kind", ["ct", "cr"])
def test_sr_for_a_region_validates_and_reads_back_at_the_stored_pixels(pacs: PacsContent, tmp_path: Path,
                                                                       kind: str) -> None:
    import highdicom as hd

    paths = [str(p) for p in pacs.ct_paths] if kind == "ct" else [str(pacs.cr_path)]
    out = tmp_path / "report.sr.dcm"
    slice_arguments = ["--slice", "1"] if kind == "ct" else []
    cli("sr", "--scan", *paths, "--answer", ANSWER, "--task", "text-to-region",
        "--prompt", "<image>\nWhere is <ref>liver</ref>?", *slice_arguments, "--user-box", "10,20,60,80",
        "--model", "tiny-medrega", "--quant", "none", "--out", str(out))

    check = subprocess.run([tool("dciodvfy"), str(out)], capture_output=True, text=True)
    errors = [line for line in (check.stdout + check.stderr).splitlines() if line.startswith("Error")]
    assert not errors, errors
    dump = subprocess.run([tool("dsrdump"), str(out)], capture_output=True, text=True, check=True).stdout
    assert '"1: liver"' in dump and '"User box 1"' in dump and "POLYLINE" in dump
    assert 'CODE:(,,"Finding")=' in dump and '99MEDREGA,"liver")' in dump
    assert '"enlarged, smooth outline"' in dump and "tiny-medrega" in dump and "quantization=none" in dump

    report = hd.sr.srread(out)
    source = pydicom.dcmread(paths[0], stop_before_pixels=True)
    columns, rows = int(source.Columns), int(source.Rows)
    groups = report.content.get_planar_roi_measurement_groups()
    assert [g.tracking_identifier for g in groups] == ["1: liver", "User box 1"]
    model_region, user_region = groups[0].roi, groups[1].roi
    np.testing.assert_allclose(model_region.value, _expected_corners(columns, rows), atol=0.5)
    # Both scans are shown at their stored size (square pixels), so the user's picture pixels are stored pixels.
    assert open_scan(paths).info.size == (columns, rows)
    np.testing.assert_allclose(user_region.value, [(10, 20), (60, 20), (60, 80), (10, 80), (10, 20)], atol=0.5)
    assert report.PatientIdentityRemoved == "YES" and report.PatientID != source.PatientID

    # With identifiers kept (as sent to the PACS), the region references the exact instance shown.
    kept = tmp_path / "kept.sr.dcm"
    cli("sr", "--scan", *paths, "--answer", ANSWER, "--task", "text-to-region", "--prompt", "p", *slice_arguments,
        "--out", str(kept), "--keep-identifiers")
    kept_report = hd.sr.srread(kept)
    shown = sorted(paths, key=lambda p: int(pydicom.dcmread(p).InstanceNumber))[1 if kind == "ct" else 0]
    shown_uid = pydicom.dcmread(shown, stop_before_pixels=True).SOPInstanceUID
    kept_region = kept_report.content.get_planar_roi_measurement_groups()[0].roi
    assert kept_region.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == shown_uid
    assert kept_report.PatientID == source.PatientID and kept_report.StudyInstanceUID == source.StudyInstanceUID
    assert kept_report.SeriesInstanceUID != source.SeriesInstanceUID
    assert str(report.Modality) == "SR" and "Comprehensive SR" in dump.splitlines()[0]


def test_sr_on_a_reformatted_plane_uses_patient_millimetres(pacs: PacsContent, tmp_path: Path) -> None:
    import highdicom as hd

    out = tmp_path / "coronal.sr.dcm"
    cli("sr", "--scan", *map(str, pacs.ct_paths), "--answer", ANSWER, "--task", "text-to-region",
        "--prompt", "p", "--plane", "coronal", "--out", str(out))
    check = subprocess.run([tool("dciodvfy"), str(out)], capture_output=True, text=True)
    assert not [line for line in (check.stdout + check.stderr).splitlines() if line.startswith("Error")]
    report = hd.sr.srread(out)
    region = report.content.get_planar_roi_measurement_groups()[0].roi
    points = np.asarray(region.value)
    assert region.graphic_type.value == "POLYGON" and points.shape == (5, 3)
    # A coronal plane is at one patient y; the corners span x and z.
    assert np.ptp(points[:, 1]) < 1e-3 and np.ptp(points[:, 0]) > 1 and np.ptp(points[:, 2]) > 1


def test_send_to_pacs_stores_the_sr_in_the_source_study(pacs: PacsContent, tmp_path: Path) -> None:
    result = json.loads(cli("sr", "--scan", *map(str, pacs.ct_paths), "--answer", ANSWER, "--task", "text-to-region",
                            "--prompt", "p", "--out", str(tmp_path / "r.dcm"), "--send", pacs.orthanc.dicomweb,
                            "--user", USER, "--password", PASSWORD).stdout)
    assert result["sent"]["study_uid"] == pacs.ct_study
    series = {s["MainDicomTags"]["SeriesInstanceUID"]: s for s in pacs.orthanc.series_of_study(pacs.ct_study)}
    stored = series[result["sent"]["series_uid"]]
    assert stored["MainDicomTags"]["Modality"] == "SR"
    retrieved = client(pacs)._client.retrieve_instance(pacs.ct_study, result["sent"]["series_uid"],
                                                       result["sent"]["sop_instance_uid"])
    assert retrieved.PatientID == "1CT1" and str(retrieved.PatientName) == "CompressedSamples^CT1"
    assert retrieved.StudyInstanceUID == pacs.ct_study


def test_a_refused_store_gives_a_clear_error(pacs: PacsContent, tmp_path: Path) -> None:
    result = cli("sr", "--scan", *map(str, pacs.refused_paths), "--answer", ANSWER, "--task", "text-to-region",
                 "--prompt", "p", "--out", str(tmp_path / "r.dcm"), "--send", pacs.orthanc.dicomweb,
                 "--user", USER, "--password", PASSWORD, check=False)
    assert result.returncode == 2 and "refused to store the report" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_credentials_give_a_clear_error(pacs: PacsContent) -> None:
    with pytest.raises(PacsAuthError, match="refused the login"):
        client(pacs, password="wrong").find_studies()
    result = cli("--lang", "zh", "pacs", "find", "--url", pacs.orthanc.dicomweb, "--user", USER,
                 "--password", "wrong", check=False)
    assert result.returncode == 2 and "登录" in result.stderr and "Traceback" not in result.stderr


def test_a_stopped_orthanc_gives_a_clear_error(tmp_path: Path) -> None:
    server = start_orthanc(tmp_path)
    settings = PacsSettings(server.dicomweb, USER, PASSWORD, timeout_s=5)
    assert PacsClient(settings).find_studies() == []
    server.stop()
    with pytest.raises(PacsUnreachableError, match="cannot be reached") as caught:
        PacsClient(settings).find_studies()
    assert f"127.0.0.1:{server.port}" in str(caught.value)


def test_an_answer_without_regions_still_makes_a_valid_report(tmp_path: Path) -> None:
    out = tmp_path / "plain.sr.dcm"
    cli("sr", "--scan", dicom_file("CT_small.dcm"), "--answer", "The scan shows the abdomen.", "--task", "vqa",
        "--prompt", "<image>\nWhat does the scan show?", "--out", str(out))
    check = subprocess.run([tool("dciodvfy"), str(out)], capture_output=True, text=True)
    assert not [line for line in (check.stdout + check.stderr).splitlines() if line.startswith("Error")]
    dump = subprocess.run([tool("dsrdump"), str(out)], capture_output=True, text=True, check=True).stdout
    assert '"The scan shows the abdomen."' in dump and "SCOORD" not in dump


def test_a_picture_that_is_not_dicom_gives_a_clear_error(tmp_path: Path) -> None:
    from PIL import Image

    png = tmp_path / "picture.png"
    Image.new("L", (64, 48), 128).save(png)
    result = cli("sr", "--scan", str(png), "--answer", ANSWER, "--task", "text-to-region", "--prompt", "p",
                 "--out", str(tmp_path / "r.dcm"), check=False)
    assert result.returncode == 2 and "needs a DICOM scan" in result.stderr and not (tmp_path / "r.dcm").exists()


def test_search_fields_are_checked_before_anything_is_sent() -> None:
    from medrega_core.pacs import PacsQueryError

    with pytest.raises(PacsQueryError, match="YYYYMMDD"):
        StudyQuery(date_from="2024-01-01").filters()
    with pytest.raises(PacsQueryError, match="not a valid DICOM UID"):
        PacsClient(PacsSettings("http://127.0.0.1:9/dicom-web")).list_series("1.2.3/../../studies")
    assert StudyQuery(date_from="20240101", modality="ct").filters() == {"StudyDate": "20240101-",
                                                                         "ModalitiesInStudy": "CT"}


def test_the_scan_keeps_the_source_instance_of_each_slice_and_frame(tmp_path: Path) -> None:
    from intake_fixtures import series_datasets, write_series

    datasets = series_datasets(dicom_file("CT_small.dcm"), 5)
    scan = open_scan([str(p) for p in write_series(datasets, tmp_path)])  # file names shuffled
    assert [s.sop_instance_uid for s in scan.source_instances] == [str(d.SOPInstanceUID) for d in datasets]
    assert scan.source_instance(2).frame_number is None and "PatientID" not in str(scan.info.to_dict())
    frames = open_scan([dicom_file("emri_small.dcm")])
    assert frames.kind == "frames" and [frames.source_instance(0, f).frame_number for f in (0, 3)] == [1, 4]


def test_boxes_on_a_resampled_picture_land_on_the_stored_pixels(tmp_path: Path) -> None:
    import highdicom as hd

    source = pydicom.dcmread(dicom_file("CT_small.dcm"))
    source.PixelSpacing = [0.5, 1.0]  # rows 0.5 mm apart, columns 1 mm: the picture is twice as wide as stored
    path = tmp_path / "anisotropic.dcm"
    source.save_as(path, enforce_file_format=True)
    assert render(open_scan([str(path)])).geometry.width == 2 * int(source.Columns)
    out = tmp_path / "r.sr.dcm"
    cli("sr", "--scan", str(path), "--answer", ANSWER, "--task", "text-to-region", "--prompt", "p", "--out", str(out))
    region = hd.sr.srread(out).content.get_planar_roi_measurement_groups()[0].roi
    np.testing.assert_allclose(region.value, _expected_corners(int(source.Columns), int(source.Rows)), atol=0.5)
