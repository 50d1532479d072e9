"""A session's results as rows (per resident, per case) and as CSV."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from medrega_core.teaching.store import TeachingStore

#: Columns of the results, in order (CSV header and JSON keys).
RESULT_COLUMNS = ("name", "case", "case_id", "boxes", "iou", "hit", "seconds", "answer")


def result_rows(store: TeachingStore, code: str) -> list[dict[str, Any]]:
    """``{name, case (1-based position in the session), case_id, boxes, iou, hit, seconds, answer}``
    for every submitted answer; ``iou`` and ``hit`` hold one value per box, in the boxes' order."""
    session = store.session(code)
    _names, answers = store.answers(code)
    position = {case_id: index + 1 for index, case_id in enumerate(session.case_ids)}
    rows = [{"name": a.name, "case": position[a.case_id], "case_id": a.case_id, "boxes": [b.to_dict() for b in a.boxes],
             "iou": list(a.ious), "hit": list(a.hits), "seconds": a.seconds, "answer": a.answer} for a in answers]
    return sorted(rows, key=lambda row: (row["case"], row["name"]))


def results_csv(rows: list[dict[str, Any]]) -> str:
    """The rows as CSV; list columns hold JSON (``[0.71, 0.2]``) so that one cell is one field."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=RESULT_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({key: json.dumps(value, ensure_ascii=False) if isinstance(value, list) else value
                         for key, value in row.items()})
    return buffer.getvalue()
