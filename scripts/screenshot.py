"""Take the screenshots of the docs from the running app: the workbench (``docs/screenshot.png``) and a
teaching session (``docs/teaching-overview.png``, ``docs/teaching-resident.png``).

    python scripts/screenshot.py

With the tests' own helpers: builds the tiny checkpoint trained in the tests to answer with boxes
(``tests/trained_checkpoint.py``, about a minute of CPU) and starts ``app.py`` on it on a free port.
Workbench, in headless Debian Chromium at 1600 x 1000: opens the CT example, asks "Find objects" for
the liver, waits for the answer's box in the viewer and saves the page. Teaching: the two cases of the
teaching tests, a session with the three residents of ``tests/test_teaching_browser.py`` and their
boxes; saves the teacher's overview and Ann's scored page. The model's boxes are the test model's fixed
answer, not MedRegA's. Needs ``/usr/bin/chromium`` and the dev requirements.
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "tests")]

from gradio_client import Client  # noqa: E402
from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from app_fixtures import running_app  # noqa: E402
from medrega_core.examples import list_examples  # noqa: E402
from medrega_core.tasks import Task  # noqa: E402
from teaching_fixtures import prepare_cases, teaching_app  # noqa: E402
from test_teaching_browser import (  # noqa: E402
    DRAWN, TEACHER_PAGE_SIZE, draw_box, join, new_page, resident_page, start_session, submit,
)
from test_viewer_answers_browser import choose_task  # noqa: E402
from trained_checkpoint import make_trained_checkpoint  # noqa: E402
from viewer_fixtures import launch_browser, open_app, wait_rendered  # noqa: E402

DOCS = REPO_ROOT / "docs"
#: The example opened for the picture, and what is asked of the model about it.
EXAMPLE_KEY = "ct-thoracic-spine"
OBJECT = "liver"
#: How long (ms) the tiny model may take to answer on a busy CPU.
ANSWER_TIMEOUT_MS = 180_000


def save_png(png: bytes, path: Path) -> None:
    """Write a screenshot losslessly, as small as Pillow's optimiser makes it."""
    with Image.open(io.BytesIO(png)) as image:
        image.convert("RGB").save(path, optimize=True)
    print(f"wrote {path.relative_to(REPO_ROOT)} ({path.stat().st_size // 1024} KB)")


def workbench_screenshot(browser, url: str) -> bytes:
    """The workbench with the CT example open and the model's box for the liver on it."""
    example = next(e for e in list_examples() if e.key == EXAMPLE_KEY)
    page = open_app(browser, url)
    try:
        page.locator("#examples button", has_text=example.title["en"]).click()
        page.wait_for_function("() => { const s = window.medregaViewer.state(); return s.scanKey && s.rendered; }")
        choose_task(page, Task.TEXT_TO_REGION)
        page.locator("#objects input, #objects textarea").first.fill(OBJECT)
        page.wait_for_function(f"() => document.querySelector('#prompt textarea').value.includes({OBJECT!r})")
        page.click("#ask")
        page.wait_for_function("() => window.medregaViewer.state().modelBoxes.length === 1", timeout=ANSWER_TIMEOUT_MS)
        page.wait_for_function("() => document.querySelector('#speed').innerText.trim() !== ''")  # answer finished
        page.evaluate("window.scrollTo(0, 0)")  # clicking Ask scrolled the page down to the button
        wait_rendered(page)
        return page.screenshot()
    finally:
        page.close()


def teaching_screenshots(browser, url: str) -> dict[str, bytes]:
    """The teacher's overview once three residents have submitted their boxes, and the first resident's
    scored page (the whole page)."""
    prepare_cases(Client(url, verbose=False))
    teacher = new_page(browser, url + "teach", TEACHER_PAGE_SIZE)
    code = start_session(teacher)
    residents = {name: resident_page(browser, url, code) for name in DRAWN}
    for name, page in residents.items():
        join(page, name)
        draw_box(page, DRAWN[name])
        submit(page)
    first = next(iter(residents.values()))
    first.locator("#class-result").scroll_into_view_if_needed()
    everyone = f"{len(DRAWN)} of {len(DRAWN)} residents submitted"
    teacher.wait_for_function(f"document.querySelector('#teach-progress')?.innerText.includes({everyone!r})")
    return {"teaching-overview.png": teacher.locator("#teach-overview").screenshot(),
            "teaching-resident.png": first.screenshot(full_page=True)}


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="medrega-screenshot-") as scratch, sync_playwright() as playwright:
        folder = Path(scratch)
        print("training the tiny checkpoint (about a minute) ...")
        checkpoint = make_trained_checkpoint(folder / "trained-tiny-checkpoint")
        browser = launch_browser(playwright)
        try:
            with running_app(checkpoint, folder / "app.log", "--data-dir", str(folder / "workbench-data")) as url:
                save_png(workbench_screenshot(browser, url), DOCS / "screenshot.png")
            with teaching_app(checkpoint, folder / "data", folder / "teaching.log") as url:
                for name, png in teaching_screenshots(browser, url).items():
                    save_png(png, DOCS / name)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
