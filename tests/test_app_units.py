"""The app's pieces in process: language switch, server options, the engine host without weights."""

from __future__ import annotations

from pathlib import Path

import threading

import gradio as gr
import numpy as np
import pytest
from pydicom.data import get_testdata_file

import app
from medrega_core.i18n import translate
from medrega_core.intake import render
from medrega_core.tasks import PixelBox, parse_answer, to_model
from ui_components.chat import speed_text, stream_answer
from ui_components.context import AppContext, ModelUnavailableError, ServerOptions
from ui_components.page import all_text_outputs, switch_language
from ui_components.state import Exchange, SessionState, UserBox
from ui_components.task_panel import preview
from ui_components.viewer import ctx_propose, load_files


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    ctx = AppContext.create(ServerOptions(), tmp_path_factory.mktemp("work"))
    demo, page = app.build_demo(ctx)
    return ctx, page


@pytest.fixture
def scan_state(built):
    def make() -> SessionState:
        state = SessionState()
        assert load_files(state, built[0], [get_testdata_file("CT_small.dcm")]) is None
        state.user_boxes.append(UserBox(PixelBox(30, 40, 70, 90), "lesion"))
        return state
    return make


def test_switching_to_chinese_relabels_every_text_widget_and_keeps_the_session(built, scan_state) -> None:
    ctx, page = built
    state = scan_state()
    scan, boxes = state.scan, list(state.user_boxes)
    updates = switch_language(page, ctx, "zh", state)
    assert set(updates) == all_text_outputs(page)
    assert updates[page.chat.ask]["value"] == "提问"
    viewer_texts = updates[page.viewer.viewer]["value"]["texts"]
    assert viewer_texts["overlay.slice"] == "层面" and viewer_texts["lang"] == "zh"
    assert updates[page.viewer.viewer]["value"]["scan"]["key"] == state.scan_token  # the same scan stays open
    assert "仅用于科研和教学" in updates[page.status.notice]["value"]
    assert updates[page.regions.table]["headers"][0] == "区域"
    assert state.lang == "zh" and state.scan is scan and state.user_boxes == boxes
    back = switch_language(page, ctx, "en", state)
    assert back[page.chat.ask]["value"] == "Ask" and state.scan is scan


def test_prompt_preview_carries_the_users_box_in_0_999(scan_state) -> None:
    state = scan_state()
    prompt, note = preview(state, "region-to-text", "demo", "", "", "", "")
    expected = to_model(PixelBox(30, 40, 70, 90), 128, 128).as_text()  # CT_small is 128 x 128
    assert f"<box>[{expected}]</box>" in prompt and prompt.count("<image>") == 1 and not note


def test_a_follow_up_preview_has_no_image_and_asks_about_the_selected_region(scan_state) -> None:
    state = scan_state()
    answer = "<ref>liver</ref><box>[[100, 100, 300, 300]]</box> and <ref>spleen</ref><box>[[600, 500, 900, 800]]</box>"
    state.exchanges.append(Exchange("text-to-region", "<image>\nPlease locate the liver.", answer,
                                    rendering=render(state.scan, state.view)))
    state.parsed = parse_answer(answer)
    state.selected_region = 1  # what a click on the spleen's box in the viewer selects
    prompt, note = preview(state, "region-to-text", "demo", "", "", "", "")
    assert "<image>" not in prompt and not note
    assert prompt.startswith("You are a helpful medical assistant. Your task is object recognition.")
    assert "<box>[[600, 500, 900, 800]]</box>" in prompt


def test_the_viewers_click_proposes_a_box_around_the_clicked_pixel_on_the_windowed_picture(built, scan_state) -> None:
    ctx, _page = built
    state = scan_state()
    propose = ctx_propose(ctx)
    answer = propose({"key": state.scan_token, "x": 64.5, "y": 40.5, "plane": "axial", "slice": 0, "frame": 0,
                      "window": {"center": 40, "width": 400}, "lang": "en"})
    box = PixelBox(**{k: answer["box"][k] for k in ("x1", "y1", "x2", "y2")})
    assert box.contains(64.5, 40.5) and box.x2 - box.x1 < 128
    refused = propose({"key": "not-a-token", "x": 1, "y": 1, "lang": "zh"})
    assert refused["error"] == translate("Load a scan first.", "zh") != "Load a scan first."


def test_a_task_without_chinese_says_so_and_falls_back_to_english(scan_state) -> None:
    state = scan_state()
    state.lang = "zh"
    prompt, note = preview(state, "region-to-text", "demo", "", "", "", "")
    assert "英文" in note and prompt.startswith("You are")


def test_without_a_checkpoint_model_actions_explain_the_fix_in_the_users_language(tmp_path: Path) -> None:
    ctx = AppContext.create(ServerOptions(), tmp_path)
    ctx.host.start()
    with pytest.raises(ModelUnavailableError) as caught:
        ctx.host.require()
    assert "--checkpoint" in caught.value.localized("en") and "--checkpoint" in caught.value.localized("zh")
    assert caught.value.localized("zh") != caught.value.localized("en")


def test_server_options() -> None:
    options = app.parse_options(["--auth", "ana:secret", "--port", "7999", "--max-upload-mb", "64"])
    assert options.auth == ("ana", "secret") and options.port == 7999 and options.max_upload_mb == 64
    assert options.share is False and options.host == "127.0.0.1" and options.checkpoint is None
    with pytest.raises(SystemExit):
        app.parse_options(["--auth", "no-password"])


def test_model_events_share_one_concurrency_slot(built) -> None:
    ctx, page = built
    demo = page.state.parent
    while demo is not None and not isinstance(demo, gr.Blocks):
        demo = demo.parent
    asks = [fn for fn in demo.fns.values() if fn.api_name == "ask"]
    assert asks and all(fn.concurrency_id == "medrega-model" and fn.concurrency_limit == 1 for fn in asks)


def test_the_gpu_stream_ends_with_the_engines_token_count(tiny_engine) -> None:
    picture = np.random.default_rng(3).integers(0, 256, (64, 96, 3), dtype=np.uint8)
    items = list(stream_answer(tiny_engine, picture, "<image>\nWhat is shown?", [], threading.Event()))
    *partials, (final_text, result) = items
    assert partials and all(pending is None for _, pending in partials)
    assert final_text == partials[-1][0] == result.text
    assert 1 <= len(result.output_ids) <= tiny_engine.settings.generation().max_new_tokens
    shown = speed_text(len(result.output_ids), result.seconds, lambda m, **p: m.format(**p))
    assert shown.startswith(f"{len(result.output_ids)} tokens in ")


@pytest.mark.parametrize(
    ("seconds_left", "english"),
    [(None, "Loading the model: 3.2 of 80.0 GB"),
     (230.0, "Loading the model: 3.2 of 80.0 GB, about 4 min left"),
     (20.0, "Loading the model: 3.2 of 80.0 GB, less than a minute left")],
)
def test_the_loading_line_counts_weight_bytes_and_time_left(seconds_left, english) -> None:
    from medrega_core.i18n import translator
    from ui_components.context import LoadProgress
    from ui_components.status import loading_text

    progress = LoadProgress(0.23, "Loading the model weights", 3_200_000_000, 80_000_000_000, seconds_left)
    assert loading_text(progress, translator("en")) == english
    chinese = loading_text(progress, translator("zh"))
    assert "3.2" in chinese and "80.0" in chinese and chinese != english
