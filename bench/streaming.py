"""How fast the page shows a streamed answer, against how fast the model wrote it.

The real app runs in this process on the tiny random checkpoint (``tests/tiny_checkpoint.py``) with
a long ``--max-new-tokens``; headless Chromium (Playwright) opens it, loads CT_small.dcm and asks a
free question. For each answer:

- generated: the engine's own time for the answer (the speed line's seconds);
- shown: from the click on Ask until the finished answer is on the page (its speed line appears);
- ratio: shown / generated (goal <= 1.1).

"before" sends every token to the browser (``STREAM_INTERVAL_SECONDS = 0``); "after" coalesces them
(the app's setting). Both run in one app, alternately, so the machine is the same for each.

Run: ``python bench/streaming.py [--tokens 400] [--repeats 3]`` (needs /usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from pydicom.data import get_testdata_file  # noqa: E402

import app  # noqa: E402
from app_fixtures import free_port  # noqa: E402
from tiny_checkpoint import make_tiny_checkpoint  # noqa: E402
from ui_components import chat  # noqa: E402
from ui_components.context import AppContext, LoadState, ServerOptions  # noqa: E402
from ui_components.viewer_data import ROUTE  # noqa: E402

SPEED = re.compile(r"(\d+) tokens in ([\d.]+) s")
#: Until the speed line shows, in page time (ms) since the click on Ask.
WAIT_FOR_ANSWER_JS = """() => new Promise(resolve => {
  const speed = document.querySelector('#speed');
  const start = performance.now();
  const done = () => /tokens in/.test(speed.innerText);
  new MutationObserver((_, observer) => { if (done()) { observer.disconnect(); resolve(performance.now() - start); } })
    .observe(speed, {childList: true, subtree: true, characterData: true});
  document.querySelector('#ask').click();
})"""


def serve(tokens: int, folder: Path) -> str:
    checkpoint = make_tiny_checkpoint(folder / "tiny")
    options = ServerOptions(checkpoint=str(checkpoint), device="cpu", max_new_tokens=tokens, port=free_port())
    ctx = AppContext.create(options, folder / "work")
    ctx.host.start()
    while ctx.host.state is LoadState.LOADING:
        time.sleep(0.2)
    demo, _page = app.build_demo(ctx)
    server, _local, _share = demo.launch(server_port=options.port, prevent_thread_lock=True, css=app.CSS,
                                         allowed_paths=[str(folder)], quiet=True)
    server.add_route(ROUTE, ctx.scans.endpoint(), methods=["GET"])
    return f"http://127.0.0.1:{options.port}/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=400, help="max new tokens of each answer")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    settings = {"before (every token)": 0.0, "after (coalesced)": chat.STREAM_INTERVAL_SECONDS}
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in settings}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        url = serve(args.tokens, Path(tmp))
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                             args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.set_default_timeout(120_000)
        page.goto(url)
        page.locator("#scan-upload input[type=file]").set_input_files([get_testdata_file("CT_small.dcm")])
        page.wait_for_function("document.querySelector('#scan-line').innerText.includes('CT')")
        page.locator("#task input").click()
        page.get_by_role("option", name="Free question").click()
        page.locator("#question textarea").fill("Describe the picture in detail.")
        for _ in range(args.repeats):
            for name, interval in settings.items():
                page.locator("#new-chat").click()
                page.wait_for_function("document.querySelector('#speed').innerText.trim() === ''"
                                       " && document.querySelector('#prompt textarea').value.includes('<image>')"
                                       " && !document.querySelector('#ask').disabled")
                chat.STREAM_INTERVAL_SECONDS = interval
                shown_ms = page.evaluate(WAIT_FOR_ANSWER_JS)
                count, seconds = SPEED.search(page.locator("#speed").inner_text()).groups()
                results[name].append((shown_ms / 1000, float(seconds)))
        browser.close()
    print(f"tiny checkpoint, CPU, answers of up to {args.tokens} tokens, median of {args.repeats}")
    print(f"{'':24}{'generated s':>12}{'shown s':>10}{'shown / generated':>20}")
    for name, runs in results.items():
        shown = statistics.median(s for s, _g in runs)
        generated = statistics.median(g for _s, g in runs)
        ratio = statistics.median(s / g for s, g in runs)
        print(f"{name:24}{generated:12.2f}{shown:10.2f}{ratio:20.2f}")


if __name__ == "__main__":
    main()
