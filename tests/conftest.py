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
