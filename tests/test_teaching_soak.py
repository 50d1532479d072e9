"""A class of 30 on one app process: every resident client joins, then all submit at the same moment,
for two cases. No request fails, and every stored answer is the one its resident sent, scored
against the reference (loopback only; the counts and time bounds are below)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from gradio_client import Client

from medrega_core.tasks import PixelBox, iou
from teaching_fixtures import teaching_url  # noqa: F401  (fixture)
from teaching_fixtures import REFERENCE_BOXES, TEACHER_PASSWORD, prepare_cases

pytestmark = pytest.mark.slow

RESIDENTS = 30
#: Seconds one wave (every resident submitting at once) may take, all answers stored.
WAVE_SECONDS = 120


def resident_box(number: int) -> dict:
    """A different box for each resident, inside the 128 x 128 picture."""
    return {"xmin": 10 + number, "ymin": 20 + number % 7, "xmax": 70 + number, "ymax": 90 + number % 5,
            "label": f"box of resident {number}"}


def test_thirty_residents_submit_at_once(teaching_url: str) -> None:
    teacher = Client(teaching_url, verbose=False)
    code = teacher.predict(TEACHER_PASSWORD, prepare_cases(teacher), api_name="/teach_start")
    clients = [Client(teaching_url, verbose=False) for _ in range(RESIDENTS)]
    reference = PixelBox(*(REFERENCE_BOXES[0][k] for k in ("xmin", "ymin", "xmax", "ymax")))

    for case_number in (1, 2):
        start = threading.Barrier(RESIDENTS, timeout=WAVE_SECONDS)

        def resident(number: int) -> dict:
            client, name = clients[number], f"Resident {number:02d}"
            try:
                joined = client.predict(code, name, api_name="/class_join")
                assert joined["number"] == case_number
            except BaseException:
                start.abort()  # the others stop waiting: the error is reported, not a hang
                raise
            start.wait()  # everyone submits at the same moment
            boxes = [resident_box(number)] if case_number == 1 else []
            return client.predict(code, name, boxes, f"answer {number} to case {case_number}",
                                  api_name="/class_submit")

        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=RESIDENTS) as pool:
            results = list(pool.map(resident, range(RESIDENTS), timeout=WAVE_SECONDS))
        assert time.monotonic() - began < WAVE_SECONDS
        for number, result in enumerate(results):
            if case_number == 1:
                box = resident_box(number)
                expected = iou(PixelBox(box["xmin"], box["ymin"], box["xmax"], box["ymax"]), reference)
                assert result["iou"] == [pytest.approx(expected, abs=1e-4)], number
                assert result["boxes"][0]["label"] == box["label"]
            else:
                assert result["iou"] == []
        if case_number == 1:
            assert teacher.predict(TEACHER_PASSWORD, code, api_name="/teach_next") == 2

    rows = teacher.predict(TEACHER_PASSWORD, code, api_name="/teach_results")
    assert len(rows) == 2 * RESIDENTS
    for row in rows:
        number = int(row["name"].split()[-1])
        assert row["answer"] == f"answer {number} to case {row['case']}"  # nothing lost, nothing mixed
        if row["case"] == 1:
            assert row["boxes"][0]["label"] == f"box of resident {number}"
            assert row["boxes"][0]["xmin"] == 10 + number
