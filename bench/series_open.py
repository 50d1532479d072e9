"""Server-side open of a 300-slice 512 x 512 CT series: decoded at once vs streaming (the app's uploads).

Each round, in this process, opens the series through ``Session.open`` both ways, alternating, and times
from the call to: the open returning; the viewer's value made (plane sizes, slice count, presets: what
the page gets first); the first picture's values (what the browser fetches first); every slice decoded.
Two series, built as the tests build them (``tests/viewer_fixtures.ct_series_512``): with a Pixel Padding
Value (padding shows as the picture's own lowest value) and without.
Prints the medians and the ratio streaming / at once per step (under 1: streaming is sooner).

    python bench/series_open.py [--slices 300] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from medrega_core.i18n import translator  # noqa: E402
from medrega_core.intake import picture_values  # noqa: E402
from medrega_core.session import Session  # noqa: E402
from ui_components.viewer import plane_info, scan_descriptor  # noqa: E402
from viewer_fixtures import ct_series_512  # noqa: E402

STEPS = ("open", "viewer value", "first picture", "all slices")


def timed_open(paths: list[Path], background: bool) -> list[float]:
    """Seconds from ``Session.open`` to each of :data:`STEPS`."""
    session = Session()
    start = time.perf_counter()
    session.open(paths, background=background)
    marks = [time.perf_counter()]
    scan_descriptor(session.scan, "bench", plane_info(session.scan), translator("en"))
    marks.append(time.perf_counter())
    picture_values(session.scan, session.view)
    marks.append(time.perf_counter())
    session.scan.wait_for()
    marks.append(time.perf_counter())
    session.close()
    return [mark - start for mark in marks]


def compare(folder: Path, slices: int, rounds: int, padding: bool) -> None:
    """Print the medians of both ways and their ratio for one series written under ``folder``."""
    paths = ct_series_512(folder, count=slices, padding=padding)
    times: dict[bool, list[list[float]]] = {False: [], True: []}
    for _ in range(rounds):
        for background in (False, True):
            times[background].append(timed_open(paths, background))
    medians = {way: [statistics.median(column) for column in zip(*rows)] for way, rows in times.items()}
    name = "padded" if padding else "without padding"
    for background, label in ((False, "at once"), (True, "streaming")):
        print(f"{name:<16}{label:<11}" + "".join(f"{value:>15.3f}" for value in medians[background]))
    ratios = [streaming / at_once for streaming, at_once in zip(medians[True], medians[False])]
    print(f"{name:<16}{'ratio':<11}" + "".join(f"{ratio:>15.2f}" for ratio in ratios))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slices", type=int, default=300, help="slices per series")
    parser.add_argument("--rounds", type=int, default=5, help="opens each way per series")
    args = parser.parse_args()
    print(f"{args.slices} slices of 512x512, medians of {args.rounds} alternating rounds, seconds")
    print(f"{'series':<16}{'way':<11}" + "".join(f"{step:>15}" for step in STEPS))
    with tempfile.TemporaryDirectory(prefix="series_open_") as temporary:
        for padding in (True, False):
            compare(Path(temporary) / str(padding), args.slices, args.rounds, padding)


if __name__ == "__main__":
    main()
