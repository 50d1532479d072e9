"""The engine reproduces the reference MedRegA implementation on the shared conformance checkpoint.

For all 11 demo cases, through the public paths (the ``batch`` command and ``MedRegAEngine``): prompt
ids, the normalised pixel sum, the first-step top-5 ids and logits, and the greedy output.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from medrega_core.__main__ import main

MAX_NEW_TOKENS = 24  # what the reference generated
CASE_COUNT = 11


def _reference(conformance_dir: Path) -> list[dict]:
    return json.loads((conformance_dir / "reference.json").read_text(encoding="utf-8"))["cases"]


def _cases(conformance_dir: Path) -> list[dict]:
    lines = (conformance_dir / "cases.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def conformance_engine(conformance_dir: Path):
    from medrega_core.engine import EngineSettings, MedRegAEngine

    settings = EngineSettings(str(conformance_dir / "checkpoint"), device="cpu", dtype="float32", quant="none",
                              max_new_tokens=MAX_NEW_TOKENS)
    return MedRegAEngine.load(settings)


@pytest.mark.slow
def test_batch_command_reproduces_reference_token_ids(conformance_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    code = main([
        "batch", "--checkpoint", str(conformance_dir / "checkpoint"), "--data", str(conformance_dir / "cases.jsonl"),
        "--out", str(out), "--device", "cpu", "--dtype", "float32", "--quant", "none",
        "--max-new-tokens", str(MAX_NEW_TOKENS), "--with-token-ids",
    ])
    assert code == 0
    results = json.loads(out.read_text(encoding="utf-8"))
    reference = _reference(conformance_dir)
    assert len(results) == len(reference) == CASE_COUNT
    for result, expected, case in zip(results, reference, _cases(conformance_dir)):
        assert result["id"] == expected["id"] == case["id"]
        assert result["question"] == case["conversations"][0]["value"]
        assert result["gt_answer"] == case["conversations"][1]["value"]
        assert result["input_ids"] == expected["input_ids"], f"case {case['id']}: prompt ids differ"
        # The reference's generate() prepends BOS to what it returns.
        assert result["output_ids"] == expected["output_ids"][1:], f"case {case['id']}: greedy output differs"


@pytest.mark.parametrize("index", range(CASE_COUNT))
def test_engine_matches_reference_case(conformance_engine, conformance_dir: Path, index: int) -> None:
    from medrega_core.engine.preprocess import as_rgb_image, pixel_values

    case, expected = _cases(conformance_dir)[index], _reference(conformance_dir)[index]
    image = Image.open(conformance_dir / case["image"])
    question = case["conversations"][0]["value"]

    pixels = pixel_values(as_rgb_image(image), conformance_engine.image_size)
    assert tuple(pixels.shape) == (1, 3, 448, 448)
    assert float(pixels.double().sum()) == pytest.approx(expected["pixel_sum"], rel=1e-3)

    # One step is enough here: the batch test checks the whole greedy output.
    result = conformance_engine.generate(image, question, max_new_tokens=1)
    assert result.input_ids == expected["input_ids"]
    assert [token for token, _ in result.first_step_top] == expected["top5_ids"]
    assert [logit for _, logit in result.first_step_top] == pytest.approx(expected["top5_logits"], abs=1e-2)
    assert result.output_ids == expected["output_ids"][1:2]


def _full_picture_reference(image: Image.Image, size: int):
    """InternVL's transform written plainly: PIL bicubic of the whole RGB picture, then torch normalisation."""
    import numpy as np
    import torch

    from medrega_core.engine.preprocess import IMAGENET_MEAN, IMAGENET_STD

    resized = image.resize((size, size), Image.Resampling.BICUBIC)
    array = torch.from_numpy(np.asarray(resized, dtype=np.float32) / 255.0)
    mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
    return ((array - mean) / std).permute(2, 0, 1).unsqueeze(0).contiguous()


@pytest.mark.parametrize(("name", "grey"), [("RG1_UNCI.dcm", True), ("CT_small.dcm", True), ("US1_UNCR.dcm", False)])
def test_preprocessing_is_bit_exact_with_the_full_picture_bicubic(name: str, grey: bool) -> None:
    """Grey pictures take a one-band shortcut; it must not change a single value."""
    import numpy as np
    import torch
    from pydicom.data import get_testdata_file

    from medrega_core.engine.preprocess import pixel_values
    from medrega_core.intake import open_scan, render

    rgb = render(open_scan(get_testdata_file(name))).rgb
    assert np.array_equal(rgb[..., 0], rgb[..., 2]) == grey
    nearly_grey = rgb.copy()
    nearly_grey[rgb.shape[0] // 2, rgb.shape[1] // 3, 1] ^= 1  # one level in one band: not grey any more
    for picture in (rgb, nearly_grey):
        image = Image.fromarray(picture)
        for size in (448, 37):
            pixels = pixel_values(image, size)
            assert pixels.dtype == torch.float32 and pixels.is_contiguous()
            assert torch.equal(pixels, _full_picture_reference(image, size)), (name, size)


def test_array_pictures_become_independent_rgb_images() -> None:
    """The engine keeps the picture (feature cache key): later changes to the caller's array must not reach it."""
    import numpy as np

    from medrega_core.engine.preprocess import as_rgb_image

    for array in (np.full((6, 5, 3), 40, np.uint8), np.full((6, 5), 40, np.uint8)):
        image = as_rgb_image(array)
        array[...] = 200
        assert image.mode == "RGB" and image.size == (5, 6) and image.getpixel((2, 3)) == (40, 40, 40)
