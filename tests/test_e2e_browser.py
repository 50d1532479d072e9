"""End to end in a real browser: Debian Chromium driven by Playwright against the real app."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from app_fixtures import app_url  # noqa: F401  (fixture)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 60_000

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("/usr/bin/chromium is missing; CI must install Debian's chromium package")
        pytest.skip("/usr/bin/chromium is absent (apt-get install chromium fonts-wqy-microhei)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


def write_series(folder: Path, count: int = 3) -> list[Path]:
    """A small CT series made from a real slice: the same pixels at ``count`` positions 5 mm apart."""
    source = dcmread(get_testdata_file("CT_small.dcm"))
    series_uid, paths = generate_uid(), []
    for index in range(count):
        ds = source.copy()
        ds.SeriesInstanceUID, ds.SOPInstanceUID = series_uid, generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = index + 1
        x, y, z = (float(v) for v in source.ImagePositionPatient)
        ds.ImagePositionPatient = [x, y, z + 5.0 * index]
        ds.SliceLocation = z + 5.0 * index
        path = folder / f"slice{index + 1}.dcm"
        ds.save_as(path)
        paths.append(path)
    return paths


def drag_box(page) -> None:
    canvas = page.locator("#region-canvas canvas").first
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.35)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.6, steps=8)
    page.mouse.up()


def test_series_window_slice_box_ask_language_export(browser, app_url: str, tmp_path: Path,
                                                     artifacts_dir: Path) -> None:
    shots = artifacts_dir / "e2e"
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir()
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page = browser.new_page(viewport={"width": 1500, "height": 1900})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_url)
    page.locator("#scan-upload input[type=file]").set_input_files([str(p) for p in write_series(tmp_path)])

    # The series opens: a picture in the canvas and a slice slider over the three slices.
    page.locator("#region-canvas canvas").first.wait_for()
    slider = page.locator("#slice-slider")
    slider.wait_for()
    assert slider.locator("input[type=number]").input_value() == "1"  # the middle of 0..2
    page.screenshot(path=str(shots / "1-loaded.png"), full_page=True)

    # Manual window, then another slice.
    page.locator("#window-center input").fill("40")
    page.locator("#window-width input").fill("400")
    page.locator("#apply-window").click()
    page.wait_for_function("document.querySelector('#window-width input').value === '400'")
    slider.locator("input[type=range]").fill("2")
    slider.locator("input[type=range]").dispatch_event("pointerup")
    page.wait_for_function("document.querySelector('#slice-slider input[type=number]').value === '2'")
    assert page.locator("#window-width input").input_value() == "400"  # the window survives the slice change

    # Draw a box by dragging on the canvas (again if the canvas was still taking the new slice).
    for _attempt in range(4):
        drag_box(page)
        try:
            page.locator("#model-box-edit input").first.wait_for(timeout=10_000)
            break
        except PlaywrightTimeout:
            page.screenshot(path=str(shots / "drag-retry.png"), full_page=True)
    page.locator("#model-box-edit input").first.fill("lesion")  # the canvas asks for the new box's name
    page.locator("#model-box-edit").get_by_text("OK", exact=True).click()
    page.wait_for_function("document.querySelector('#prompt textarea').value.includes('<box>[[')")
    page.wait_for_function("document.querySelector('#region-table').innerText.includes('lesion')")

    # Region-to-text: the answer streams into the chat and the annotated picture shows.
    page.locator("#ask").click()
    page.locator("#chat .message.bot, #chat [data-testid=bot]").first.wait_for()
    page.locator("#speed").get_by_text("tokens/s").wait_for()
    assert page.locator("#annotated-picture img").first.get_attribute("src").split("?")[0].endswith(".png")
    page.screenshot(path=str(shots / "2-answer.png"), full_page=True)

    # 中文: labels and buttons change, the conversation stays.
    page.locator("#language").get_by_text("中文").click()
    page.locator("#ask").get_by_text("提问").wait_for()
    assert "上传" in page.locator("#scan-upload").inner_text() or "扫描" in page.locator("#scan-upload").inner_text()
    assert page.locator("#chat .message.bot, #chat [data-testid=bot]").count() >= 1
    page.screenshot(path=str(shots / "3-chinese.png"), full_page=True)

    # Export and open the JSON.
    page.locator("#export").click()
    link = page.locator("#export-files tr", has_text=".json").locator("a").first
    link.wait_for()
    record = json.loads(page.request.get(link.get_attribute("href")).text())
    assert record["task"] == "region-to-text" and "<box>" in record["prompt"]
    page.screenshot(path=str(shots / "4-exported.png"), full_page=True)
