"""Start the real app (``python app.py``) as a subprocess on the tiny checkpoint, for client and browser tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 120


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(url: str, process: subprocess.Popen, log: Path, ready: str = "Model ready") -> None:
    """Wait for the page and for the model: the status endpoint says ``ready``."""
    from gradio_client import Client

    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if ready in Client(url, verbose=False).predict(api_name="/status"):
                return
        except Exception:  # not listening yet
            pass
        time.sleep(1)
    raise RuntimeError(f"app not ready after {STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def running_app(checkpoint: Path, log: Path, *args: str, env: dict[str, str] | None = None,
                ready: str = "Model ready", port: int | None = None) -> Iterator[str]:
    """``python app.py --checkpoint <checkpoint> --device cpu <args>`` in a subprocess; yields its URL once
    the status line says ``ready`` (the model is ready), and stops it afterwards. ``port``: listen there
    (a restart on the same address)."""
    port = port or free_port()
    environment = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", **(env or {})}
    environment.pop("SPACE_ID", None)
    with log.open("w") as handle:
        process = subprocess.Popen(
            [sys.executable, "app.py", "--checkpoint", str(checkpoint), "--device", "cpu", "--port", str(port), *args],
            cwd=REPO_ROOT, env=environment, stdout=handle, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_ready(url, process, log, ready)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def app_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of ``python app.py --checkpoint <tiny or trained> --device cpu`` running in a subprocess.

    A test module may set ``APP_MAX_NEW_TOKENS`` for longer answers (default 24: quick tests) and
    ``APP_CHECKPOINT = "trained"`` for the checkpoint that answers with boxes (default ``"tiny"``:
    random weights).
    """
    max_new_tokens = getattr(request.module, "APP_MAX_NEW_TOKENS", 24)
    checkpoint: Path = request.getfixturevalue(f"{getattr(request.module, 'APP_CHECKPOINT', 'tiny')}_checkpoint")
    log = tmp_path_factory.mktemp("app-log") / "app.log"
    with running_app(checkpoint, log, "--max-new-tokens", str(max_new_tokens)) as url:
        yield url
