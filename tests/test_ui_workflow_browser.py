"""The case and the conversation in a real browser (Chromium + Playwright against the real app):
a new upload is a new case (without the old scan's modality words), a failed upload closes the open
one, Ask waits for the next prompt."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from app_fixtures import app_url  # noqa: F401  (fixture)
from viewer_fixtures import browser, choose_task  # noqa: F401  (browser: fixture)

TIMEOUT_MS = 60_000
#: Long enough answers that Ask is seen inactive while one is written.
APP_MAX_NEW_TOKENS = 48

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def page(browser, app_url: str):
    tab = browser.new_page(viewport={"width": 1400, "height": 1400})
    tab.set_default_timeout(TIMEOUT_MS)
    tab.goto(app_url)
    yield tab
    tab.close()


def upload(page, path: str) -> None:
    page.locator("#scan-upload input[type=file]").set_input_files([path])


def scan_line_says(page, words: str) -> None:
    page.wait_for_function(f"document.querySelector('#scan-line').innerText.includes({words!r})")


def test_a_second_upload_opens_the_new_scan_alone(page) -> None:
    upload(page, get_testdata_file("CT_small.dcm"))
    scan_line_says(page, "CT")
    upload(page, get_testdata_file("MR_small.dcm"))
    scan_line_says(page, "MR")
    assert not page.locator("#series-choice").is_visible()
    assert page.evaluate("window.medregaViewer.state().scanKey") is not None
    assert "CT_small" not in page.locator("#scan-upload").inner_text()


def test_a_failed_upload_leaves_no_scan_open(page, tmp_path: Path) -> None:
    upload(page, get_testdata_file("CT_small.dcm"))
    scan_line_says(page, "CT")
    bad = tmp_path / "random.dcm"
    bad.write_bytes(os.urandom(4096))
    upload(page, str(bad))
    toast = page.locator(".toast-body", has_text="random.dcm").first
    toast.wait_for()
    assert "Error" in toast.inner_text()
    page.wait_for_function("document.querySelector('#scan-line').innerText.trim() === ''")
    assert "random.dcm" not in page.locator("#scan-upload").inner_text()
    page.locator("#ask").click()
    page.locator(".toast-body", has_text="Load a scan first").first.wait_for()


def test_a_new_upload_empties_the_modality_words_of_the_old_scan(page) -> None:
    page.reload()  # a new session
    upload(page, get_testdata_file("CT_small.dcm"))
    scan_line_says(page, "CT")
    choose_task(page, "Find objects (text to region)", "objects", "liver")
    page.locator("#modality textarea").fill("CT")
    page.wait_for_function("document.querySelector('#prompt textarea').value.includes('in this CT scan')")
    upload(page, get_testdata_file("MR_small.dcm"))
    scan_line_says(page, "MR")  # the same event's outputs empty the words
    assert page.locator("#modality textarea").input_value() == ""
    page.wait_for_function("document.querySelector('#prompt textarea').value.includes('in this image')")
    assert page.locator("#objects textarea").input_value() == "liver"  # the question itself stays


def test_ask_is_inactive_until_the_follow_up_prompt_is_shown(page) -> None:
    upload(page, get_testdata_file("CT_small.dcm"))
    scan_line_says(page, "CT")
    choose_task(page, "Free question", "question", "Is there a fracture?")
    page.locator("#ask").click()
    page.wait_for_function("document.querySelector('#ask').disabled")
    # The moment the answer's speed line shows, click again (as a double-click would).
    page.wait_for_function("document.querySelector('#speed').innerText.includes('tokens/s')")
    page.evaluate("document.querySelector('#ask').click()")
    page.wait_for_function("!document.querySelector('#ask').disabled")
    assert "<image>" not in page.locator("#prompt textarea").input_value()
    page.wait_for_timeout(1500)  # a second question, if one was sent, has been answered or refused by now
    assert page.locator(".toast-body").filter(has_text="<image>").count() == 0
    assert page.locator(".toast-body").filter(has_text="must not contain").count() == 0


def test_gradios_own_strings_follow_the_language_switch(page, tmp_path: Path) -> None:
    page.reload()  # a new session, without the earlier tests' toasts
    footer = "(document.querySelector('footer') || {innerText: ''}).innerText"
    page.wait_for_function(f"{footer}.includes('Settings')")
    page.locator("#language").get_by_text("中文").click()
    page.wait_for_function(f"{footer}.includes('设置') && {footer}.includes('通过 API 使用')")
    drop_zone = page.locator("#scan-upload")
    # Gradio's own zh-CN words (the upload is put back into the page after the switch)
    page.wait_for_function("(document.querySelector('#scan-upload') || {innerText: ''}).innerText"
                           ".includes('将文件拖放到此处')")
    assert "Drop File Here" not in drop_zone.inner_text()
    bad = tmp_path / "garbage.dcm"
    bad.write_bytes(os.urandom(2048))
    upload(page, str(bad))  # the toast's title and text are Chinese
    toast = page.locator(".toast-body", has_text="garbage.dcm").first
    toast.wait_for()
    title = toast.locator("span.toast-title").first
    assert title.evaluate("span => getComputedStyle(span).visibility") == "hidden"  # Gradio's English "Error"
    assert "错误" in title.evaluate("span => getComputedStyle(span, '::before').content")
    page.locator("#language").get_by_text("English").click()
    page.wait_for_function(f"{footer}.includes('Settings')")


def test_the_keyboard_cannot_send_a_second_question_while_one_is_answered(page) -> None:
    page.reload()  # a new session: its chat holds only this test's questions
    upload(page, get_testdata_file("CT_small.dcm"))
    scan_line_says(page, "CT")
    page.locator("#task input").click()
    page.get_by_role("option", name="Free question").click()
    question = page.locator("#question textarea")
    question.fill("Is there a fracture?")
    page.wait_for_function("document.querySelector('#prompt textarea').value.includes('fracture')")
    # The tiny model answers in a fraction of a second: the question is held on its way to the server
    # while the keys are pressed, so they are pressed while it is being answered.
    held = []
    page.route("**/queue/join*", lambda route: held.append(route))
    question.press("Shift+Enter")  # Gradio sends a multi-line box with Shift+Enter
    page.wait_for_function("document.querySelector('#ask').disabled")
    for key in ("Shift+Enter", "Enter", "Shift+Enter"):
        question.press(key)
    page.wait_for_timeout(1000)
    ask_id = page.evaluate("window.gradio_config.dependencies.find(d => d.api_name === 'ask').id")
    questions_sent = sum(json.loads(request.request.post_data)["fn_index"] == ask_id for request in held)
    for request in held:
        request.continue_()
    page.unroute("**/queue/join*")
    page.wait_for_function("!document.querySelector('#ask').disabled")
    page.wait_for_timeout(2000)
    assert questions_sent == 1
    assert page.locator("#chat .message-row.user-row").count() == 1
