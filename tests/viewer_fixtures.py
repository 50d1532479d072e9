"""Scans and browser helpers for the viewer's browser tests (real files, real Chromium, the real app)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.uid import ExplicitVRLittleEndian

from intake_fixtures import dicom_file, nibabel_file, series_datasets, write_series

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 60_000
PAGE_SIZE = {"width": 1600, "height": 1000}


def launch_browser(playwright: Any) -> Any:
    if not CHROMIUM.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("/usr/bin/chromium is missing; CI must install Debian's chromium package")
        pytest.skip("/usr/bin/chromium is absent (apt-get install chromium fonts-wqy-microhei)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium for a test module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = launch_browser(playwright)
        yield instance
        instance.close()


def uncompressed(ds: pydicom.Dataset) -> pydicom.Dataset:
    """``ds`` with its pixels stored as plain little-endian (series_datasets writes raw pixel bytes)."""
    ds.PixelData = ds.pixel_array.tobytes()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def ct_series_512(folder: Path, count: int = 20, padding: bool = True) -> list[Path]:
    """A 512 x 512 head CT series (pydicom's 693_J2KI slice, 5 mm apart), stored uncompressed; without
    ``padding`` its Pixel Padding Value is left out (the stored -2000 outside the scanned circle are values)."""
    template = uncompressed(pydicom.dcmread(dicom_file("693_J2KI.dcm")))
    if not padding:
        del template.PixelPaddingValue
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "template.dcm"
    template.save_as(source, enforce_file_format=True)
    datasets = series_datasets(str(source), count, spacing_mm=5.0, description="Head CT 512")
    paths = write_series(datasets, folder / "series")
    source.unlink()
    return paths


def radiograph_3000(folder: Path) -> Path:
    """pydicom-data's PA chest radiograph resampled to 3000 x 2500, as a DX with Patient Orientation L\\F."""
    ds = pydicom.dcmread(dicom_file("RG1_UNCI.dcm"))
    pixels = cv2.resize(ds.pixel_array, (3000, 2500), interpolation=cv2.INTER_LINEAR).astype(ds.pixel_array.dtype)
    ds.Rows, ds.Columns, ds.PixelData = 2500, 3000, pixels.tobytes()
    # A detector of 43 x 36 cm; the file's own PixelSpacing is 0\\0 (unknown).
    del ds.PixelSpacing
    ds.Modality, ds.PatientOrientation, ds.ImagerPixelSpacing = "DX", ["L", "F"], [0.143, 0.143]
    path = folder / "chest_dx_3000x2500.dcm"
    ds.save_as(path)
    return path


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """The 20-slice 512 x 512 CT series of :func:`ct_series_512`, written once per test module."""
    return ct_series_512(tmp_path_factory.mktemp("ct512"))


@pytest.fixture(scope="module")
def radiograph(tmp_path_factory):
    """The 3000 x 2500 DX of :func:`radiograph_3000`, written once per test module."""
    return radiograph_3000(tmp_path_factory.mktemp("dx"))


def nifti_4d() -> Path:
    return nibabel_file("example4d.nii.gz")


# ---- driving the page ----

def open_app(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport=PAGE_SIZE)
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.wait_for_function("window.medregaViewer !== undefined")
    return page


def viewer_state(page: Any) -> dict[str, Any]:
    return page.evaluate("window.medregaViewer.state()")


def upload(page: Any, paths: list[Path] | Path) -> dict[str, Any]:
    """Upload files through #scan-upload and wait until the viewer shows their first picture."""
    before = viewer_state(page)["scanKey"]
    files = [str(p) for p in (paths if isinstance(paths, list) else [paths])]
    page.set_input_files("#scan-upload input[type=file]", files)
    page.wait_for_function(
        "(before) => { const s = window.medregaViewer.state(); return s.scanKey && s.scanKey !== before"
        " && s.rendered; }", arg=before)
    wait_rendered(page)
    return viewer_state(page)


def wait_rendered(page: Any) -> None:
    """What was asked of the viewer has been drawn and the page's layout has settled: the picture's
    place on the page is the same over several animation frames."""
    page.evaluate("""async () => {
        const frame = () => new Promise((done) => requestAnimationFrame(done));
        let last = '', same = 0;
        for (let i = 0; i < 1200 && same < 5; i++) {
            await frame();
            const s = window.medregaViewer.state();
            const now = s.rendered ? JSON.stringify(s.imageRect) : 'loading';
            same = now === last && now !== 'loading' ? same + 1 : 0;
            last = now;
        }
        if (same < 5) throw new Error('the viewer did not settle');
    }""")


def page_point(state: dict[str, Any], x: float, y: float) -> tuple[float, float]:
    """Where picture pixel (x, y) lies on the page, from the viewer's own report of the picture's place."""
    rect, picture = state["imageRect"], state["picture"]
    return rect["left"] + x * rect["width"] / picture["width"], rect["top"] + y * rect["height"] / picture["height"]


def picture_point(state: dict[str, Any], px: float, py: float) -> tuple[float, float]:
    rect, picture = state["imageRect"], state["picture"]
    return (px - rect["left"]) * picture["width"] / rect["width"], (py - rect["top"]) * picture["height"] / rect["height"]


def viewport_centre(page: Any) -> tuple[float, float]:
    box = page.locator("#scan-viewer .medrega-viewport").bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def canvas_pixels(page: Any) -> np.ndarray:
    """What the viewer's canvas shows, H x W x 3 uint8 in device pixels."""
    data_url = page.evaluate("document.querySelector('#scan-viewer canvas').toDataURL('image/png')")
    import base64

    with Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))) as image:
        return np.asarray(image.convert("RGB"))


def screen_pixels(page: Any) -> np.ndarray:
    """What the page shows (canvas and the SVG layer the boxes are drawn in), H x W x 3 in CSS pixels."""
    with Image.open(io.BytesIO(page.screenshot())) as image:
        return np.asarray(image.convert("RGB"))


def drag(page: Any, start: tuple[float, float], end: tuple[float, float], button: str = "left", steps: int = 8) -> None:
    page.mouse.move(*start)
    page.mouse.down(button=button)
    page.mouse.move(*end, steps=steps)
    page.wait_for_timeout(50)  # the viewer handles moves at most once a frame: let it see the last one
    page.mouse.move(end[0] + 0.01, end[1] + 0.01)
    page.mouse.up(button=button)


def choose_task(page: Any, task: str, field: str, text: str) -> None:
    """Pick ``task`` in the task panel and type ``text`` into its ``field`` (``question``, ``objects``);
    returns once the prompt shown holds the text."""
    page.locator("#task input").click()
    page.get_by_role("option", name=task).click()
    page.locator(f"#{field} textarea").fill(text)
    page.wait_for_function("(text) => document.querySelector('#prompt textarea').value.includes(text)", arg=text)


def screenshot(page: Any, folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"))
