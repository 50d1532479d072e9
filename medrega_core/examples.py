"""The examples gallery: real, openly licensed scans that ship inside installed packages.

The catalog (``examples/catalog.json``) names where each file comes from; this module resolves those
locations on this machine and leaves out examples whose files are missing, so the gallery only ever
offers what can be opened.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from medrega_core.tasks import Task

CATALOG_PATH = Path(__file__).resolve().parent.parent / "examples" / "catalog.json"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Suggestion:
    """A task to try on an example, in one language."""

    task: Task
    question: str = ""
    objects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Example:
    """One gallery entry; ``paths`` are the files to open together (one scan)."""

    key: str
    title: dict[str, str]
    paths: tuple[Path, ...]
    suggestions: dict[str, Suggestion]
    source: str
    licence: str

    def suggestion(self, lang: str) -> Suggestion:
        return self.suggestions.get(lang) or self.suggestions["en"]


def _resolve(location: dict) -> Path | None:
    """The file a catalog location names, or None when it is not on this machine."""
    if "pydicom" in location:
        import warnings

        from pydicom.data import get_testdata_file

        with warnings.catch_warnings():
            # pydicom warns (and would try to download) for files pydicom-data does not serve.
            warnings.simplefilter("ignore")
            found = get_testdata_file(location["pydicom"])
        return Path(found) if found else None
    if "package" in location:
        spec = importlib.util.find_spec(location["package"])
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(list(spec.submodule_search_locations)[0]) / location["path"]
    else:
        path = Path(location["path"])
    return path if path.is_file() else None


def _parse_suggestion(raw: dict) -> Suggestion:
    return Suggestion(Task(raw["task"]), raw.get("question", ""), tuple(raw.get("objects", ())))


def list_examples(catalog_path: Path = CATALOG_PATH) -> list[Example]:
    """Examples whose files are all present here, in catalog order."""
    entries = json.loads(catalog_path.read_text(encoding="utf-8"))["examples"]
    examples = []
    for entry in entries:
        paths = [_resolve(location) for location in entry["files"]]
        if not all(paths):
            logger.info("example %s left out: its files are not installed here", entry["key"])
            continue
        examples.append(
            Example(
                key=entry["key"],
                title=entry["title"],
                paths=tuple(paths),
                suggestions={lang: _parse_suggestion(raw) for lang, raw in entry["suggestions"].items()},
                source=entry["source"],
                licence=entry["licence"],
            )
        )
    return examples
