"""Start and stop real vLLM servers (CPU) for the tests: ``python -m medrega_core vllm-serve`` run with
the Python of vLLM's own environment (``MEDREGA_VLLM_PYTHON``, default ``/opt/medrega-vllm/bin/python``)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from app_fixtures import free_port
from conftest import IN_CI, REPO_ROOT

VLLM_PYTHON = Path(os.environ.get("MEDREGA_VLLM_PYTHON", "/opt/medrega-vllm/bin/python"))
#: A cold start on two CPU cores (model inspection, torch.compile warm-up) takes one to two minutes.
START_TIMEOUT = 600


def require_vllm() -> Path:
    """vLLM's Python with the plugin installed; skip (fail under CI) when absent."""
    reason = None
    if not VLLM_PYTHON.exists():
        reason = f"vLLM's environment not found: {VLLM_PYTHON} (set MEDREGA_VLLM_PYTHON; see .ci/run)"
    else:
        probe = subprocess.run(
            [str(VLLM_PYTHON), "-c", "from medrega_vllm.serve import plugin_installed; "
                                     "import importlib.util as u; assert u.find_spec('vllm') and plugin_installed()"],
            cwd="/", capture_output=True, text=True, timeout=120)
        if probe.returncode != 0:
            reason = f"vLLM or the medrega_vllm plugin is not installed in {VLLM_PYTHON}"
    if reason is None:
        return VLLM_PYTHON
    if IN_CI:
        pytest.fail(reason)
    pytest.skip(reason)


class VllmServer:
    """One ``vllm-serve`` process group on 127.0.0.1; its log goes to ``log``."""

    def __init__(self, checkpoint: Path, log: Path, *extra: str, port: int | None = None) -> None:
        self.checkpoint, self.log, self.extra = checkpoint, log, extra
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> "VllmServer":
        command = [str(require_vllm()), "-m", "medrega_core", "vllm-serve", "--checkpoint", str(self.checkpoint),
                   "--host", "127.0.0.1", "--port", str(self.port), "--dtype", "float32", "--max-num-seqs", "16",
                   *self.extra]
        environment = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "OMP_NUM_THREADS": "1"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=REPO_ROOT, env=environment, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"vllm-serve exited with {self.process.returncode}; see {self.log}")
            try:
                if httpx.get(self.url + "/v1/models", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(2)
        self.stop()
        raise RuntimeError(f"vllm-serve did not start within {START_TIMEOUT} s; see {self.log}")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """Kill the whole server (API server, engine core, workers) at once, as a crash would."""
        if self.alive:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=60)

    def stop(self) -> None:
        if self.alive:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()

    def requests(self) -> tuple[int, int]:
        """(running, waiting) requests, from the server's Prometheus metrics."""
        counts = {kind: int(float(value)) for kind, value in
                  re.findall(r"^vllm:num_requests_(running|waiting)\{[^}]*\}\s+(\S+)$", self._metrics(), re.MULTILINE)}
        return counts.get("running", 0), counts.get("waiting", 0)

    def generated_tokens(self) -> int:
        """Tokens the server has generated since it started, from its metrics."""
        found = re.search(r"^vllm:generation_tokens_total\{[^}]*\}\s+(\S+)$", self._metrics(), re.MULTILINE)
        return int(float(found.group(1))) if found else 0

    def shared_steps(self) -> int:
        """Engine steps since the start that handled 2 to 8 tokens, from vLLM's histogram of tokens per
        step (``vllm:iteration_tokens_total``: every step is counted, nothing is sampled). A step decoding
        one answer handles 1 token and a question's prompt tens or hundreds, so these are steps that
        decoded several answers together (besides at most one per question whose prompt was cached but
        for a few tokens)."""
        buckets = dict(re.findall(r'^vllm:iteration_tokens_total_bucket\{[^}]*le="([^"]+)"[^}]*\}\s+(\S+)$',
                                  self._metrics(), re.MULTILINE))
        return int(float(buckets.get("8.0", 0)) - float(buckets.get("1.0", 0)))

    def _metrics(self) -> str:
        return httpx.get(self.url + "/metrics", timeout=5).text
