"""The model's part in a class without the UI: a case answered now and a resident's follow-up, both
through a ``Session`` on the trained test checkpoint (real DICOM, real SQLite store)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from medrega_core.engine import EngineSettings, MedRegAEngine
from medrega_core.session import Session
from medrega_core.tasks import Task
from medrega_core.teaching import TeachingStore, answer_case, continue_from_model_answer
from trained_checkpoint import ANSWERS

CT = get_testdata_file("CT_small.dcm")
REFERENCE = [{"xmin": 10, "ymin": 20, "xmax": 60, "ymax": 70, "label": "vertebra"}]


@pytest.fixture(scope="module")
def engine(trained_checkpoint: Path) -> MedRegAEngine:
    return MedRegAEngine.load(EngineSettings(str(trained_checkpoint), device="cpu", quant="none", max_new_tokens=48))


@pytest.fixture()
def store(tmp_path: Path) -> TeachingStore:
    return TeachingStore(TeachingStore.default_url(tmp_path), tmp_path / "cases")


def add_case(store: TeachingStore, task: str, question: str) -> int:
    return store.add_case(set_title="Spine", paths=[CT], view={"plane": "axial", "window": "bone"}, boxes=REFERENCE,
                          question=question, task=task, reference_answer="L1")


@pytest.mark.parametrize("task, question", [("text-to-region", "vertebra"), ("region-to-text", "")])
def test_the_model_answers_a_case_on_its_picture_and_the_answer_is_stored(engine, store, task, question) -> None:
    case_id = add_case(store, task, question)
    answer = answer_case(store, case_id, engine)
    assert answer == ANSWERS[task]
    assert store.case(case_id).model_answer == answer


def test_a_residents_question_follows_the_models_answer(engine, store) -> None:
    case_id = add_case(store, "text-to-region", "vertebra")
    answer_case(store, case_id, engine)
    case = store.case(case_id)
    resident = Session(engine=engine)
    resident.show_scan(store.scan(case_id))
    continue_from_model_answer(resident, case)
    continue_from_model_answer(resident, case)  # once only
    assert [(e.prompt, e.answer) for e in resident.exchanges] == [(case.prompt, ANSWERS["text-to-region"])]
    updates = list(resident.ask(Task.FREE, question="Is it fractured?"))
    first, follow_up = resident.exchanges
    assert follow_up.prompt == "Is it fractured?"  # a follow-up: no second <image>
    assert first.rendering.rgb.shape == follow_up.rendering.rgb.shape
    assert updates[-1].done and updates[-1].text == follow_up.answer != ""


def test_without_a_stored_answer_the_first_question_carries_the_picture(engine, store) -> None:
    case_id = add_case(store, "free", "What is shown?")
    resident = Session(engine=engine)
    resident.show_scan(store.scan(case_id))
    continue_from_model_answer(resident, store.case(case_id))
    assert resident.exchanges == []
    list(resident.ask(Task.FREE, question="What is shown?"))
    assert resident.exchanges[0].prompt.startswith("<image>")
