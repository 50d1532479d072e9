"""The teaching store without the UI: migrations, de-identified case files, scoring, sessions, a class
submitting at once, the case-set zip, results. Each store test runs on a real SQLite file (the app's
default) and on a real PostgreSQL server started by the tests (a department's database,
``tests/postgres_fixtures.py``); real DICOM files (pydicom's test data)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pydicom
import pytest
from pydicom.data import get_testdata_file
from sqlalchemy import create_engine, inspect

from intake_fixtures import series_datasets, write_series
from medrega_core.tasks import PixelBox, iou
from medrega_core.teaching import (
    CaseError, TeachingStore, export_case_set, import_case_set, pair_boxes, result_rows, results_csv,
)
from postgres_fixtures import PostgresCluster
from postgres_fixtures import postgres  # noqa: F401  (fixture)

CT = get_testdata_file("CT_small.dcm")
REFERENCE = [{"xmin": 10, "ymin": 20, "xmax": 60, "ymax": 70, "label": "vertebra"},
             {"xmin": 70, "ymin": 30, "xmax": 110, "ymax": 90, "label": "aorta"}]


RESIDENTS = 30
#: Pairs of simultaneous submits by one resident (a race shows in some rounds, not in every one).
ROUNDS = 10


@dataclass(frozen=True)
class Database:
    """An empty database for one test: its SQLAlchemy URL and, for PostgreSQL, the server holding it."""

    url: str
    server: PostgresCluster | None = None

    def restart(self) -> None:
        """Stop and start the database server (a SQLite file has none: a new store is the restart)."""
        if self.server is not None:
            self.server.stop()
            self.server.start()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "sqlite":
        return Database(TeachingStore.default_url(tmp_path))
    server = request.getfixturevalue("postgres")
    return Database(server.new_database(), server)


@pytest.fixture()
def store(database: Database, tmp_path: Path) -> Iterator[TeachingStore]:
    opened = TeachingStore(database.url, tmp_path / "cases")
    yield opened
    opened.engine.dispose()


def add_ct_case(store: TeachingStore, **changes) -> int:
    arguments = {"set_title": "Spine", "paths": [CT], "view": {"plane": "axial", "window": "bone"},
                 "boxes": REFERENCE, "question": "vertebra, aorta", "task": "text-to-region",
                 "reference_answer": "L1 vertebral body and the aorta"} | changes
    return store.add_case(**arguments)


def test_migrations_create_the_schema_once_and_a_reopened_store_keeps_everything(database: Database,
                                                                                  tmp_path: Path) -> None:
    empty = create_engine(database.url)
    assert inspect(empty).get_table_names() == []
    first = TeachingStore(database.url, tmp_path / "cases")
    case_id = add_ct_case(first)
    code = first.start_session([case_id])
    first.join(code, "Ann")
    first.submit(code, "Ann", REFERENCE[:1], "L1")
    tables = set(inspect(empty).get_table_names())
    assert {"alembic_version", "case_sets", "cases", "class_sessions", "participants", "answers"} <= tables
    empty.dispose()
    first.engine.dispose()
    database.restart()
    again = TeachingStore(database.url, tmp_path / "cases")  # upgrade on a current schema
    assert again.case(case_id).reference_answer == "L1 vertebral body and the aorta"
    assert [row["name"] for row in result_rows(again, code)] == ["Ann"]
    again.engine.dispose()


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


def resident_box(number: int) -> dict:
    """A different box for each resident, inside the 128 x 128 picture."""
    return {"xmin": 5 + number, "ymin": 10 + number % 7, "xmax": 60 + number, "ymax": 80 + number % 5,
            "label": f"box of resident {number}"}


def at_once(count: int, work) -> list:
    """``work(0) ... work(count - 1)`` in as many threads, released together; their results in order."""
    start = threading.Barrier(count, timeout=60)

    def released(number: int):
        start.wait()
        return work(number)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(released, range(count), timeout=120))


def test_a_class_of_thirty_joins_and_submits_at_once_and_a_restart_loses_nothing(
        database: Database, store: TeachingStore, tmp_path: Path) -> None:
    case_id = add_ct_case(store)
    code = store.start_session([case_id])
    names = [f"Resident {number:02d}" for number in range(RESIDENTS)]
    joined = at_once(RESIDENTS, lambda number: store.join(code, names[number])[1].id)
    assert joined == [case_id] * RESIDENTS
    scored = at_once(RESIDENTS, lambda number: store.submit(code, names[number], [resident_box(number)],
                                                            f"answer of resident {number}"))
    reference = PixelBox(*(REFERENCE[0][k] for k in ("xmin", "ymin", "xmax", "ymax")))
    for number, answer in enumerate(scored):
        box = resident_box(number)
        drawn = PixelBox(box["xmin"], box["ymin"], box["xmax"], box["ymax"])
        best = max(iou(drawn, reference), iou(drawn, PixelBox(70, 30, 110, 90)))
        assert (answer.name, answer.answer) == (names[number], f"answer of resident {number}")
        assert answer.ious == (round(best, 4),)
        # Seconds since the join, not hours: timestamps read back in the database's time zone compare right.
        assert 0 <= answer.seconds < 60
    store.engine.dispose()
    database.restart()
    reopened = TeachingStore(database.url, tmp_path / "cases")
    everyone, answers = reopened.answers(code)
    assert sorted(everyone) == names and len(answers) == RESIDENTS
    rows = result_rows(reopened, code)
    assert [row["name"] for row in rows] == names
    for number, row in enumerate(rows):  # nothing lost, nothing mixed
        assert row["answer"] == f"answer of resident {number}"
        assert row["boxes"] == [resident_box(number)]
        assert row["iou"] == list(scored[number].ious)
    reopened.engine.dispose()


def test_a_resident_submitting_twice_at_once_is_stored_once(store: TeachingStore) -> None:
    """Two tabs of one resident (or a double click) submit together: one answer counts, the other is told."""
    code = store.start_session([add_ct_case(store)])
    for number in range(ROUNDS):
        name = f"Twice {number}"
        store.join(code, name)

        def submit(tab: int) -> str:
            try:
                store.submit(code, name, [resident_box(tab)], f"tab {tab}")
                return f"tab {tab}"
            except CaseError:
                return "refused"

        outcomes = at_once(2, submit)
        stored = store.answer_of(code, name, store.session(code).current_case_id)
        assert sorted(outcomes) == sorted(["refused", stored.answer]), outcomes


def test_names_too_long_for_the_database_are_refused_with_a_message(store: TeachingStore) -> None:
    with pytest.raises(CaseError):
        add_ct_case(store, set_title="Spine " * 50)
    assert store.case_sets() == []
    assert not any(store.files_root.iterdir())


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
