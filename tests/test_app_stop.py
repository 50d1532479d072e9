"""Stop: a long answer ends early when the user presses Stop, and the model is free for the next one."""

from __future__ import annotations

import time

import pytest
from gradio_client import Client, handle_file
from pydicom.data import get_testdata_file

from app_fixtures import app_url  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow

#: Long enough that a full answer takes far longer than STOP_SECONDS here (the tiny model's context is 2048).
APP_MAX_NEW_TOKENS = 1500
STOP_SECONDS = 8


def wait_for_first_output(job, limit: float) -> None:
    deadline = time.monotonic() + limit
    while not job.outputs():
        assert not job.done(), f"the answer ended without output: {job.exception()}"
        assert time.monotonic() < deadline, "no streamed output"
        time.sleep(0.05)


def test_stop_ends_a_long_answer_and_the_next_question_runs(app_url: str) -> None:
    client = Client(app_url, verbose=False)
    client.predict([handle_file(get_testdata_file("CT_small.dcm"))], api_name="/load_scan")
    job = client.submit(None, "", "free", "demo", "Describe everything.", "", "", "", api_name="/ask")
    wait_for_first_output(job, 60)
    started = time.monotonic()
    client.predict(api_name="/stop")
    while not job.done():
        assert time.monotonic() - started < STOP_SECONDS, "the answer did not stop"
        time.sleep(0.1)

    # The model slot is free again: a new question streams at once.
    follow = client.submit(None, "", "free", "demo", "Again?", "", "", "", api_name="/ask")
    wait_for_first_output(follow, 30)
    client.predict(api_name="/stop")
