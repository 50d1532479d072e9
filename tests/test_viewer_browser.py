"""The viewer in a real browser: Debian Chromium, driven by Playwright, against the real app.

Every interaction of the viewer is checked on real scans: a 128 x 128 CT slice, a 512 x 512 CT series
(with its reformatted planes), a 3000 x 2500 radiograph and a 4-D NIfTI. Expected positions are
computed from where the viewer says the picture lies on the page (Gradio places elements at
fractional CSS pixels), with half a picture pixel of tolerance for the renderers' pixel conventions.
Screenshots are kept in test-artifacts/viewer/.
"""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from app_fixtures import app_url  # noqa: F401  (fixture)
from contract_check import assert_conforms
from medrega_core.intake import View, Window, open_scan, render
from medrega_core.render import propose_box
from viewer_fixtures import (  # noqa: F401  (browser, series, radiograph: fixtures)
    browser, radiograph, series,
    canvas_pixels, drag, nifti_4d, open_app, page_point, picture_point,
    screenshot, upload, viewer_state, viewport_centre, wait_rendered,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def shots(artifacts_dir):
    return artifacts_dir / "viewer"


@pytest.fixture
def page(browser, app_url):
    page = open_app(browser, app_url)
    yield page
    page.close()


@pytest.fixture(params=["cpu", "gpu"])
def path_page(request, browser, app_url):
    """The page with each of Cornerstone's drawing paths (the viewer picks the CPU one where WebGL is
    software, as here; the GPU one is what machines with a GPU get)."""
    page = open_app(browser, f"{app_url}?medrega-render={request.param}")
    assert page.evaluate("window.medregaViewer.state().renderPath") == request.param
    yield page
    page.close()


def wait_for(page, expression: str, arg=None) -> None:
    page.wait_for_function(expression, arg=arg)


def test_a_slice_at_actual_size_shows_the_pixels_the_server_renders(path_page, series, shots) -> None:
    page = path_page
    state = upload(page, series)
    page.evaluate("window.medregaViewer.actualSize()")
    wait_rendered(page)
    state = viewer_state(page)
    picture = state["picture"]
    assert abs(state["imageRect"]["width"] - picture["width"]) < 0.01  # one picture pixel per CSS (= device) pixel
    shown = canvas_pixels(page).astype(int)
    canvas = page.locator("#scan-viewer canvas").bounding_box()
    left, top = state["imageRect"]["left"] - canvas["x"], state["imageRect"]["top"] - canvas["y"]
    window = state["window"]
    expected = render(open_scan(series), View(slice_index=state["slice"], window=Window(window["center"], window["width"])))
    reference = expected.rgb.astype(int)
    # The picture's corner is on a whole device pixel; which one, rounding decides: compare the
    # canvas with the server's picture at that corner and its neighbours, and keep the best.
    worst = []
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            x0, y0 = int(round(left)) + dx, int(round(top)) + dy
            visible = shown[max(y0, 0):y0 + picture["height"], max(x0, 0):x0 + picture["width"]]
            part = reference[max(-y0, 0):max(-y0, 0) + visible.shape[0], max(-x0, 0):max(-x0, 0) + visible.shape[1]]
            assert visible.shape[0] > 200 and visible.shape[1] > 200
            worst.append((int(np.abs(visible - part).max()), float((np.abs(visible - part) > 1).mean()), dx, dy))
    best = min(worst)
    assert best[0] <= 1, f"{best[1]:.2%} of pixels differ by more than one grey level (best shift {best[2:]})"
    screenshot(page, shots, "ct512-actual-size")


def test_at_zoom_one_the_whole_picture_fits_centred_with_tools_and_overlays_on_screen(path_page, shots) -> None:
    page = path_page
    state = upload(page, get_testdata_file("CT_small.dcm"))
    rect, viewport = state["imageRect"], page.locator("#scan-viewer .medrega-viewport").bounding_box()
    assert rect["width"] > 3 * 128  # a small picture is scaled up to its panel
    assert rect["left"] >= viewport["x"] - 0.5 and rect["top"] >= viewport["y"] - 0.5
    assert rect["left"] + rect["width"] <= viewport["x"] + viewport["width"] + 0.5
    assert rect["top"] + rect["height"] <= viewport["y"] + viewport["height"] + 0.5
    assert abs((rect["left"] + rect["width"] / 2) - (viewport["x"] + viewport["width"] / 2)) < 1
    assert viewport["y"] + viewport["height"] <= 1000  # no scrolling at 1600 x 1000
    for selector in ["#tool-window", "#tool-box", "#tool-length", "#tool-probe", "#tool-pan",
                     "#scan-viewer .medrega-corner.bottom-right", "#scan-viewer .medrega-edge.left"]:
        box = page.locator(selector).bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= 1000, selector
    assert page.locator("#scan-viewer .medrega-edge.left").inner_text() == "R"
    screenshot(page, shots, "ct128-fit")


def test_wheel_and_keys_move_through_slices_and_change_the_picture(page, series) -> None:
    state = upload(page, series)
    assert state["numSlices"] == 20 and state["slice"] == 10
    before = canvas_pixels(page)
    page.mouse.move(*viewport_centre(page))
    page.mouse.wheel(0, 120)
    wait_for(page, "() => window.medregaViewer.state().slice !== 10")
    wait_rendered(page)
    assert abs(viewer_state(page)["slice"] - 10) == 1
    assert not np.array_equal(canvas_pixels(page), before)  # each slice's values differ by one stored unit
    page.locator("#scan-viewer .medrega-viewer").focus()
    for key, expected in [("Home", 0), ("ArrowDown", 1), ("PageDown", 3), ("End", 19), ("ArrowUp", 18), ("PageUp", 16)]:
        page.keyboard.press(key)
        wait_for(page, "(n) => window.medregaViewer.state().slice === n", expected)
    wait_for(page, "() => document.querySelector('#scan-viewer .medrega-corner.bottom-left').innerText.includes('17/20')")


def test_a_left_drag_changes_the_window_and_the_picture_and_number_keys_pick_presets(page, series) -> None:
    state = upload(page, series)
    window = state["window"]
    before = canvas_pixels(page)
    x, y = viewport_centre(page)
    drag(page, (x, y), (x + 120, y + 60))
    wait_rendered(page)
    after = viewer_state(page)["window"]
    assert after["width"] != pytest.approx(window["width"]) and after["center"] != pytest.approx(window["center"])
    assert not np.array_equal(canvas_pixels(page), before)
    assert f"{round(after['width'])}/{round(after['center'])}" in page.locator(".medrega-corner.bottom-right").inner_text()
    page.locator("#scan-viewer .medrega-viewer").focus()
    page.keyboard.press("2")  # CT presets in OHIF's order: soft tissue, lung, liver, bone, brain
    wait_for(page, "() => Math.round(window.medregaViewer.state().window.width) === 1500")
    assert viewer_state(page)["window"]["center"] == pytest.approx(-600)
    page.keyboard.press("r")
    wait_for(page, "(w) => Math.abs(window.medregaViewer.state().window.width - w) < 0.01", window["width"])


def test_a_window_set_by_the_user_stays_as_the_slices_change(path_page, series) -> None:
    """Cornerstone's CPU path gives each newly shown slice its own full-range window in what the viewport
    reports; the picture, the overlay and what a question is sent keep the user's window."""
    page = path_page
    upload(page, series)
    x, y = viewport_centre(page)
    drag(page, (x, y), (x + 90, y - 40))
    wait_rendered(page)
    dragged = viewer_state(page)["window"]
    page.locator("#scan-viewer .medrega-viewer").focus()
    for key, expected in [("ArrowDown", 11), ("ArrowDown", 12), ("Home", 0), ("End", 19)]:
        page.keyboard.press(key)
        wait_for(page, "(n) => window.medregaViewer.state().slice === n && window.medregaViewer.state().rendered", expected)
        wait_rendered(page)
        window = viewer_state(page)["window"]
        assert window["width"] == pytest.approx(dragged["width"]) and window["center"] == pytest.approx(dragged["center"])
        overlay = page.locator("#scan-viewer .medrega-corner.bottom-right").inner_text()
        assert f"{round(dragged['width'])}/{round(dragged['center'])}" in overlay


def test_the_picture_panel_follows_what_grows_above_it(page, series) -> None:
    """The panel reaches the window's bottom from where it starts; when a block above it grows (the scan
    line appears a few frames after the first picture) it is fitted again at once, so the picture does
    not move later under the user's pointer."""
    upload(page, series)
    bottom = "() => document.querySelector('#scan-viewer .medrega-stage').getBoundingClientRect().bottom"
    before = page.evaluate(bottom)
    page.evaluate("""() => { const line = document.querySelector('#scan-line');
        const extra = document.createElement('div'); extra.style.height = '40px'; line.appendChild(extra); }""")
    wait_rendered(page)
    assert page.evaluate(bottom) == pytest.approx(before, abs=1)


def test_boxes_are_drawn_moved_resized_named_and_deleted(path_page, series, shots) -> None:
    page = path_page
    state = upload(page, series)
    page.click("#tool-box")
    # Whole CSS pixels: a mouse event's clientX/clientY are whole numbers.
    start, end = (tuple(round(v) for v in page_point(state, *p)) for p in ((150, 160), (300, 280)))
    drag(page, start, end)
    wait_for(page, "() => window.medregaViewer.state().boxes.length === 1")
    box = viewer_state(page)["boxes"][0]
    x1, y1 = picture_point(state, *start)
    x2, y2 = picture_point(state, *end)
    assert box["xmin"] == pytest.approx(x1, abs=0.75) and box["ymin"] == pytest.approx(y1, abs=0.75)
    assert box["xmax"] == pytest.approx(x2, abs=0.75) and box["ymax"] == pytest.approx(y2, abs=0.75)
    # Move: drag the top edge's middle by 40 picture pixels to the right and 20 down.
    edge = page_point(state, (box["xmin"] + box["xmax"]) / 2, box["ymin"])
    shift = page_point(state, (box["xmin"] + box["xmax"]) / 2 + 40, box["ymin"] + 20)
    drag(page, edge, shift)
    wait_for(page, "(x) => Math.abs(window.medregaViewer.state().boxes[0].xmin - x) < 1.5", box["xmin"] + 40)
    moved = viewer_state(page)["boxes"][0]
    assert moved["ymin"] == pytest.approx(box["ymin"] + 20, abs=1.5)
    assert moved["xmax"] - moved["xmin"] == pytest.approx(box["xmax"] - box["xmin"], abs=0.5)
    # Resize: drag the bottom-right corner.
    corner = page_point(state, moved["xmax"], moved["ymax"])
    drag(page, corner, page_point(state, moved["xmax"] + 30, moved["ymax"] + 25))
    wait_for(page, "(x) => Math.abs(window.medregaViewer.state().boxes[0].xmax - x) < 1.5", moved["xmax"] + 30)
    resized = viewer_state(page)["boxes"][0]
    assert resized["xmin"] == pytest.approx(moved["xmin"], abs=0.5) and resized["ymax"] == pytest.approx(moved["ymax"] + 25, abs=1.5)
    # Rename: double-click inside, type, Enter.
    inside = page_point(state, (resized["xmin"] + resized["xmax"]) / 2, (resized["ymin"] + resized["ymax"]) / 2)
    page.mouse.dblclick(*inside)
    page.locator(".medrega-rename").fill("left thalamus")
    page.keyboard.press("Enter")
    wait_for(page, "() => window.medregaViewer.state().boxes[0].label === 'left thalamus'")
    screenshot(page, shots, "ct512-box-named")
    # The table follows (the viewer reports its boxes to the server).
    wait_for(page, "() => document.querySelector('#region-table').innerText.includes('left thalamus')")
    # Delete: click the box, press Delete.
    page.mouse.click(*inside)
    page.keyboard.press("Delete")
    wait_for(page, "() => window.medregaViewer.state().boxes.length === 0")


@pytest.mark.parametrize("zoomed", [False, True], ids=["zoom-1", "zoomed-and-panned"])
def test_a_click_with_the_box_tool_proposes_a_box_around_the_clicked_pixel(page, series, zoomed: bool) -> None:
    state = upload(page, series)
    x, y = viewport_centre(page)
    if zoomed:
        drag(page, (x, y), (x, y + 150), button="right")  # right drag downwards: zoom in
        drag(page, (x, y), (x + 60, y + 40), button="middle")  # middle drag: pan
        wait_rendered(page)
        state = viewer_state(page)
        assert state["zoom"] > 1.2
    page.click("#tool-box")
    target = (256.4, 300.6)  # inside the head, on the picture
    page.mouse.click(*page_point(state, *target))
    wait_for(page, "() => window.medregaViewer.state().boxes.length === 1")
    box = viewer_state(page)["boxes"][0]
    assert box["xmin"] <= target[0] <= box["xmax"] and box["ymin"] <= target[1] <= box["ymax"]
    window = state["window"]
    rendering = render(open_scan(series), View(slice_index=state["slice"], window=Window(window["center"], window["width"])))
    expected = propose_box(rendering.rgb, *target)  # the same OpenCV proposal on the same pixels
    assert (box["xmin"], box["ymin"], box["xmax"], box["ymax"]) == pytest.approx((expected.x1, expected.y1, expected.x2, expected.y2), abs=1.0)


def test_reformatted_planes_keep_the_window_and_have_their_own_slices(page, series, shots) -> None:
    upload(page, series)
    page.click("#tool-window")
    x, y = viewport_centre(page)
    drag(page, (x, y), (x + 80, y))
    window = viewer_state(page)["window"]
    page.click("#plane-coronal")
    wait_for(page, "() => window.medregaViewer.state().plane === 'coronal'")
    wait_rendered(page)
    coronal = viewer_state(page)
    assert coronal["numSlices"] == 512 and coronal["picture"]["width"] == 512
    assert coronal["picture"]["height"] == round(20 * 5.0 / 0.478516)  # stretched to square millimetres
    assert coronal["window"]["width"] == pytest.approx(window["width"])
    assert page.locator(".medrega-edge.top").inner_text() == "S"
    screenshot(page, shots, "ct512-coronal")
    page.click("#plane-sagittal")
    wait_for(page, "() => window.medregaViewer.state().plane === 'sagittal'")
    wait_rendered(page)
    assert page.locator(".medrega-edge.left").inner_text() == "A"


def test_a_radiograph_fits_shows_its_orientation_letters_and_a_scale_bar(page, radiograph, shots) -> None:
    state = upload(page, radiograph)
    assert state["picture"] == {"width": 3000, "height": 2500} and state["numSlices"] == 1
    letters = {edge: page.locator(f".medrega-edge.{edge}").inner_text() for edge in ("left", "right", "top", "bottom")}
    assert letters == {"left": "R", "right": "L", "top": "H", "bottom": "F"}
    assert page.locator(".medrega-scale-label").inner_text().endswith(("mm", "cm"))
    page.click("#tool-box")
    target = (900.0, 1200.0)  # the patient's right lung
    page.mouse.click(*page_point(state, *target))
    wait_for(page, "() => window.medregaViewer.state().boxes.length === 1")
    box = viewer_state(page)["boxes"][0]
    assert box["xmin"] <= target[0] <= box["xmax"] and box["ymin"] <= target[1] <= box["ymax"]
    screenshot(page, shots, "dx-proposed-box")


def test_a_4d_volume_scrolls_slices_and_plays_time_with_space(page, shots) -> None:
    state = upload(page, nifti_4d())
    assert state["numFrames"] == 2 and state["numSlices"] > 1
    page.locator("#scan-viewer .medrega-viewer").focus()
    page.keyboard.press("Home")
    wait_for(page, "() => window.medregaViewer.state().slice === 0")
    page.keyboard.press(" ")
    wait_for(page, "() => window.medregaViewer.state().frame === 1")
    wait_for(page, "() => window.medregaViewer.state().frame === 0")  # cine loops
    page.keyboard.press(" ")
    assert viewer_state(page)["cine"] is False and viewer_state(page)["slice"] == 0
    screenshot(page, shots, "nifti-4d")


def test_a_series_upload_shows_one_line_not_its_files(page, series) -> None:
    upload(page, series)
    line = page.locator("#scan-line").inner_text()
    assert "Head CT 512" in line and "20" in line
    assert page.locator("#scan-upload").inner_text().count(".dcm") == 0


def test_the_language_switch_keeps_the_view_and_the_boxes(page, series) -> None:
    state = upload(page, series)
    page.click("#tool-box")
    drag(page, page_point(state, 100, 100), page_point(state, 200, 220))
    page.locator("#scan-viewer .medrega-viewer").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    wait_for(page, "() => window.medregaViewer.state().boxes.length === 1")
    before = viewer_state(page)
    page.get_by_label("中文").check()
    wait_for(page, "() => document.querySelector('#tool-window').textContent !== 'Window'")
    after = viewer_state(page)
    assert after["scanKey"] == before["scanKey"] and after["slice"] == before["slice"]
    assert after["boxes"] == before["boxes"] and after["window"] == before["window"]
    assert page.locator("#tool-box").inner_text() == "框"


def test_two_sessions_see_only_their_own_scan(browser, app_url, series) -> None:
    first, second = open_app(browser, app_url), open_app(browser, app_url)
    try:
        a = upload(first, series)
        b = upload(second, get_testdata_file("CT_small.dcm"))
        assert a["scanKey"] != b["scanKey"] and a["picture"]["width"] == 512 and b["picture"]["width"] == 128
        assert viewer_state(first)["picture"]["width"] == 512
        # The data URLs carry a secret per scan: a made-up key gets nothing.
        status = second.evaluate("fetch('medrega-viewer/not-a-key/axial/0/0').then((r) => r.status)")
        assert status == 404
    finally:
        first.close()
        second.close()


def test_the_state_the_viewer_reports_follows_the_contract(page, series) -> None:
    """What the browser sends Python (viewer_change, and Ask's view) conforms to the schema its types come from."""
    state = upload(page, series)
    page.click("#tool-box")
    drag(page, page_point(state, 100, 100), page_point(state, 200, 220))
    page.wait_for_function("() => window.medregaViewer.state().boxes.length === 1")
    assert_conforms(viewer_state(page), "ViewerState")
    page.click("#plane-coronal")
    page.wait_for_function("() => window.medregaViewer.state().plane === 'coronal'")
    assert_conforms(viewer_state(page), "ViewerState")
