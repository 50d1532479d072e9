"""Shared fixtures: where the conformance material lives, and the CI flag."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The reference checkpoint and outputs shipped beside the checkout (``../shared`` of the repo).
SHARED_DIR = Path(os.environ.get("MEDREGA_SHARED_DIR", REPO_ROOT.parent / "shared"))
CONFORMANCE_DIR = SHARED_DIR / "conformance"
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    if not (CONFORMANCE_DIR / "reference.json").exists():
        pytest.skip(f"conformance material not found at {CONFORMANCE_DIR} (../shared is absent)")
    return CONFORMANCE_DIR


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Folder for test artefacts (screenshots, exports) kept after the run."""
    path = REPO_ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random MedRegA checkpoint in the original on-disk layout (see ``tests/tiny_checkpoint.py``)."""
    from tiny_checkpoint import make_tiny_checkpoint

    return make_tiny_checkpoint(tmp_path_factory.mktemp("tiny-medrega"))


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny checkpoint trained to answer with ``<ref>``/``<box>`` (see ``tests/trained_checkpoint.py``);
    built once per session, about 10-20 s on one CPU core."""
    from trained_checkpoint import make_trained_checkpoint

    return make_trained_checkpoint(tmp_path_factory.mktemp("trained-medrega"))


@pytest.fixture(scope="session")
def tiny_engine(tiny_checkpoint: Path):
    """A ``MedRegAEngine`` loaded from ``tiny_checkpoint`` on the CPU in float32, shared by the session."""
    from medrega_core.engine import EngineSettings, MedRegAEngine

    return MedRegAEngine.load(EngineSettings(str(tiny_checkpoint), device="cpu", quant="none", max_new_tokens=32))
