"""The model's boxes in the viewer, in a real browser, from a model that really answers with boxes.

The app runs the trained tiny checkpoint (tests/trained_checkpoint.py), so model tokens -> parser ->
viewer boxes -> OpenCV picture -> export all run for real.
"""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from app_fixtures import app_url  # noqa: F401  (fixture)
from medrega_core.render import palette_color
from medrega_core.tasks import TASK_TITLES, Task, parse_answer
from trained_checkpoint import ANSWERS
from viewer_fixtures import browser, open_app, page_point, screenshot, screen_pixels, upload, viewer_state, wait_rendered  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]
APP_CHECKPOINT = "trained"


def choose_task(page, task: Task) -> None:
    page.locator("#task input").click()
    page.get_by_role("option", name=TASK_TITLES[task]).click()


def test_the_models_boxes_appear_in_their_colour_and_a_click_selects_the_region(browser, app_url, artifacts_dir) -> None:
    page = open_app(browser, app_url)
    try:
        state = upload(page, get_testdata_file("CT_small.dcm"))
        choose_task(page, Task.TEXT_TO_REGION)
        page.locator("#objects input, #objects textarea").first.fill("liver")
        page.wait_for_function("() => document.querySelector('#prompt textarea').value.includes('liver')")
        page.click("#ask")
        page.wait_for_function("() => window.medregaViewer.state().modelBoxes.length === 1", timeout=120_000)
        page.evaluate("window.scrollTo(0, 0)")  # clicking Ask scrolled the page to the button
        wait_rendered(page)
        state = viewer_state(page)
        box = state["modelBoxes"][0]
        expected = parse_answer(ANSWERS[Task.TEXT_TO_REGION]).regions[0].pixel_boxes(128, 128)[0]
        assert box["label"] == "liver" and box["color"] == "#e69f00"
        assert (box["xmin"], box["ymin"], box["xmax"], box["ymax"]) == pytest.approx((expected.x1, expected.y1, expected.x2, expected.y2))
        screenshot(page, artifacts_dir / "viewer", "trained-model-box")
        # On screen, the box's left edge is drawn in the phrase's palette colour (the CT itself is grey).
        shown = screen_pixels(page).astype(int)
        column = round(page_point(state, box["xmin"], 0)[0])
        rows = [round(page_point(state, 0, y)[1]) for y in np.linspace(box["ymin"] + 4, box["ymax"] - 4, 12)]
        colour = np.array(palette_color(0))
        hits = [np.abs(shown[y, column - 2:column + 3] - colour).sum(axis=1).min() < 60 for y in rows]
        assert sum(hits) >= 10, hits
        # A click inside the model's box selects its region for a follow-up question.
        page.mouse.click(*page_point(state, (box["xmin"] + box["xmax"]) / 2, (box["ymin"] + box["ymax"]) / 2))
        page.wait_for_function("() => window.medregaViewer.state().selectedRegion === 0")
        page.wait_for_function("() => document.querySelector('#selected-region').innerText.includes('liver')")
    finally:
        page.close()



def ask_for_the_liver(page) -> dict:
    """Ask for the liver on CT_small by clicking Ask as a user does; the viewer's state once its box is drawn."""
    upload(page, get_testdata_file("CT_small.dcm"))
    choose_task(page, Task.TEXT_TO_REGION)
    page.locator("#objects input, #objects textarea").first.fill("liver")
    page.wait_for_function("() => document.querySelector('#prompt textarea').value.includes('liver')")
    page.click("#ask")  # at 1600 x 1000 Ask is below the picture: reaching it scrolls the page down
    assert page.evaluate("window.scrollY") > 300
    page.wait_for_function("() => window.medregaViewer.state().modelBoxes.length === 1", timeout=120_000)
    wait_rendered(page)
    return viewer_state(page)


def test_the_answers_boxes_come_into_view(browser, app_url) -> None:
    page = open_app(browser, app_url)
    try:
        rect = ask_for_the_liver(page)["imageRect"]
        assert rect["top"] >= 0 and rect["top"] + rect["height"] <= 1000, "the picture with the model's boxes is out of view"
    finally:
        page.close()


def test_a_model_box_is_labelled_over_its_own_top_edge(browser, app_url) -> None:
    page = open_app(browser, app_url)
    try:
        state = ask_for_the_liver(page)
        box = state["modelBoxes"][0]
        left, top = page_point(state, box["xmin"], box["ymin"])
        right, bottom = page_point(state, box["xmax"], box["ymax"])
        label = page.evaluate("""() => { const t = [...document.querySelectorAll('#scan-viewer svg text')].find((e) => e.textContent.includes('liver'));
            const r = t.getBoundingClientRect(); return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; }""")
        assert left - 2 <= label["left"] < right, (label, left, right)  # over the box's own width, not beside it (the neighbour's place)
        assert label["bottom"] <= top + 1 or label["top"] >= bottom - 1, (label, top, bottom)
    finally:
        page.close()
