"""``medrega_core.session.Session``: one case asked about without any UI, on the trained test checkpoint.

A held-out-like scan (a real CT slice the checkpoint never saw), a box, region-to-text and a grounded
report through the in-process engine; Stop, history fitting, the answer's picture and the export.
The same questions through a vLLM server: ``tests/test_session_vllm.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from conftest import REPO_ROOT
from pacs_fixtures import PASSWORD, USER, PacsContent, pacs  # noqa: F401  (fixture)
from medrega_core.engine import EngineSettings, MedRegAEngine
from medrega_core.intake import View
from medrega_core.session import AnswerUpdate, Exchange, NoEngineError, NoScanError, Session, UserBox
from medrega_core.tasks import PixelBox, Task, parse_answer, to_model
from trained_checkpoint import ANSWERS

CT = get_testdata_file("CT_small.dcm")
MR = get_testdata_file("MR_small.dcm")
#: A box on CT_small (128 x 128), in picture pixels.
BOX = PixelBox(30, 40, 70, 90)


@pytest.fixture(scope="module")
def engine(trained_checkpoint: Path) -> MedRegAEngine:
    return MedRegAEngine.load(EngineSettings(str(trained_checkpoint), device="cpu", quant="none", max_new_tokens=48))


def case(engine: MedRegAEngine | None) -> Session:
    return Session.for_case([CT], engine=engine, view=View(window="soft_tissue"), boxes=[UserBox(BOX, "lesion")])


def test_importing_the_session_loads_neither_torch_nor_gradio() -> None:
    code = "import sys, medrega_core.session; print(sorted({'torch', 'gradio'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    assert result.stdout.strip() == "[]"


def test_asking_before_a_scan_or_without_an_engine_says_what_is_missing(engine: MedRegAEngine) -> None:
    with pytest.raises(NoScanError) as no_scan:
        Session(engine).ask(Task.VQA, question="What is shown?")
    assert no_scan.value.localized("en") == "Load a scan first." and no_scan.value.localized("zh") != "Load a scan first."
    with pytest.raises(NoEngineError) as no_engine:
        case(None).ask(Task.REGION_TO_TEXT)
    assert no_engine.value.localized("zh") != no_engine.value.localized("en")


def test_region_to_text_about_the_users_box_streams_the_trained_answer(engine: MedRegAEngine) -> None:
    session = case(engine)
    request = session.request(Task.REGION_TO_TEXT)
    assert request.box == BOX and request.image_size == (128, 128)
    prompt = session.prompt_for(request)
    assert f"<box>[{to_model(BOX, 128, 128).as_text()}]</box>" in prompt and prompt.count("<image>") == 1
    updates = list(session.ask(Task.REGION_TO_TEXT))
    *partials, last = updates
    assert partials and not any(u.done for u in partials) and last.done
    assert all(later.text.startswith(earlier.text) for earlier, later in zip(partials, partials[1:]))
    assert last.text == ANSWERS[Task.REGION_TO_TEXT] and last.regions == [] and last.result.finish_reason == "stop"
    exchange = session.exchanges[-1]
    assert (exchange.task, exchange.prompt, exchange.answer) == ("region-to-text", prompt, last.text)
    assert exchange.user_boxes == (UserBox(BOX, "lesion"),) and exchange.speed[0] == len(last.result.output_ids)
    # The model was sent the picture shown, with the window the user chose.
    assert np.array_equal(exchange.rendering.rgb, session.render_view().rgb)
    assert exchange.rendering.view.window == "soft_tissue"


def test_a_follow_up_keeps_the_conversation_and_exports_the_latest_answer(engine: MedRegAEngine,
                                                                           tmp_path: Path) -> None:
    session = case(engine)
    list(session.ask(Task.REGION_TO_TEXT))
    first = session.exchanges[0].prompt
    follow_up = session.request(Task.GROUNDED_REPORT, objects="right lung")
    prompt = session.prompt_for(follow_up)
    assert "<image>" not in prompt
    updates = list(session.ask(Task.GROUNDED_REPORT, objects="right lung"))
    last = updates[-1]
    assert last.done and [u.answer for u in updates] == [parse_answer(u.text) for u in updates]
    assert session.history == [(first, ANSWERS[Task.REGION_TO_TEXT]), (prompt, last.text)]
    assert last.result.input_ids == engine.prompt_ids(prompt, [(first, ANSWERS[Task.REGION_TO_TEXT])])
    assert session.parsed == last.answer
    picture = session.answer_picture()
    assert picture.shape == (128, 128, 3) and picture.dtype == np.uint8
    files = session.export(tmp_path)
    record = json.loads(files.json.read_text(encoding="utf-8"))
    assert record["task"] == "grounded-report" and record["prompt"] == prompt and record["answer"] == last.text
    session.new_conversation()
    assert session.history == [] and session.user_boxes == [UserBox(BOX, "lesion")]
    assert "<image>" in session.prompt_for(follow_up)


def test_a_grounded_report_on_the_ct_gives_the_trained_regions(engine: MedRegAEngine) -> None:
    session = case(engine)
    updates = list(session.ask(Task.GROUNDED_REPORT, objects=["right lung"]))
    expected = parse_answer(ANSWERS[Task.GROUNDED_REPORT]).regions
    last = updates[-1]
    assert [(r.name, r.boxes, r.description) for r in last.regions] == \
        [(r.name, r.boxes, r.description) for r in expected]
    # Boxes appear while the answer streams, before it ends.
    assert any(u.answer.boxes for u in updates[:-1])
    picture = session.answer_picture(selected_region=0)
    x1, y1, x2, y2 = (round(v) for v in expected[0].pixel_boxes(128, 128)[0].as_tuple())
    plain = session.render_view().rgb
    assert not np.array_equal(picture[y1:y2, x1], plain[y1:y2, x1]), "the region's box is drawn"


def test_stop_ends_the_answer_with_the_text_so_far(tiny_engine) -> None:
    session = Session.for_case([CT], engine=tiny_engine)
    updates = []
    for update in session.ask(Task.VQA, question="Describe everything.", variant="plain"):
        updates.append(update)
        if len(updates) == 1:
            threading.Thread(target=session.stop).start()
    last = updates[-1]
    assert last.done and last.result.finish_reason == "cancelled"
    assert len(last.result.output_ids) < tiny_engine.settings.generation().max_new_tokens


def test_a_conversation_longer_than_the_context_leaves_out_old_follow_ups(trained_checkpoint: Path) -> None:
    small = MedRegAEngine.load(EngineSettings(str(trained_checkpoint), device="cpu", quant="none",
                                              max_new_tokens=16, context_tokens=900))
    session = case(small)
    list(session.ask(Task.REGION_TO_TEXT))
    for turn in range(4):  # earlier follow-ups with long answers, as a long conversation has
        session.exchanges.append(Exchange("vqa", f"Question {turn}?", "word " * 60, session.render_view()))
    fit = small.fit_history("Is it large?", session.history)
    assert fit.dropped_turns > 0
    last = list(session.ask(Task.VQA, question="Is it large?", variant="plain"))[-1]
    assert session.exchanges[-1].dropped_turns == fit.dropped_turns and last.done
    assert len(last.result.input_ids) + 16 <= 900
    assert last.result.input_ids == small.prompt_ids(session.exchanges[-1].prompt, fit.history)


def test_opening_a_file_that_fails_closes_the_open_case(engine: MedRegAEngine, tmp_path: Path) -> None:
    from medrega_core.errors import ScanError

    session = case(engine)
    list(session.ask(Task.REGION_TO_TEXT))
    bad = tmp_path / "random.dcm"
    bad.write_bytes(np.random.default_rng(5).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(ScanError):
        session.open([bad])
    assert session.scan is None and session.user_boxes == [] and session.exchanges == [] and session.view is None
    session.open([MR])
    assert session.scan.info.modality == "MR" and session.scan_paths == [MR] and session.exchanges == []


def test_a_pacs_series_opens_as_a_case_and_is_asked_about(engine: MedRegAEngine, pacs: PacsContent,
                                                          tmp_path: Path) -> None:
    from medrega_core.pacs import PacsClient, PacsSettings

    session = Session(engine)
    client = PacsClient(PacsSettings(pacs.orthanc.dicomweb, USER, PASSWORD))
    session.open_pacs_series(client, pacs.ct_study, pacs.ct_series, tmp_path)
    assert session.scan.num_slices("axial") == 4 and all(Path(p).parent == tmp_path for p in session.scan_paths)
    session.set_view(View(slice_index=2))
    session.set_boxes([BOX])
    last = list(session.ask(Task.REGION_TO_TEXT))[-1]
    assert last.text == ANSWERS[Task.REGION_TO_TEXT] and session.exchanges[-1].rendering.view.slice_index == 2


def test_the_view_and_the_box_asked_about_are_the_sessions(engine: MedRegAEngine) -> None:
    session = case(engine)
    session.set_boxes([BOX, UserBox(PixelBox(80, 80, 120, 110), "second")], selected=0)
    assert session.asked_box == 0 and session.request(Task.REGION_TO_TEXT).box == BOX
    session.select_box(None)
    assert session.request(Task.REGION_TO_TEXT).box == PixelBox(80, 80, 120, 110)
    with pytest.raises(IndexError):
        session.select_box(2)
    session.set_view(View(window="bone"))
    assert session.view.window == "bone" and session.render_view().view.window == "bone"
    assert isinstance(AnswerUpdate("", parse_answer("")).regions, list)
