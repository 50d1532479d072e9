"""The trained tiny checkpoint answers with boxes through the real engine, parser and app."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image
from pydicom.data import get_testdata_file
from safetensors import safe_open

from app_fixtures import app_url  # noqa: F401  (fixture)
from medrega_core.engine import EngineSettings, GenerationResult, MedRegAEngine
from medrega_core.intake import open_scan, render
from medrega_core.tasks import MODEL_GRID_MAX, Task, parse_answer
from trained_checkpoint import ANSWERS, NAMES, example

pytestmark = pytest.mark.slow

APP_CHECKPOINT = "trained"
APP_MAX_NEW_TOKENS = 48
BOX_TASKS = (Task.TEXT_TO_REGION, Task.GROUNDED_REPORT, Task.LOCATE_DESCRIBE)
#: Pictures never seen in training: another random stream, and a real CT slice.
HELD_OUT_SEED = 99
CT = get_testdata_file("CT_small.dcm")


@pytest.fixture(scope="module")
def trained_engine(trained_checkpoint: Path) -> MedRegAEngine:
    return MedRegAEngine.load(EngineSettings(str(trained_checkpoint), device="cpu", quant="none", max_new_tokens=48))


def ct_picture() -> np.ndarray:
    scan = open_scan([CT])
    return render(scan, scan.default_view()).rgb


def answer(engine: MedRegAEngine, picture: Image.Image | np.ndarray, prompt: str) -> tuple[list[str], GenerationResult]:
    finished: list[GenerationResult] = []
    steps = list(engine.stream(picture, prompt, on_finish=finished.append))
    return steps, finished[0]


def test_it_is_stored_in_the_original_layout(trained_checkpoint: Path, tiny_checkpoint: Path) -> None:
    config = json.loads((trained_checkpoint / "config.json").read_text())
    assert config["model_type"] == "internvl_chat" and config["architectures"] == ["InternVLChatModel"]
    with safe_open(str(trained_checkpoint / "model.safetensors"), "pt") as trained, \
            safe_open(str(tiny_checkpoint / "model.safetensors"), "pt") as tiny:
        assert set(trained.keys()) == set(tiny.keys())
        assert "vision_model.encoder.layers.0.attn.qkv.weight" in trained.keys()
        assert trained.get_tensor("mlp1.1.weight").shape == tiny.get_tensor("mlp1.1.weight").shape
    losses = json.loads((trained_checkpoint / "training.json").read_text())["losses"]
    assert losses[-1] < 0.05 < losses[0]


def test_its_tokenizer_has_pieces_for_boxes_and_organ_names(trained_engine: MedRegAEngine) -> None:
    tokenizer = trained_engine.tokenizer
    for tag in ("<ref>", "</ref>", "<box>", "</box>"):
        assert tokenizer.encode(tag, add_bos=False) == [tokenizer.token_to_id(tag)]
    for name in NAMES:
        assert len(tokenizer.encode(name, add_bos=False)) <= 2, name
    box = "[[231, 458, 607, 892]]"
    ids = tokenizer.encode(box, add_bos=False)
    pieces = [tokenizer.decode([token]) for token in ids]
    assert tokenizer.decode(ids) == box and pieces[0] == "[[" and pieces[-1] == "]]"
    assert [piece for piece in pieces if piece.isdigit()] == list("231458607892")  # one piece per digit


@pytest.mark.parametrize("task", BOX_TASKS, ids=lambda task: task.value)
def test_box_tasks_answer_named_well_formed_boxes(trained_engine: MedRegAEngine, task: Task) -> None:
    rng = np.random.default_rng(HELD_OUT_SEED)
    samples = [example(task, rng) for _ in range(4)]
    pictures = [sample.picture for sample in samples[1:]] + [ct_picture()]
    for sample, picture in zip(samples, pictures):
        steps, result = answer(trained_engine, picture, sample.prompt)
        assert result.finish_reason == "stop" and len(steps) >= 5, "the answer streams and ends by itself"
        parsed = parse_answer(result.text)
        assert parsed.regions and not parsed.issues, result.text
        for region in parsed.regions:
            assert region.name and region.boxes
            for box in region.boxes:
                assert 0 <= box.x1 < box.x2 <= MODEL_GRID_MAX and 0 <= box.y1 < box.y2 <= MODEL_GRID_MAX
        # The answer it was trained on, token for token.
        expected = parse_answer(ANSWERS[task]).regions
        assert [(r.name, r.boxes, r.description) for r in parsed.regions] == \
            [(r.name, r.boxes, r.description) for r in expected]


def test_region_to_text_answers_a_name(trained_engine: MedRegAEngine) -> None:
    rng = np.random.default_rng(HELD_OUT_SEED)
    for _ in range(3):
        sample = example(Task.REGION_TO_TEXT, rng)
        _, result = answer(trained_engine, sample.picture, sample.prompt)
        assert result.finish_reason == "stop"
        assert result.text == ANSWERS[Task.REGION_TO_TEXT] and not parse_answer(result.text).regions


def test_the_app_shows_the_models_boxes_and_exports_them(app_url: str, artifacts_dir: Path) -> None:
    client = Client(app_url, verbose=False)
    client.predict([handle_file(CT)], api_name="/load_scan")
    job = client.submit(None, "", "text-to-region", "demo", "", "liver", "", "", api_name="/ask")
    final = job.result()

    chat = next(o for o in final if isinstance(o, list) and o and isinstance(o[0], dict) and "role" in o[0])
    answers = [str(m["content"]) for m in chat if m["role"] == "assistant"]
    assert any("liver" in a for a in answers[:-1]) and "'type': 'file'" in answers[-1]
    table = next(o["value"] for o in final if isinstance(o, dict) and isinstance(o.get("value"), dict)
                 and "data" in o["value"])
    model_rows = [row for row in table["data"] if row[1] == "model"]
    assert len(model_rows) == 1 and "liver" in model_rows[0][0], table["data"]
    assert model_rows[0][2] == "[231, 458, 607, 892]"
    x1, y1, x2, y2 = json.loads(model_rows[0][3])  # the box in picture pixels
    # The answer's picture goes with the answer in the chat.
    picture = re.search(r"'file': '([^']+\.png)'", answers[-1]).group(1)
    with Image.open(picture) as image:
        rgb = np.asarray(image.convert("RGB")).astype(int)
    # The CT is grey; the model's box is outlined in its palette colour: the left edge, top to bottom.
    colour = (np.abs(rgb[..., 0] - rgb[..., 1]) + np.abs(rgb[..., 1] - rgb[..., 2])) > 60
    left_edge = colour[y1 + 2 : y2 - 2, max(0, x1 - 1) : x1 + 2].any(axis=1)
    assert left_edge.mean() > 0.9 and not colour[:, : max(0, x1 - 3)].any()
    shutil.copy(picture, artifacts_dir / "trained-checkpoint-answer.png")

    exported = client.predict(False, api_name="/export")
    document = json.loads(Path(next(f for f in exported if str(f).endswith(".json"))).read_text(encoding="utf-8"))
    assert [(r["name"], [b["model_0_999"] for b in r["boxes"]]) for r in document["regions"]] == \
        [("liver", [[231, 458, 607, 892]])]
