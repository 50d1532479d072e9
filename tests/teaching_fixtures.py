"""The app with its teaching pages, on the trained checkpoint (its answers carry boxes), in a
subprocess with its own data folder, so a test can stop it and start it again on the same data."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

import pytest
from pydicom.data import get_testdata_file

from app_fixtures import running_app

TEACHER_PASSWORD = "teach-secret"
CT = get_testdata_file("CT_small.dcm")
#: The teacher's boxes on CT_small.dcm (128 x 128): the case's reference.
REFERENCE_BOXES = [{"xmin": 30, "ymin": 40, "xmax": 90, "ymax": 100, "label": "vertebral body"}]
REFERENCE_ANSWER = "Vertebral body of L1, no fracture (reference text)."


@contextlib.contextmanager
def teaching_app(checkpoint: Path, data_dir: Path, log: Path, *args: str, port: int | None = None,
                 env: dict[str, str] | None = None, ready: str = "Model ready") -> Iterator[str]:
    """``python app.py`` with the teaching pages on ``data_dir`` (``env``: added to its environment);
    yields its URL once the status says ``ready``."""
    with running_app(checkpoint, log, "--teacher-password", TEACHER_PASSWORD, "--data-dir", str(data_dir),
                     "--max-new-tokens", "64", *args, port=port, env=env, ready=ready) as url:
        yield url


@pytest.fixture(scope="module")
def teaching_url(trained_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of the app with the teaching pages on the trained checkpoint, with a data folder of its own."""
    folder = tmp_path_factory.mktemp("teaching")
    with teaching_app(trained_checkpoint, folder / "data", folder / "app.log") as url:
        yield url


def prepare_cases(client) -> list[int]:
    """Two cases through the API: locate the vertebral body (with the model's stored answer), then a
    free question about the same scan."""
    from gradio_client import handle_file

    first = client.predict(TEACHER_PASSWORD, [handle_file(CT)], {"plane": "axial", "window": "bone"},
                           REFERENCE_BOXES, "spleen", "text-to-region", REFERENCE_ANSWER, "Class test", "en", "",
                           api_name="/teach_save_case")
    client.predict(TEACHER_PASSWORD, first, api_name="/teach_model_answer")
    second = client.predict(TEACHER_PASSWORD, [handle_file(CT)], {"plane": "axial"}, [], "Which vertebra is this?",
                            "free", "The first lumbar vertebra (second reference).", "Class test", "en", "",
                            api_name="/teach_save_case")
    return [int(first), int(second)]
