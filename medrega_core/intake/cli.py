"""``python -m medrega_core scan {info,render}``: inspect and render scans from the shell.

Imports only the intake layer (no torch). Errors reach ``medrega_core.__main__`` as ``ScanError``,
which prints the localized message and exits 2.
"""

from __future__ import annotations

import argparse
import json
import sys

from medrega_core.errors import N_

__all__ = ["register"]


def _window_argument(text: str):
    """A preset name, or ``CENTER,WIDTH`` as numbers."""
    from medrega_core.intake.windowing import Window

    if "," not in text:
        return text
    try:
        center, width = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(N_("expected a preset name or CENTER,WIDTH")) from None
    return Window(center, width)


def _open(args: argparse.Namespace):
    from medrega_core.intake import MultipleSeriesError, open_scan

    try:
        return open_scan(args.files, series_uid=args.series_uid)
    except MultipleSeriesError as error:
        choices = [{"uid": c.uid, "description": c.description, "modality": c.modality, "count": c.count}
                   for c in error.choices]
        print(json.dumps({"series": choices}, ensure_ascii=False, indent=2), file=sys.stderr)
        raise


def _info(args: argparse.Namespace) -> int:
    from medrega_core.intake import render

    scan = _open(args)
    info = scan.info.to_dict()
    info["planes"] = {plane.value: scan.num_slices(plane) for plane in scan.planes}
    info["presets"] = scan.presets
    info["orientation_letters"] = render(scan).orientation
    print(json.dumps(info, ensure_ascii=False, indent=2))
    return 0


def _render(args: argparse.Namespace) -> int:
    from PIL import Image

    from medrega_core.intake import View, render

    scan = _open(args)
    plane = args.plane or scan.default_view().plane
    view = View(plane=plane, slice_index=args.slice, frame=args.frame, timepoint=args.timepoint, window=args.window)
    rendering = render(scan, view)
    Image.fromarray(rendering.rgb).save(args.out, format="PNG")
    summary = {
        "out": str(args.out),
        "size": [rendering.geometry.width, rendering.geometry.height],
        "plane": rendering.view.plane.value,
        "slice": rendering.view.slice_index,
        "window": None if rendering.window is None else [rendering.window.center, rendering.window.width],
        "orientation": rendering.orientation,
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``scan info`` and ``scan render`` to the top-level parser."""
    scan = subparsers.add_parser("scan", help="inspect or render a scan (DICOM, picture, volume)")
    commands = scan.add_subparsers(dest="scan_command", required=True)

    info = commands.add_parser("info", help="print the scan's metadata as JSON (no patient identifiers)")
    info.add_argument("files", nargs="+", help="a picture, DICOM file(s), a folder, a zip or a volume")
    info.add_argument("--series-uid", default=None, help="series to open when the files hold several")
    info.set_defaults(func=_info)

    draw = commands.add_parser("render", help="render one plane as an 8-bit RGB PNG")
    draw.add_argument("files", nargs="+")
    draw.add_argument("--out", required=True, help="PNG file to write")
    draw.add_argument("--window", type=_window_argument, default=None,
                      help="preset (soft_tissue, lung, liver, bone, brain, header, auto) or CENTER,WIDTH (write --window=-600,1500 for a negative centre)")
    draw.add_argument("--plane", choices=("axial", "coronal", "sagittal"), default=None)
    draw.add_argument("--slice", type=int, default=None, help="slice index (default: middle)")
    draw.add_argument("--frame", type=int, default=0)
    draw.add_argument("--timepoint", type=int, default=0)
    draw.add_argument("--series-uid", default=None)
    draw.set_defaults(func=_render)
