"""Soak: several API sessions at once upload, draw boxes, ask, fail an upload and export against one
real app; none sees an error it did not cause, nor another session's scan, boxes or answer."""

from __future__ import annotations

import html
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from pydicom.data import get_testdata_file

from app_fixtures import app_url  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow

SESSIONS = 5
ROUNDS = 2
#: Each session's scan: (file, the modality its header says).
SCANS = [("CT_small.dcm", "CT"), ("MR_small.dcm", "MR")]


def table_of(outputs: tuple) -> list[list]:
    return next(o["value"]["data"] for o in outputs if isinstance(o, dict) and "headers" in o and "value" in o)


def chat_of(outputs: tuple) -> list[dict]:
    return next(o for o in outputs if isinstance(o, list) and o and isinstance(o[0], dict) and "role" in o[0])


def one_session(url: str, number: int, folder: Path) -> list[str]:
    """Run ``ROUNDS`` cases in one session; returns what went wrong (empty when all is well)."""
    client, problems = Client(url, verbose=False), []
    name, modality = SCANS[number % len(SCANS)]
    label, word = f"box-of-{number}", f"token{number}x"
    bad = folder / f"broken-{number}.dcm"
    bad.write_bytes(bytes((number * 37 + i) % 256 for i in range(3000)))
    for round_index in range(ROUNDS):
        opened = client.predict([handle_file(get_testdata_file(name))], api_name="/load_scan")
        metadata = next(o for o in opened if isinstance(o, dict) and o.get("modality"))
        if metadata["modality"] != modality:
            problems.append(f"session {number} opened {metadata['modality']}, not {modality}")
        table = table_of(client.predict([{"x1": 10 + number, "y1": 10, "x2": 60, "y2": 70, "label": label}],
                                        api_name="/set_boxes"))
        if [row[0] for row in table] != [label]:
            problems.append(f"session {number} sees boxes {[row[0] for row in table]}")
        question = f"Is there a fracture, {word} round {round_index}?"
        chat = chat_of(client.predict(None, "", "free", "demo", question, "", "", "", api_name="/ask"))
        asked = [html.unescape(m["content"][0]["text"]) for m in chat if m["role"] == "user"]
        if len(asked) != 1 or question not in asked[0]:
            problems.append(f"session {number} sees questions {asked}")
        files = client.predict(False, api_name="/export")
        record = json.loads(Path(next(f for f in files if str(f).endswith(".json"))).read_text())
        if word not in record["prompt"] or not record["answer"]:
            problems.append(f"session {number} exported another prompt or no answer")
        if any(f"token{other}x" in json.dumps(record) for other in range(SESSIONS) if other != number):
            problems.append(f"session {number} exported another session's words")
        try:
            client.predict([handle_file(str(bad))], api_name="/load_scan")
            problems.append(f"session {number}: broken upload accepted")
        except Exception as error:  # the app's error toast
            if bad.name not in str(error):
                problems.append(f"session {number}: unexpected error {error}")
        try:
            client.predict(None, "", "free", "demo", question, "", "", "", api_name="/ask")
            problems.append(f"session {number} answered about a closed scan")
        except Exception as error:
            if "Load a scan first" not in str(error):
                problems.append(f"session {number}: unexpected error {error}")
    return problems


def test_many_sessions_at_once_stay_apart(app_url: str, tmp_path: Path) -> None:
    with ThreadPoolExecutor(SESSIONS) as pool:
        results = list(pool.map(lambda n: one_session(app_url, n, tmp_path), range(SESSIONS)))
    problems = [p for result in results for p in result]
    assert not problems, problems
