"""``python -m medrega_core pacs {find,get}`` and ``python -m medrega_core sr``.

``pacs find`` prints studies as JSON without patient name or ID unless ``--show-identifiers``;
``pacs get`` retrieves a series (or every image series of a study) into a folder, and exits 3, naming
them, when some instances could not be retrieved or decoded (the others are written); ``sr`` writes
the DICOM SR of an answer exactly as the app does, and can send it to the PACS. Passwords and
tokens may come from ``MEDREGA_DICOMWEB_PASSWORD`` / ``MEDREGA_DICOMWEB_TOKEN`` so they stay out
of the process list.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from medrega_core.errors import N_
from medrega_core.i18n import normalize_language, translate

__all__ = ["register", "PARTIAL_EXIT"]

#: ``pacs get``'s exit status when some instances failed and the others were written (errors exit 2).
PARTIAL_EXIT = 3


def _settings(args: argparse.Namespace):
    from medrega_core.pacs import PacsSettings

    return PacsSettings(url=args.url, user=args.user, password=args.password, token=args.token)


def _add_connection(parser: argparse.ArgumentParser, url_flag: str = "--url", required: bool = True) -> None:
    parser.add_argument(url_flag, dest="url", required=required, help="DICOMweb root, e.g. http://localhost:8042/dicom-web")
    parser.add_argument("--user", default=os.environ.get("MEDREGA_DICOMWEB_USER"), help="HTTP basic user")
    parser.add_argument("--password", default=os.environ.get("MEDREGA_DICOMWEB_PASSWORD"), help="HTTP basic password")
    parser.add_argument("--token", default=os.environ.get("MEDREGA_DICOMWEB_TOKEN"), help="bearer token")


def _find(args: argparse.Namespace) -> int:
    from medrega_core.pacs import PacsClient, StudyQuery

    query = StudyQuery(date_from=args.since or "", date_to=args.until or "", modality=args.modality or "",
                       description=args.description or "", patient_id=args.patient_id or "")
    studies = PacsClient(_settings(args)).find_studies(query, show_identifiers=args.show_identifiers)
    rows = [study.to_dict() for study in studies]
    if not args.show_identifiers:
        for row in rows:
            del row["patient_name"], row["patient_id"]
    print(json.dumps(rows, ensure_ascii=False, indent=2))
    return 0


def _get(args: argparse.Namespace) -> int:
    import warnings

    from medrega_core.pacs import PacsClient

    # pydicom warns about oddities it reads past (command elements, say); the failures are summed up below.
    warnings.filterwarnings("ignore", module=r"pydicom\.")
    client = PacsClient(_settings(args))
    if args.series:
        retrievals = {args.series: client.retrieve_series(args.study, args.series, args.out)}
    else:
        retrievals = client.retrieve_study(args.study, args.out)
    print(json.dumps({uid: [str(p) for p in retrieval.paths] for uid, retrieval in retrievals.items()}, indent=2))
    failed = [instance for retrieval in retrievals.values() for instance in retrieval.failed]
    if not failed:
        return 0
    lang = normalize_language(args.lang)
    print(translate(N_("Instances that could not be retrieved or decoded: {count}; the other files were written."), lang,
                    count=len(failed)), file=sys.stderr)
    for instance in failed:
        print(f"  {instance.sop_instance_uid}: {instance.reason.localized(lang)}", file=sys.stderr)
    return PARTIAL_EXIT


def _box(text: str):
    from medrega_core.tasks import PixelBox

    try:
        x1, y1, x2, y2 = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("expected X1,Y1,X2,Y2 in picture pixels") from None
    return PixelBox(x1, y1, x2, y2)


def _sr(args: argparse.Namespace) -> int:
    from medrega_core.export import ExportRecord
    from medrega_core.intake import View, open_scan, render
    from medrega_core.pacs import PacsClient, send_report, write_report

    scan = open_scan(args.scan, series_uid=args.series_uid)
    rendering = render(scan, View(plane=args.plane or scan.default_view().plane, slice_index=args.slice,
                                  frame=args.frame))
    record = ExportRecord(
        task=args.task, lang="en", prompt=args.prompt, answer=args.answer, rendering=rendering, scan=scan,
        user_boxes=tuple(args.user_box), engine_info={"checkpoint": args.model, "quantization": args.quant},
        include_identifiers=args.keep_identifiers,
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_report(record, out.parent, out.name)
    summary = {"out": str(out), "identifiers_removed": not args.keep_identifiers}
    if args.url:
        sent = send_report(record, PacsClient(_settings(args)))
        summary["sent"] = {"study_uid": str(sent.StudyInstanceUID), "series_uid": str(sent.SeriesInstanceUID),
                           "sop_instance_uid": str(sent.SOPInstanceUID)}
    print(json.dumps(summary, indent=2), file=sys.stdout)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``pacs find``, ``pacs get`` and ``sr``."""
    pacs = subparsers.add_parser("pacs", help="search and retrieve studies over DICOMweb")
    commands = pacs.add_subparsers(dest="pacs_command", required=True)

    find = commands.add_parser("find", help="list studies as JSON (no patient identifiers unless asked)")
    _add_connection(find)
    find.add_argument("--modality", default=None, help="e.g. CT, MR, CR, DX")
    find.add_argument("--since", default=None, metavar="YYYYMMDD", help="studies on or after this date")
    find.add_argument("--until", default=None, metavar="YYYYMMDD", help="studies on or before this date")
    find.add_argument("--description", default=None, help="text within the study description")
    find.add_argument("--patient-id", default=None, help="exact patient ID (only where you are allowed to)")
    find.add_argument("--show-identifiers", action="store_true", help="include patient name and ID")
    find.set_defaults(func=_find)

    get = commands.add_parser("get", help="retrieve a series (or a whole study) with WADO-RS into a folder; "
                                             "exits 3 when some instances could not be retrieved or decoded")
    _add_connection(get)
    get.add_argument("--study", required=True, help="Study Instance UID")
    get.add_argument("--series", default=None, help="Series Instance UID (default: every image series)")
    get.add_argument("--out", required=True, help="folder to write the DICOM files into")
    get.set_defaults(func=_get)

    sr = subparsers.add_parser("sr", help="write MedRegA's answer as a DICOM Structured Report (TID 1500)")
    sr.add_argument("--scan", nargs="+", required=True, help="the DICOM file(s) the answer is about")
    sr.add_argument("--series-uid", default=None, help="series to open when the files hold several")
    sr.add_argument("--answer", required=True, help="the model's answer, tags included")
    sr.add_argument("--task", required=True, help="task id, e.g. text-to-region")
    sr.add_argument("--prompt", required=True, help="the exact prompt sent to the model")
    sr.add_argument("--plane", choices=("axial", "coronal", "sagittal"), default=None)
    sr.add_argument("--slice", type=int, default=None, help="slice index (default: middle)")
    sr.add_argument("--frame", type=int, default=0)
    sr.add_argument("--user-box", type=_box, action="append", default=[], metavar="X1,Y1,X2,Y2",
                    help="a user box in picture pixels (repeatable)")
    sr.add_argument("--model", default="MedRegA", help="model id recorded as the observer")
    sr.add_argument("--quant", default="unknown", help="quantization recorded with the model")
    sr.add_argument("--out", required=True, help="SR file to write (de-identified unless --keep-identifiers)")
    sr.add_argument("--keep-identifiers", action="store_true", help="keep patient identifiers in the file")
    _add_connection(sr, "--send", required=False)
    sr.set_defaults(func=_sr)
