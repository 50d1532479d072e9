"""``python -m medrega_core batch`` and ``ask`` on the tiny checkpoint; bad input exits 2 with a message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medrega_core.__main__ import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def demo_jsonl(tmp_path: Path) -> Path:
    """Two cases in MedRegA's demo format, images relative to the jsonl folder."""
    (tmp_path / "images").mkdir()
    rng = np.random.default_rng(0)
    lines = []
    for index, (question, answer) in enumerate(
        [("<image>\nWhat is shown?", "heart"), ("你是一个医疗助手。<image>\n这是什么部位?", "胸腔")]
    ):
        Image.fromarray(rng.integers(0, 256, (40 + index * 30, 70, 3), dtype=np.uint8)).save(
            tmp_path / "images" / f"case_{index}.png"
        )
        record = {"id": f"case-{index}", "image": f"images/case_{index}.png",
                  "conversations": [{"from": "human", "value": question}, {"from": "gpt", "value": answer}]}
        lines.append(json.dumps(record, ensure_ascii=False))
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _batch(checkpoint: Path, data: Path, out: Path, *extra: str) -> int:
    return main(["batch", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(out),
                 "--device", "cpu", "--max-new-tokens", "6", *extra])


def test_batch_writes_one_result_per_case(tiny_checkpoint: Path, demo_jsonl: Path, tmp_path: Path) -> None:
    out = tmp_path / "results" / "out.json"
    assert _batch(tiny_checkpoint, demo_jsonl, out) == 0
    results = json.loads(out.read_text(encoding="utf-8"))
    assert [r["id"] for r in results] == ["case-0", "case-1"]
    assert results[1]["question"] == "你是一个医疗助手。<image>\n这是什么部位?" and results[1]["gt_answer"] == "胸腔"
    assert all(set(r) == {"id", "question", "pred_answer", "gt_answer"} for r in results)


def test_batch_with_token_ids_matches_the_engine(tiny_engine, tiny_checkpoint: Path, demo_jsonl: Path,
                                                 tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    assert _batch(tiny_checkpoint, demo_jsonl, out, "--with-token-ids") == 0
    first = json.loads(out.read_text(encoding="utf-8"))[0]
    expected = tiny_engine.generate(Image.open(demo_jsonl.parent / "images/case_0.png"), first["question"],
                                    max_new_tokens=6)
    assert (first["input_ids"], first["output_ids"], first["pred_answer"]) == (
        expected.input_ids, expected.output_ids, expected.text)


def test_batch_with_static_decoding_matches_the_engine(tiny_engine, tiny_checkpoint: Path, demo_jsonl: Path,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    assert _batch(tiny_checkpoint, demo_jsonl, out, "--with-token-ids", "--decode", "static") == 0
    for result in json.loads(out.read_text(encoding="utf-8")):
        image = Image.open(demo_jsonl.parent / f"images/{result['id'].replace('-', '_')}.png")
        expected = tiny_engine.generate(image, result["question"], max_new_tokens=6)
        assert result["output_ids"] == expected.output_ids


def test_image_root_option(tiny_checkpoint: Path, demo_jsonl: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (demo_jsonl.parent / "images").rename(moved / "images")
    assert _batch(tiny_checkpoint, demo_jsonl, tmp_path / "out.json", "--image-root", str(moved)) == 0


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("{not json", "Line 1 of the batch file is not a MedRegA case"),
        (json.dumps({"id": 1, "image": "images/case_0.png"}), "Line 1 of the batch file is not a MedRegA case"),
        (json.dumps({"id": 1, "image": "missing.png", "conversations": [{"from": "human", "value": "?"}]}),
         "names a missing image"),
    ],
)
def test_bad_batch_input_exits_2_with_a_message(tiny_checkpoint: Path, demo_jsonl: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture, line: str, needle: str) -> None:
    data = demo_jsonl.parent / "bad.jsonl"
    data.write_text(line + "\n", encoding="utf-8")
    assert _batch(tiny_checkpoint, data, tmp_path / "out.json") == 2
    error = capsys.readouterr().err
    assert needle in error and "Traceback" not in error
    assert not (tmp_path / "out.json").exists()


def test_errors_are_shown_in_chinese(tmp_path: Path, demo_jsonl: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["--lang", "zh", "batch", "--checkpoint", str(tmp_path / "nothing"), "--data", str(demo_jsonl),
                 "--out", str(tmp_path / "out.json")])
    assert code == 2 and "不存在" in capsys.readouterr().err


def test_ask_streams_the_answer(tiny_engine, tiny_checkpoint: Path, demo_jsonl: Path,
                                capsys: pytest.CaptureFixture) -> None:
    image = demo_jsonl.parent / "images/case_0.png"
    code = main(["ask", "--checkpoint", str(tiny_checkpoint), "--image", str(image), "--prompt", "What is shown?",
                 "--device", "cpu", "--max-new-tokens", "8"])
    assert code == 0
    expected = tiny_engine.generate(Image.open(image), "What is shown?", max_new_tokens=8).text
    assert capsys.readouterr().out == expected + "\n"


def test_ask_with_an_unreadable_image_fails_without_traceback(tiny_checkpoint: Path, tmp_path: Path) -> None:
    not_a_picture = tmp_path / "notes.png"
    not_a_picture.write_text("not an image", encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, "-m", "medrega_core", "ask", "--checkpoint", str(tiny_checkpoint), "--image",
         str(not_a_picture), "--prompt", "?", "--device", "cpu"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 2
    assert "cannot be read as a picture" in completed.stderr and "Traceback" not in completed.stderr
