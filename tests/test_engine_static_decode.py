"""Greedy decoding through the static KV cache (the CUDA-graph path without the graph) on the CPU."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from medrega_core.engine.settings import EngineSettings, SettingsError
from medrega_core.engine.static_decode import DecodeLengthError, StaticGreedyDecoder

QUESTION = "<image>\nWhat does this image show?"


@pytest.fixture(scope="module")
def static_engine(tiny_checkpoint: Path):
    from medrega_core.engine import MedRegAEngine

    return MedRegAEngine.load(
        EngineSettings(str(tiny_checkpoint), device="cpu", quant="none", max_new_tokens=32, decode="static")
    )


def _picture(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (72, 88, 3), dtype=np.uint8)


def test_engines_decode_eagerly_unless_told_otherwise(tiny_engine, static_engine) -> None:
    assert (tiny_engine.describe()["decode"], static_engine.describe()["decode"]) == ("eager", "static")


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_static_cache_gives_the_default_paths_greedy_tokens(tiny_engine, static_engine, seed: int) -> None:
    expected = tiny_engine.generate(_picture(seed), QUESTION, max_new_tokens=32)
    result = static_engine.generate(_picture(seed), QUESTION, max_new_tokens=32)
    assert result.output_ids == expected.output_ids
    assert result.finish_reason == expected.finish_reason
    assert [token for token, _ in result.first_step_top] == [token for token, _ in expected.first_step_top]
    assert [logit for _, logit in result.first_step_top] == pytest.approx(
        [logit for _, logit in expected.first_step_top], abs=1e-4
    )


def test_static_cache_follow_up_turn_matches(tiny_engine, static_engine) -> None:
    history = [("<image>\nDescribe the image.", "A scan.")]
    expected = tiny_engine.generate(_picture(14), "Where is it?", history=history, max_new_tokens=16)
    result = static_engine.generate(_picture(14), "Where is it?", history=history, max_new_tokens=16)
    assert result.output_ids == expected.output_ids


def test_static_cache_stops_at_the_end_of_turn_token(tiny_engine, static_engine) -> None:
    """The prompt's next-token choice is made the end-of-turn id, so the answer must stop at once."""
    image = _picture(15)
    first = static_engine.generate(image, QUESTION, max_new_tokens=4).output_ids[0]
    turn_end = static_engine.turn_end_id
    head = static_engine.model.lm_head.weight
    original = head.data.clone()
    try:
        head.data[[first, turn_end]] = head.data[[turn_end, first]]
        result = static_engine.generate(image, QUESTION, max_new_tokens=8)
    finally:
        head.data.copy_(original)
    assert result.output_ids == [turn_end] and result.finish_reason == "stop" and result.text == ""


def test_static_cache_cancel_stops_within_a_token(static_engine) -> None:
    cancel = threading.Event()
    cancel.set()
    result = static_engine.generate(_picture(16), QUESTION, cancel=cancel, max_new_tokens=32)
    assert result.finish_reason == "cancelled" and len(result.output_ids) == 1


def test_static_cache_stream_ends_with_the_text_so_far_when_cancelled(static_engine) -> None:
    cancel = threading.Event()
    chunks = []
    for text in static_engine.stream(_picture(18), QUESTION, cancel=cancel, max_new_tokens=32):
        chunks.append(text)
        cancel.set()
    complete = static_engine.generate(_picture(18), QUESTION, max_new_tokens=32)
    assert chunks and complete.text.startswith(chunks[-1]) and len(chunks[-1]) < len(complete.text)


def test_sampling_still_works_with_static_decode(static_engine) -> None:
    result = static_engine.generate(_picture(17), QUESTION, max_new_tokens=6, temperature=0.8)
    assert 1 <= len(result.output_ids) <= 6


def test_decoder_refuses_more_tokens_than_its_cache_holds(tiny_engine) -> None:
    model = tiny_engine.model
    with torch.inference_mode():
        decoder = StaticGreedyDecoder(model, 6, use_graph=False)
        token = decoder.prefill(model.get_input_embeddings()(torch.tensor([[5, 6, 7, 8, 9]]))).argmax(-1)
        decoder.step(token)
        with pytest.raises(DecodeLengthError, match="holds 6 tokens; 7 were needed"):
            decoder.step(token)


@pytest.mark.parametrize(("on_cuda", "quant", "expected"), [(True, "nf4", "cuda-graph"), (True, "bf16", "cuda-graph"),
                                                            (True, "int8", "eager"), (False, "none", "eager")])
def test_auto_decode_uses_cuda_graphs_where_they_can_run(on_cuda: bool, quant: str, expected: str) -> None:
    settings = EngineSettings("somewhere")
    assert settings.decode == "auto"
    assert settings.resolved_decode(on_cuda, quant) == expected
    settings.check_decode(on_cuda, quant)


def test_unknown_decode_setting_is_refused() -> None:
    with pytest.raises(SettingsError, match="Unknown decoding path fast"):
        EngineSettings("somewhere", decode="fast")


@pytest.mark.parametrize(("decode", "on_cuda", "quant"), [("cuda-graph", True, "nf4"), ("cuda-graph", True, "bf16"),
                                                        ("static", False, "none"), ("eager", True, "int8")])
def test_decode_settings_the_device_can_run_are_accepted(decode: str, on_cuda: bool, quant: str) -> None:
    EngineSettings("somewhere", decode=decode).check_decode(on_cuda, quant)


@pytest.mark.parametrize(("on_cuda", "quant", "needle"), [(False, "none", "needs a CUDA GPU"),
                                                          (True, "int8", "does not work with quantization int8")])
def test_cuda_graph_where_it_cannot_run_is_refused(on_cuda: bool, quant: str, needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        EngineSettings("somewhere", decode="cuda-graph").check_decode(on_cuda, quant)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown on machines without a GPU")
def test_cuda_graph_engine_without_gpu_is_refused_before_loading(tiny_checkpoint: Path) -> None:
    from medrega_core.engine import MedRegAEngine

    with pytest.raises(SettingsError, match="needs a CUDA GPU"):
        MedRegAEngine.load(EngineSettings(str(tiny_checkpoint), device="cpu", decode="cuda-graph"))
