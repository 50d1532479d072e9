"""A long series shown while its slices arrive: Debian Chromium, driven by Playwright, against the real app.

The app opens an uploaded series with its headers and the shown slice, and decodes the rest in the
background; the browser fetches the other slices as they are ready. Checked on real files: a 64-slice
512 x 512 CT series, and a 20-slice CT series with one slice whose image data is truncated.
"""

from __future__ import annotations

import pytest

from app_fixtures import app_url  # noqa: F401  (fixture)
from intake_fixtures import dicom_file, series_datasets, write_series
from medrega_core.intake import CorruptFileError, View, Window, open_scan, render
from viewer_fixtures import (  # noqa: F401  (browser: fixture)
    browser,
    canvas_pixels, ct_series_512, open_app, screenshot, upload, viewer_state, wait_rendered,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SLICES = 64
CORNER = "#scan-viewer .medrega-corner.bottom-left"
# Every progress mark the overlay shows, recorded as it changes (it may come and go between two polls).
RECORD_PROGRESS = """() => {
    window.progressMarks = [];
    const note = () => {
        const corner = document.querySelector('#scan-viewer .medrega-corner.bottom-left');
        const mark = corner && corner.textContent.match(/Loading \\d+\\/\\d+/);
        if (mark && window.progressMarks.at(-1) !== mark[0]) window.progressMarks.push(mark[0]);
    };
    new MutationObserver(note).observe(document.querySelector('#scan-viewer'),
                                       {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def shots(artifacts_dir):
    return artifacts_dir / "viewer"


@pytest.fixture(scope="module")
def long_series(tmp_path_factory):
    """64 slices of 512 x 512 (32 MiB), no pixel padding: each picture needs its own slice only."""
    return ct_series_512(tmp_path_factory.mktemp("ct64"), count=SLICES, padding=False)


@pytest.fixture(scope="module")
def damaged_series(tmp_path_factory):
    """20 uncompressed CT slices; the third in stored order has truncated image data. Its file name."""
    datasets = series_datasets(dicom_file("CT_small.dcm"), 20, 4.0)
    datasets[2].PixelData = datasets[2].PixelData[:100]
    paths = write_series(datasets, tmp_path_factory.mktemp("damaged"), shuffle_seed=None)
    return paths, paths[2].name


@pytest.fixture
def page(browser, app_url):
    page = open_app(browser, app_url)
    page.evaluate(RECORD_PROGRESS)
    yield page
    page.close()


def scroll_to(page, index: int) -> None:
    page.locator("#scan-viewer .medrega-viewer").focus()
    page.keyboard.press("Home")
    for _ in range(index):
        page.keyboard.press("ArrowDown")
    page.wait_for_function("(n) => window.medregaViewer.state().slice === n", arg=index)


def test_the_first_picture_shows_while_slices_arrive_with_a_progress_mark(page, long_series, shots) -> None:
    state = upload(page, long_series)
    assert state["numSlices"] == SLICES and state["slice"] == SLICES // 2
    screenshot(page, shots, "streaming-first-picture")
    assert f"{SLICES // 2 + 1}/{SLICES}" in page.locator(CORNER).inner_text()
    scroll_to(page, 0)  # far from the first picture, before it has arrived in the browser
    wait_rendered(page)
    assert viewer_state(page)["slice"] == 0
    page.wait_for_function("(n) => window.medregaViewer.state().loaded === n", arg=SLICES)
    page.wait_for_function("(corner) => !document.querySelector(corner).textContent.includes('Loading')", arg=CORNER)
    marks = page.evaluate("window.progressMarks")
    assert marks and all(mark.endswith(f"/{SLICES}") for mark in marks)
    assert int(marks[0].split()[1].split("/")[0]) < SLICES  # shown while slices were still arriving
    assert f"1/{SLICES}" in page.locator(CORNER).inner_text()
    wait_rendered(page)
    first = canvas_pixels(page).astype(float)
    screenshot(page, shots, "streaming-slice-0")
    scroll_to(page, SLICES // 2)
    wait_rendered(page)
    middle = canvas_pixels(page).astype(float)
    # Slice n's values are the template's plus n: in the header's 100-wide window, slice 0 is clearly darker.
    assert first.std() > 10 and middle.mean() - first.mean() > 5


def test_a_damaged_slice_found_while_loading_is_reported_and_the_others_show(page, damaged_series, shots) -> None:
    paths, name = damaged_series
    state = upload(page, paths)
    assert state["numSlices"] == 20
    toast = page.locator(".toast-body", has_text="1 of the 20 slices cannot be shown").first
    toast.wait_for()
    assert name in toast.inner_text()
    scan = open_scan(paths, background=True)
    scan.loading.settle()
    refused = []
    for index in range(20):
        try:
            render(scan, View(slice_index=index, window=Window(40, 400)))
        except CorruptFileError:
            refused.append(index)
    assert len(refused) == 1
    page.wait_for_function("() => window.medregaViewer.state().loaded === 20")  # refused slices count as settled
    page.wait_for_function("(corner) => !document.querySelector(corner).textContent.includes('Loading')", arg=CORNER)
    scroll_to(page, refused[0])
    notice = page.locator("#scan-viewer .medrega-notice")
    notice.wait_for(state="visible")
    assert name in notice.inner_text() and "cannot be decoded" in notice.inner_text()
    assert canvas_pixels(page).max() == 0  # not the previous slice in its place
    screenshot(page, shots, "streaming-damaged")
    neighbour = refused[0] + 1
    scroll_to(page, neighbour)
    wait_rendered(page)
    assert viewer_state(page)["slice"] == neighbour and canvas_pixels(page).std() > 10
