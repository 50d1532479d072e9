"""The CUDA path of the engine (skipped without a GPU): nf4 by default, streaming, memory given back, CUDA graphs."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

QUESTION = "<image>\nWhat does this image show?"


@pytest.fixture(scope="module")
def cuda_engine(tiny_checkpoint: Path):
    from medrega_core.engine import EngineSettings, MedRegAEngine

    return MedRegAEngine.load(EngineSettings(str(tiny_checkpoint), device="cuda", max_new_tokens=64))


def test_auto_settings_pick_nf4_in_bfloat16(cuda_engine) -> None:
    info = cuda_engine.describe()
    assert (info["quantization"], info["dtype"], info["decode"]) == ("nf4", "bfloat16", "cuda-graph")
    assert info["device"].startswith("cuda") and info["gpu_memory_total_gib"] > 0
    lm = {type(m).__name__ for n, m in cuda_engine.model.named_modules() if n.startswith("model.language_model")}
    assert "Linear4bit" in lm
    assert cuda_engine.model.model.vision_tower.encoder.layer[0].attention.q_proj.weight.dtype == torch.bfloat16


def test_cancelled_stream_returns_cached_memory(cuda_engine) -> None:
    image = np.random.default_rng(0).integers(0, 256, (80, 60, 3), dtype=np.uint8)
    cuda_engine.generate(image, QUESTION, max_new_tokens=2)  # warm-up: features cached, kernels loaded
    torch.cuda.synchronize()
    baseline = torch.cuda.memory_allocated()
    cancel = threading.Event()
    chunks = []
    for text in cuda_engine.stream(image, QUESTION, cancel=cancel, max_new_tokens=400):
        chunks.append(text)
        cancel.set()
    assert chunks
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated() <= baseline + 2**20  # the KV cache is gone
    assert torch.cuda.memory_reserved() >= torch.cuda.memory_allocated()


def test_cuda_answer_matches_on_repeat(cuda_engine) -> None:
    image = np.random.default_rng(1).integers(0, 256, (70, 90, 3), dtype=np.uint8)
    first = cuda_engine.generate(image, QUESTION, max_new_tokens=12)
    second = cuda_engine.generate(image, QUESTION, max_new_tokens=12)
    assert second.vision_cached and second.output_ids == first.output_ids


@pytest.fixture(scope="module")
def graph_engine(tiny_checkpoint: Path):
    from medrega_core.engine import EngineSettings, MedRegAEngine

    return MedRegAEngine.load(EngineSettings(str(tiny_checkpoint), device="cuda", decode="cuda-graph"))


def test_graph_replay_matches_eager_static_steps(graph_engine) -> None:
    """nf4 in bfloat16: replaying the captured step gives exactly the eager static-cache tokens."""
    from medrega_core.engine.static_decode import StaticGreedyDecoder

    model = graph_engine.model
    vocab = model.config.text_config.vocab_size
    generator = torch.Generator().manual_seed(5)
    prompt = torch.randint(10, vocab - 10, (1, 30), generator=generator).cuda()
    forced = torch.randint(10, vocab - 10, (24,), generator=generator).cuda()
    chosen = {}
    with torch.inference_mode():
        embeddings = model.get_input_embeddings()(prompt)
        for use_graph in (False, True):
            decoder = StaticGreedyDecoder(model, 30 + 24, use_graph=use_graph)
            decoder.prefill(embeddings)
            chosen[use_graph] = [int(decoder.step(token).item()) for token in forced]
    assert decoder.graph is not None
    assert chosen[True] == chosen[False]


def test_cuda_graph_answers_leave_no_memory_behind(graph_engine) -> None:
    from medrega_core.engine.static_decode import WARMUP_STEPS

    image = np.random.default_rng(6).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    first = graph_engine.generate(image, QUESTION, max_new_tokens=12)  # warm-up: features, side stream
    assert len(first.output_ids) > WARMUP_STEPS + 2  # a graph was captured and replayed
    torch.cuda.synchronize()
    baseline = torch.cuda.memory_allocated()
    second = graph_engine.generate(image, QUESTION, max_new_tokens=12)
    torch.cuda.synchronize()
    assert second.output_ids == first.output_ids
    assert torch.cuda.memory_allocated() <= baseline + 2**20  # static cache and graph pool are gone


def test_cuda_graph_gives_the_eager_tokens_in_float32(tiny_checkpoint: Path) -> None:
    from medrega_core.engine import EngineSettings, MedRegAEngine

    engines = {
        decode: MedRegAEngine.load(EngineSettings(str(tiny_checkpoint), device="cuda", quant="none",
                                                  dtype="float32", decode=decode))
        for decode in ("eager", "cuda-graph")
    }  # fmt: skip
    for seed in (2, 3, 4):
        image = np.random.default_rng(seed).integers(0, 256, (96, 64, 3), dtype=np.uint8)
        eager, graphed = (engine.generate(image, QUESTION, max_new_tokens=40) for engine in engines.values())
        assert graphed.output_ids == eager.output_ids
        assert [t for t, _ in graphed.first_step_top] == [t for t, _ in eager.first_step_top]


@pytest.mark.parametrize("decode", ["eager", "cuda-graph"])
def test_conformance_cases_on_cuda_in_float32(conformance_dir: Path, decode: str) -> None:
    import json

    from PIL import Image

    from medrega_core.engine import EngineSettings, MedRegAEngine

    engine = MedRegAEngine.load(EngineSettings(str(conformance_dir / "checkpoint"), device="cuda", quant="none",
                                               dtype="float32", max_new_tokens=24, decode=decode))
    reference = json.loads((conformance_dir / "reference.json").read_text(encoding="utf-8"))["cases"]
    lines = (conformance_dir / "cases.jsonl").read_text(encoding="utf-8").splitlines()
    for case, expected in zip((json.loads(line) for line in lines if line.strip()), reference):
        result = engine.generate(Image.open(conformance_dir / case["image"]), case["conversations"][0]["value"])
        assert result.input_ids == expected["input_ids"]
        assert [token for token, _ in result.first_step_top] == expected["top5_ids"]
        assert [logit for _, logit in result.first_step_top] == pytest.approx(expected["top5_logits"], abs=1e-2)
        assert result.output_ids == expected["output_ids"][1:], case["id"]
