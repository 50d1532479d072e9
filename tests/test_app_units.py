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
from medrega_core.tasks import PixelBox, parse_answer, to_model
from medrega_core.engine.results import DROPPED_TURNS_NOTE
from medrega_core.engine.base import stream_answer
from medrega_core.export import public_model_name
from ui_components.chat import messages, speed_text
from ui_components.context import AppContext, ModelUnavailableError, ServerOptions
from ui_components.page import all_text_outputs, switch_language
from ui_components.state import delete_session, Exchange, SessionState, UserBox
from ui_components.task_panel import preview
from ui_components.links import opening
from ui_components.viewer import ctx_propose, load_files, measurements_from_viewer, words

CT = get_testdata_file("CT_small.dcm")
MR = get_testdata_file("MR_small.dcm")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    ctx = AppContext.create(ServerOptions(), tmp_path_factory.mktemp("work"))
    demo, page = app.build_demo(ctx)
    return ctx, page


def scan_state(ctx: AppContext) -> SessionState:
    state = SessionState()
    assert load_files(state, ctx, [CT]) is None
    state.user_boxes.append(UserBox(PixelBox(30, 40, 70, 90), "lesion"))
    return state


def run_event(handler_output) -> list[dict]:
    """Every update a generator event handler yields (the error it raises propagates)."""
    return list(handler_output)


def test_switching_to_chinese_relabels_every_text_widget_and_keeps_the_session(built) -> None:
    ctx, page = built
    state = scan_state(ctx)
    scan, boxes = state.scan, list(state.user_boxes)
    updates = switch_language(page, ctx, "zh", state)
    assert set(updates) == all_text_outputs(page)
    assert updates[page.chat.ask]["value"] == "提问"
    assert updates[page.viewer.upload]["label"].startswith("上传影像")
    viewer_texts = updates[page.viewer.viewer]["value"]["texts"]
    assert viewer_texts["overlay.slice"] == "层面" and viewer_texts["lang"] == "zh"
    assert updates[page.viewer.viewer]["value"]["scan"]["key"] == state.scan_token  # the same scan stays open
    assert "仅用于科研和教学" in updates[page.status.notice]["value"]
    assert updates[page.regions.table]["headers"][0] == "区域"
    assert state.lang == "zh" and state.scan is scan and state.user_boxes == boxes
    back = switch_language(page, ctx, "en", state)
    assert back[page.chat.ask]["value"] == "Ask" and state.scan is scan


def test_prompt_preview_carries_the_users_box_in_0_999(built) -> None:
    state = scan_state(built[0])
    prompt, note = preview(state, "region-to-text", "demo", "", "", "", "")
    expected = to_model(PixelBox(30, 40, 70, 90), 128, 128).as_text()  # CT_small is 128 x 128
    assert f"<box>[{expected}]</box>" in prompt and prompt.count("<image>") == 1
    assert note == "The question is about: lesion"


def test_a_follow_up_preview_has_no_image_and_asks_about_the_selected_region(built) -> None:
    state = scan_state(built[0])
    answer = "<ref>liver</ref><box>[[100, 100, 300, 300]]</box> and <ref>spleen</ref><box>[[600, 500, 900, 800]]</box>"
    state.exchanges.append(Exchange("text-to-region", "<image>\nPlease locate the liver.", answer,
                                    rendering=state.render_view()))
    state.parsed = parse_answer(answer)
    state.selected_region = 1  # the viewer reports a click on the spleen's box
    prompt, note = preview(state, "region-to-text", "demo", "", "", "", "")
    assert "<image>" not in prompt and note == "The question is about: [2] spleen"
    assert prompt.startswith("You are a helpful medical assistant. Your task is object recognition.")
    assert "<box>[[600, 500, 900, 800]]</box>" in prompt


def test_a_task_without_chinese_says_so_and_falls_back_to_english(built) -> None:
    state = scan_state(built[0])
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


def test_a_failed_upload_closes_the_open_scan_before_saying_why(built, tmp_path: Path) -> None:
    ctx, page = built
    state = scan_state(ctx)
    token = state.scan_token
    bad = tmp_path / "random.dcm"
    bad.write_bytes(np.random.default_rng(5).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    events = opening(lambda: page.open_files(ctx, [str(bad)], state))
    closed = next(events)
    assert state.scan is None and state.user_boxes == [] and state.exchanges == [] and ctx.scans.get(token) is None
    assert closed[page.viewer.viewer]["scan"] is None and closed[page.viewer.upload] is None
    assert closed[page.chat.chatbot] == [] and closed[page.viewer.scan_line] == ""
    with pytest.raises(gr.Error) as caught:
        next(events)
    assert caught.value.title == "Error" and "random.dcm" in caught.value.message


def test_each_upload_empties_the_upload_box_so_the_next_one_is_a_new_case(built) -> None:
    ctx, page = built
    state = SessionState()
    first = run_event(opening(lambda: page.open_files(ctx, [CT], state)))[-1]
    assert first[page.viewer.upload] is None and state.scan.info.modality == "CT"
    second = run_event(opening(lambda: page.open_files(ctx, [MR], state)))[-1]
    assert second[page.viewer.upload] is None and state.scan.info.modality == "MR" and state.scan_paths == [MR]


def test_error_toasts_show_tags_as_text() -> None:
    from medrega_core.errors import MedRegAError
    from ui_components.labels import user_error

    toast = user_error(MedRegAError("The prompt must not contain {tag}: the image belongs to the first turn.",
                                    tag="<image>"), "en")
    assert "&lt;image&gt;" in toast.message and "<image>" not in toast.message


def test_series_choices_are_labelled_without_uids() -> None:
    from medrega_core.intake import SeriesChoice
    from ui_components.viewer import series_label

    label = series_label(SeriesChoice("1.2.826.0.1.3680043.8.498.1", "", "CT", 12, "3", "2024-01-31"),
                         lambda m, **p: m.format(**p))
    assert label == "Series without description · CT · series 3 · 12 images · 2024-01-31"


def test_region_to_text_asks_about_the_selected_box_and_says_which(built) -> None:
    ctx, page = built
    state = scan_state(ctx)
    state.user_boxes.append(UserBox(PixelBox(80, 80, 120, 110)))
    state.selected_box = 1  # the viewer reports the box clicked last
    prompt, note = preview(state, "region-to-text", "demo", "", "", "", "")
    assert f"<box>[{to_model(PixelBox(80, 80, 120, 110), 128, 128).as_text()}]</box>" in prompt
    assert note == "The question is about: your box 2"
    rows = page.region_updates(state)[page.regions.table]["value"]
    assert [row[:2] for row in rows] == [["lesion", "you"], ["your box 2", "you, asked about"]]
    state.selected_box = 0
    assert "lesion" in preview(state, "region-to-text", "demo", "", "", "", "")[1]


def test_a_prompt_left_over_from_before_the_answer_is_not_sent_as_a_follow_up(built) -> None:
    from medrega_core.tasks import build_prompt
    from ui_components.task_panel import request_from_widgets

    state = scan_state(built[0])
    request = request_from_widgets(state, "free", "demo", "Is there a fracture?", "", "", "")
    stale = build_prompt(request)
    assert state.prompt_to_send(request, stale) == stale  # the first question: sent as shown
    state.exchanges.append(Exchange("free", stale, "No.", rendering=state.render_view()))
    assert state.prompt_to_send(request, stale) == "Is there a fracture?"
    assert state.prompt_to_send(request, "My own words") == "My own words"  # an expert's edit stays


def test_the_chat_shows_plain_words_and_answers_without_markup(built) -> None:
    import html

    from medrega_core.render import palette_hex
    from ui_components.chat import answer_html, messages

    state = scan_state(built[0])
    prompt = "<image>\nWhat is <ref>this</ref><box>[[1, 2, 3, 4]]</box> in this CT scan?"
    state.exchanges.append(Exchange("region-to-text", prompt, "<ref>liver</ref><box>[[100, 100, 300, 300]]</box> <b>",
                                    asked="What is in this box? (region to text) · about lesion"))
    user, answer = messages(state)
    assert user["content"].startswith("What is in this box? (region to text) · about lesion\n\n<details>")
    assert prompt in html.unescape(user["content"]) and "<ref>" not in user["content"]
    assert answer["content"] == f'<span style="color: {palette_hex(0)}; font-weight: 600">liver [1]</span> &lt;b&gt;'
    assert answer_html("a < b") == "a &lt; b"


def test_the_speed_line_follows_the_language_switch(built) -> None:
    ctx, page = built
    state = scan_state(ctx)
    state.exchanges.append(Exchange("free", "<image>\nHi", "Hello", rendering=state.render_view(), speed=(20, 2.0)))
    assert switch_language(page, ctx, "zh", state)[page.chat.speed]["value"] == "2.0 秒生成 20 个词元（10.0 词元/秒）"
    assert switch_language(page, ctx, "en", state)[page.chat.speed]["value"] == "20 tokens in 2.0 s (10.0 tokens/s)"


def test_a_chest_x_ray_prompt_with_a_ct_open_says_so_in_the_users_language(built) -> None:
    state = scan_state(built[0])  # CT_small: Modality CT
    _prompt, note = preview(state, "report", "demo", "", "", "", "")
    assert "chest x-ray" in note and "CT" in note
    _prompt, note = preview(state, "grounded-report", "demo", "", "", "", "")
    assert "chest x-ray" in note
    state.lang = "zh"
    assert "当前打开的影像是 CT" in preview(state, "grounded-report", "demo", "", "", "", "")[1]
    assert "CT" not in preview(state, "report", "demo", "", "", "", "")[1]  # the Chinese report names no modality
    assert preview(state, "diagnosis", "oct2017", "", "", "", "")[1]  # an OCT preset on a CT
    state.lang = "en"
    assert not preview(state, "vqa", "short", "Which organ?", "", "", "")[1]


def test_the_viewers_click_proposes_a_box_around_the_clicked_pixel_on_the_windowed_picture(built) -> None:
    ctx, _page = built
    state = scan_state(ctx)
    propose = ctx_propose(ctx)
    answer = propose({"key": state.scan_token, "x": 64.5, "y": 40.5, "plane": "axial", "slice": 0, "frame": 0,
                      "window": {"center": 40, "width": 400}, "lang": "en"})
    box = PixelBox(*(answer["box"][k] for k in ("xmin", "ymin", "xmax", "ymax")))
    assert box.contains(64.5, 40.5) and box.x2 - box.x1 < 128
    refused = propose({"key": "not-a-token", "x": 1, "y": 1, "lang": "zh"})
    assert refused["error"] == translate("Load a scan first.", "zh") != "Load a scan first."


def test_a_closed_session_takes_its_scan_out_of_the_viewers_reach(built) -> None:
    ctx, _page = built
    state = scan_state(ctx)
    token = state.scan_token
    assert ctx.scans.picture(token, "axial", 0, 0) is not None
    delete_session(state, ctx.scans)
    assert ctx.scans.get(token) is None and ctx.scans.picture(token, "axial", 0, 0) is None


def test_the_chat_says_when_old_follow_ups_were_left_out_of_the_context(built) -> None:
    state = scan_state(built[0])
    state.lang = "zh"
    state.exchanges.append(Exchange("free", "Again?", "Yes.", dropped_turns=3))
    notes = [m["content"] for m in messages(state) if "3" in str(m["content"]) and m["role"] == "assistant"]
    assert notes == ["*" + translate(DROPPED_TURNS_NOTE, "zh", count=3) + "*"]


def test_a_local_checkpoint_is_named_by_its_folder_only(tmp_path: Path) -> None:
    folder = tmp_path / "medrega-40b"
    folder.mkdir()
    assert public_model_name(str(folder)) == "medrega-40b"
    assert public_model_name("/srv/models/not-here/medrega") == "medrega"  # a path, even where it is gone
    assert public_model_name("Luxuriant16/MedRegA") == "Luxuriant16/MedRegA"  # a Hugging Face id stays


def test_number_like_descriptions_say_nothing() -> None:
    assert [words(d) for d in ("e+1", "10", " 1.5E+3 ", "")] == ["", "", "", ""]
    assert [words(d) for d in ("T1", "Lv2", "5/5mm Plain", "胸部平扫")] == ["T1", "Lv2", "5/5mm Plain", "胸部平扫"]


def test_measurements_reported_by_the_viewer_are_checked() -> None:
    reported = {"measurements": [{"kind": "length", "points": [[1, 2], [3, 4]]}, {"kind": "probe", "points": [[5, 6]]},
                                 {"kind": "length", "points": [[1, 2]]}, {"kind": "angle", "points": [[0, 0]]},
                                 {"kind": "probe", "points": "xy"}, 7]}
    marks = measurements_from_viewer(reported)
    assert [(m.kind, m.points) for m in marks] == [("length", ((1.0, 2.0), (3.0, 4.0))), ("probe", ((5.0, 6.0),))]
