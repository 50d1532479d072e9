"""The same ``Session`` questions through a real vLLM server (CPU) and through the in-process engine.

One server for the module (``tests/vllm_server.py``; a start takes one to two minutes here) on the trained
test checkpoint built with two 32-wide attention heads (vLLM's CPU attention has no kernel for the default
checkpoint's 16-wide ones); the in-process engine loads the same folder. Both engines implement ``medrega_core.engine.Engine``; a session gives the same
updates and regions with either, and a conversation longer than the context loses its oldest
follow-ups through the server as it does in process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from pydicom.data import get_testdata_file

from medrega_core.engine import Engine, EngineSettings, MedRegAEngine, ServerEngine, ServerSettings
from medrega_core.intake import View
from medrega_core.session import Exchange, Session, UserBox
from medrega_core.tasks import PixelBox, Task, parse_answer
from trained_checkpoint import ANSWERS, make_trained_checkpoint
from vllm_server import VllmServer

pytestmark = pytest.mark.slow

CT = get_testdata_file("CT_small.dcm")
BOX = PixelBox(30, 40, 70, 90)
MAX_NEW_TOKENS = 48


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_trained_checkpoint(tmp_path_factory.mktemp("trained-two-heads"), text_heads=2)


@pytest.fixture(scope="module")
def server(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmServer]:
    served = VllmServer(checkpoint, tmp_path_factory.mktemp("session-vllm") / "server.log")
    try:
        yield served.start()
    finally:
        served.stop()


@pytest.fixture(scope="module")
def local(checkpoint: Path) -> MedRegAEngine:
    return MedRegAEngine.load(EngineSettings(str(checkpoint), device="cpu", quant="none",
                                             max_new_tokens=MAX_NEW_TOKENS))


@pytest.fixture(scope="module")
def remote(server: VllmServer, checkpoint: Path) -> ServerEngine:
    return ServerEngine.connect(ServerSettings(server.url, checkpoint=str(checkpoint),
                                               max_new_tokens=MAX_NEW_TOKENS))


def conversation(engine: Engine) -> list[list[tuple[str, tuple, bool]]]:
    """Region-to-text about the user's box on a CT slice, then a grounded report as a new first question
    and a follow-up to it: every update as (text, regions, done)."""
    session = Session.for_case([CT], engine=engine, view=View(window="soft_tissue"), boxes=[UserBox(BOX, "lesion")])
    answers = [list(session.ask(Task.REGION_TO_TEXT))]
    session.new_conversation()
    answers.append(list(session.ask(Task.GROUNDED_REPORT, objects="right lung")))
    answers.append(list(session.ask(Task.VQA, question="Is it normal?", variant="plain")))
    return [[(u.text, tuple((r.name, tuple(r.boxes), r.description) for r in u.regions), u.done) for u in answer]
            for answer in answers]


def test_a_session_gets_the_same_updates_and_regions_in_process_and_through_the_server(
        local: MedRegAEngine, remote: ServerEngine) -> None:
    assert isinstance(local, Engine) and isinstance(remote, Engine)
    in_process, served = conversation(local), conversation(remote)
    assert served == in_process
    region_to_text, grounded, _follow_up = served
    assert region_to_text[-1][0] == ANSWERS[Task.REGION_TO_TEXT] and region_to_text[-1][2]
    expected = parse_answer(ANSWERS[Task.GROUNDED_REPORT]).regions
    assert grounded[-1][1] == tuple((r.name, tuple(r.boxes), r.description) for r in expected)
    assert any(regions for _text, regions, done in grounded if not done), "regions arrive while the answer streams"


def test_the_server_engine_leaves_out_old_follow_ups_as_the_local_engine_does(
        local: MedRegAEngine, remote: ServerEngine) -> None:
    assert remote.context_tokens() == local.context_tokens() == 2048
    session = Session.for_case([CT], engine=remote, boxes=[BOX])
    list(session.ask(Task.REGION_TO_TEXT))
    for turn in range(6):  # follow-ups with long answers: together longer than the model's context
        session.exchanges.append(Exchange("vqa", f"Question {turn}?", "word " * 300, session.render_view()))
    question = "Is it large?"
    fit = remote.fit_history(question, session.history)
    assert fit == local.fit_history(question, session.history) and fit.dropped_turns > 0
    # Without fitting, the server refuses a prompt longer than its context.
    last = list(session.ask(Task.VQA, question=question, variant="plain"))[-1]
    assert last.done and session.exchanges[-1].dropped_turns == fit.dropped_turns
    assert last.result.input_ids == local.prompt_ids(session.exchanges[-1].prompt, fit.history)
    # The engine fits by itself too when called directly.
    direct = remote.generate(session.render_view().rgb, question, session.history[:-1], max_new_tokens=4)
    assert direct.dropped_turns == fit.dropped_turns
