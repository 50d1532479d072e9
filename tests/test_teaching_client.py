"""The teaching endpoints over the real app's API (``gradio_client``), on the trained checkpoint."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from medrega_core.tasks import PixelBox, iou, parse_answer, to_pixels
from teaching_fixtures import teaching_url  # noqa: F401  (fixture)
from teaching_fixtures import REFERENCE_ANSWER, REFERENCE_BOXES, TEACHER_PASSWORD, prepare_cases
from trained_checkpoint import ANSWERS

pytestmark = pytest.mark.slow

MODEL_ANSWER = ANSWERS["text-to-region"]


def test_teacher_endpoints_need_the_key(teaching_url: str) -> None:
    client = Client(teaching_url, verbose=False)
    with pytest.raises(Exception, match="password or token is wrong"):
        client.predict("wrong", [1], api_name="/teach_start")


def test_a_two_case_session_over_the_api(teaching_url: str, tmp_path: Path) -> None:
    teacher = Client(teaching_url, verbose=False)
    case_ids = prepare_cases(teacher)
    code = teacher.predict(TEACHER_PASSWORD, case_ids, api_name="/teach_start")
    resident = Client(teaching_url, verbose=False)

    joined = resident.predict(code, "Ann", api_name="/class_join")
    shown = json.dumps(joined)
    assert joined["case"]["case_id"] == case_ids[0] and joined["number"] == 1 and joined["count"] == 2
    assert REFERENCE_ANSWER not in shown and "vertebral body" not in shown and "<ref>" not in shown
    assert joined["case"]["boxes"] == []

    with pytest.raises(Exception, match="Submit your answer first"):  # no model answer before one's own
        resident.predict(code, "Ann", "Is it fractured?", api_name="/class_ask")
    drawn = [{"xmin": 35, "ymin": 45, "xmax": 95, "ymax": 100, "label": "mine"}]
    result = resident.predict(code, "Ann", drawn, "L1", api_name="/class_submit")
    reference = REFERENCE_BOXES[0]
    expected = iou(PixelBox(35, 45, 95, 100), PixelBox(reference["xmin"], reference["ymin"], reference["xmax"],
                                                        reference["ymax"]))
    assert result["iou"] == [pytest.approx(expected, abs=1e-4)] and result["hit"] == [expected >= 0.5]
    assert result["reference_answer"] == REFERENCE_ANSWER and result["model_answer"] == MODEL_ANSWER
    assert result["reference_boxes"][0]["label"] == "vertebral body" and result["seconds"] >= 0
    model_box = to_pixels(parse_answer(result["model_answer"]).regions[0].boxes[0], 128, 128)
    assert model_box.x1 == pytest.approx(231 / 999 * 128, abs=0.2)
    with pytest.raises(Exception, match="already answered"):
        resident.predict(code, "Ann", drawn, "L1", api_name="/class_submit")
    asked = resident.predict(code, "Ann", "Is it fractured?", api_name="/class_ask")
    assert asked["case_id"] == case_ids[0] and asked["question"] == "Is it fractured?" and asked["answer"].strip()
    with pytest.raises(Exception, match="Type a question first"):
        resident.predict(code, "Ann", "  ", api_name="/class_ask")

    assert teacher.predict(TEACHER_PASSWORD, code, api_name="/teach_next") == 2
    assert resident.predict(code, "Ann", api_name="/class_join")["case"]["case_id"] == case_ids[1]
    resident.predict(code, "Ann", [], "T12", api_name="/class_submit")

    rows = teacher.predict(TEACHER_PASSWORD, code, api_name="/teach_results")
    assert [(r["name"], r["case"], r["answer"]) for r in rows] == [("Ann", 1, "L1"), ("Ann", 2, "T12")]
    assert rows[0]["iou"] == [pytest.approx(expected, abs=1e-4)] and rows[1]["iou"] == []

    exported = teacher.predict(TEACHER_PASSWORD, "Class test", case_ids, api_name="/teach_export_set")
    with zipfile.ZipFile(exported) as archive:
        manifest = json.loads(archive.read("case-set.json"))
    assert [c["task"] for c in manifest["cases"]] == ["text-to-region", "free"]
    assert manifest["cases"][0]["model_answer"] == MODEL_ANSWER
    imported = teacher.predict(TEACHER_PASSWORD, handle_file(exported), api_name="/teach_import_set")
    assert imported["title"] == "Class test (2)" and len(imported["case_ids"]) == 2
