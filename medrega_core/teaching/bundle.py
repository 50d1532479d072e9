"""A case set as one zip file to share: ``case-set.json`` and each case's de-identified files.

The files in the store are already de-identified; an imported zip goes through the same
:meth:`TeachingStore.add_case` as an upload (de-identified again, view and boxes checked), so a zip
from elsewhere cannot bring identifiers or a broken case into the store.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, Sequence

from medrega_core.errors import N_
from medrega_core.intake import DEFAULT_LIMITS
from medrega_core.intake.readers.archive import read_zip_members
from medrega_core.teaching.cases import CaseError
from medrega_core.teaching.store import TeachingStore

MANIFEST = "case-set.json"
FORMAT = "medrega-case-set"
VERSION = 1


def export_case_set(store: TeachingStore, title: str, case_ids: Sequence[int], target: Path) -> Path:
    """Write the cases into the zip ``target`` (its manifest names the set ``title``)."""
    cases = [store.case(case_id) for case_id in case_ids]
    if not cases:
        raise CaseError(N_("Choose at least one case."))
    manifest: dict[str, Any] = {"format": FORMAT, "version": VERSION, "title": title, "cases": []}
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for number, case in enumerate(cases, start=1):
            folder = f"case-{number}"
            for path in case.paths:
                archive.write(path, f"{folder}/{path.name}")
            manifest["cases"].append({
                "folder": folder, "files": list(case.files), "view": case.view,
                "reference_boxes": [b.to_dict() for b in case.reference_boxes], "question": case.question,
                "task": case.task, "reference_answer": case.reference_answer, "lang": case.lang,
                "model_answer": case.model_answer})
        archive.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2))
    return target


def _free_title(store: TeachingStore, title: str) -> str:
    taken = {existing for existing, _ids in store.case_sets()}
    candidate, number = title, 2
    while candidate in taken:
        candidate, number = f"{title} ({number})", number + 1
    return candidate


def import_case_set(store: TeachingStore, source: Path) -> tuple[str, list[int]]:
    """Add the cases of a zip written by :func:`export_case_set` as a new case set; returns its
    title (the zip's, numbered when a set of that name exists) and the new case ids."""
    members = dict(read_zip_members(str(source), Path(source).name, DEFAULT_LIMITS))
    try:
        manifest = json.loads(members[MANIFEST].decode("utf-8"))
        if manifest.get("format") != FORMAT:
            raise ValueError(manifest.get("format"))
        entries = list(manifest["cases"])
    except (KeyError, ValueError, TypeError, UnicodeDecodeError, AttributeError):
        raise CaseError(N_("This file is not a case set exported by MedRegA Workbench.")) from None
    title = _free_title(store, str(manifest.get("title") or "Imported cases"))
    case_ids = []
    with tempfile.TemporaryDirectory(prefix="case-set-") as scratch:
        for number, entry in enumerate(entries):
            try:
                folder = Path(scratch) / str(number)
                folder.mkdir()
                paths = []
                for name in entry["files"]:
                    member = f"{entry['folder']}/{name}"
                    if PurePosixPath(name).name != name or member not in members:
                        raise KeyError(member)
                    (folder / name).write_bytes(members[member])
                    paths.append(folder / name)
                case_id = store.add_case(title, paths, entry["view"], entry["reference_boxes"], entry["question"],
                                         entry["task"], entry.get("reference_answer", ""), entry.get("lang") or "en")
            except (KeyError, TypeError, AttributeError):
                raise CaseError(N_("This file is not a case set exported by MedRegA Workbench.")) from None
            if entry.get("model_answer"):
                store.set_model_answer(case_id, str(entry["model_answer"]))
            case_ids.append(case_id)
    return title, case_ids
