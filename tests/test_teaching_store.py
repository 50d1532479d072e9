"""The teaching store without the UI: migrations, de-identified case files, scoring, sessions, the
case-set zip, results. Real SQLite files, real DICOM files (pydicom's test data)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import zipfile
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from sqlalchemy import create_engine, inspect

from intake_fixtures import series_datasets, write_series
from medrega_core.tasks import PixelBox, iou
from medrega_core.teaching import (
    CaseError, TeachingStore, export_case_set, import_case_set, pair_boxes, result_rows, results_csv,
)

CT = get_testdata_file("CT_small.dcm")
REFERENCE = [{"xmin": 10, "ymin": 20, "xmax": 60, "ymax": 70, "label": "vertebra"},
             {"xmin": 70, "ymin": 30, "xmax": 110, "ymax": 90, "label": "aorta"}]


@pytest.fixture()
def store(tmp_path: Path) -> TeachingStore:
    return TeachingStore(TeachingStore.default_url(tmp_path), tmp_path / "cases")


def add_ct_case(store: TeachingStore, **changes) -> int:
    arguments = {"set_title": "Spine", "paths": [CT], "view": {"plane": "axial", "window": "bone"},
                 "boxes": REFERENCE, "question": "vertebra, aorta", "task": "text-to-region",
                 "reference_answer": "L1 vertebral body and the aorta"} | changes
    return store.add_case(**arguments)


def test_migrations_create_the_schema_once_and_a_reopened_store_keeps_everything(tmp_path: Path) -> None:
    first = TeachingStore(TeachingStore.default_url(tmp_path), tmp_path / "cases")
    case_id = add_ct_case(first)
    code = first.start_session([case_id])
    first.join(code, "Ann")
    first.submit(code, "Ann", REFERENCE[:1], "L1")
    tables = set(inspect(create_engine(TeachingStore.default_url(tmp_path))).get_table_names())
    assert {"alembic_version", "case_sets", "cases", "class_sessions", "participants", "answers"} <= tables
    again = TeachingStore(TeachingStore.default_url(tmp_path), tmp_path / "cases")  # upgrade on a current schema
    assert again.case(case_id).reference_answer == "L1 vertebral body and the aorta"
    assert [row["name"] for row in result_rows(again, code)] == ["Ann"]


def test_case_files_are_de_identified_and_still_open(store: TeachingStore) -> None:
    case = store.case(add_ct_case(store))
    original = pydicom.dcmread(CT)
    stored = pydicom.dcmread(case.paths[0])
    assert str(stored.PatientName) != str(original.PatientName)
    assert stored.PatientID != original.PatientID
    assert stored.PatientIdentityRemoved == "YES"
    assert stored.pixel_array.tolist() == original.pixel_array.tolist()
    assert case.picture_size == (128, 128) and case.view["window"] == "bone"
    assert "<ref>vertebra</ref>" in case.prompt and "<ref>aorta</ref>" in case.prompt


def test_a_series_stays_one_series_after_de_identification(store: TeachingStore, tmp_path: Path) -> None:
    files = write_series(series_datasets(CT, 4), tmp_path / "series")
    case = store.case(store.add_case("Set", files, {"plane": "axial", "slice": 2}, [], "What is shown?", "free"))
    uids = {pydicom.dcmread(p).SeriesInstanceUID for p in case.paths}
    assert len(case.paths) == 4 and len(uids) == 1
    assert uids != {pydicom.dcmread(files[0]).SeriesInstanceUID}
    assert store.scan(case.id).num_slices("axial") == 4 and case.view["slice"] == 2


def test_bad_cases_are_refused_and_leave_no_files(store: TeachingStore) -> None:
    with pytest.raises(CaseError):
        add_ct_case(store, boxes=[{"xmin": 10, "ymin": 10, "xmax": 500, "ymax": 50}])  # outside 128 x 128
    with pytest.raises(CaseError):
        add_ct_case(store, task="diagnosis")
    with pytest.raises(CaseError):
        add_ct_case(store, task="region-to-text", boxes=[])
    assert not any((store.files_root).iterdir())


def test_pairing_maximises_the_summed_iou_one_to_one() -> None:
    reference = [PixelBox(0, 0, 10, 10), PixelBox(5, 0, 15, 10)]
    # Greedy pairing would give the first box the second reference (IoU 0.6 > 0.5) and leave 0 for
    # the other; the best one-to-one pairing is crosswise.
    submitted = [PixelBox(3, 0, 13, 10), PixelBox(0, 0, 8, 10)]
    scores = pair_boxes(submitted, reference)
    assert [s.reference for s in scores] == [1, 0]
    best = max(sum(iou(s, reference[j]) for s, j in zip(submitted, order))
               for order in itertools.permutations(range(2)))
    assert sum(s.iou for s in scores) == pytest.approx(best)
    assert pair_boxes([PixelBox(50, 50, 60, 60)], reference)[0].reference is None
    assert [s.iou for s in pair_boxes(reference, [])] == [0.0, 0.0]


def test_a_session_scores_each_resident_once_and_hides_the_reference_before_submit(store: TeachingStore) -> None:
    first, second = add_ct_case(store), add_ct_case(store, task="free", question="Which level?", boxes=[])
    store.set_model_answer(first, "<ref>vertebra</ref><box>[[100, 150, 450, 550]]</box>")
    code = store.start_session([first, second])
    session, case = store.join(code.lower(), "  Ann  Lee ")
    public = json.dumps(case.public())
    assert "L1 vertebral body" not in public and "xmin" not in public and "[[100" not in public
    drawn = [{"xmin": 12, "ymin": 22, "xmax": 58, "ymax": 72, "label": "mine"}]
    scored = store.submit(code, "Ann Lee", drawn, "")
    expected = iou(PixelBox(12, 22, 58, 72), PixelBox(10, 20, 60, 70))
    assert scored.ious == (round(expected, 4),) and scored.hits == (True,)
    with pytest.raises(CaseError):
        store.submit(code, "Ann Lee", drawn, "again")
    with pytest.raises(CaseError):
        store.submit(code, "Bo", [], "")  # neither a box nor a word
    assert store.next_case(code).current == 1
    with pytest.raises(CaseError):
        store.next_case(code)
    store.join(code, "Bo")
    store.submit(code, "Bo", [], "L2")
    store.reveal(code)
    with pytest.raises(CaseError):
        store.submit(code, "Ann Lee", [], "too late")
    rows = result_rows(store, code)
    assert [(r["name"], r["case"], r["answer"]) for r in rows] == [("Ann Lee", 1, ""), ("Bo", 2, "L2")]
    parsed = list(csv.DictReader(io.StringIO(results_csv(rows))))
    assert json.loads(parsed[0]["iou"]) == [round(expected, 4)] and json.loads(parsed[0]["hit"]) == [True]
    with pytest.raises(CaseError):
        store.join("NOPE42", "Ann")


def test_a_case_set_travels_as_one_zip(store: TeachingStore, tmp_path: Path) -> None:
    ids = [add_ct_case(store), add_ct_case(store, task="free", question="Which level?", boxes=[])]
    store.set_model_answer(ids[0], "<ref>vertebra</ref><box>[[100, 150, 450, 550]]</box>")
    target = export_case_set(store, "Spine", ids, tmp_path / "spine.zip")
    with zipfile.ZipFile(target) as archive:
        manifest = json.loads(archive.read("case-set.json"))
        assert sorted(archive.namelist()) == ["case-1/00000.dcm", "case-2/00000.dcm", "case-set.json"]
    assert manifest["cases"][0]["reference_boxes"][1]["label"] == "aorta"
    colleague = TeachingStore(TeachingStore.default_url(tmp_path / "other"), tmp_path / "other" / "cases")
    title, new_ids = import_case_set(colleague, target)
    assert title == "Spine" and len(new_ids) == 2
    copied = colleague.case(new_ids[0])
    assert copied.reference_boxes == store.case(ids[0]).reference_boxes
    assert copied.model_answer.startswith("<ref>vertebra</ref>") and copied.prompt == store.case(ids[0]).prompt
    assert import_case_set(colleague, target)[0] == "Spine (2)"
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("case-set.json", "{}")
    with pytest.raises(CaseError):
        import_case_set(colleague, broken)
