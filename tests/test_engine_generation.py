"""Streaming, cancellation, the per-image feature cache, multi-turn and thread safety on the tiny checkpoint."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PIL import Image

from medrega_core.engine.cache import FeatureCache
from medrega_core.engine.errors import GenerationInputError

QUESTION = "You are a helpful medical assistant. <image>\nWhat does this image show?"


def _picture(seed: int, height: int = 64, width: int = 96) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.fixture()
def vision_calls(tiny_engine):
    """Counts forward passes of the vision tower; starts from an empty feature cache."""
    tiny_engine.features.clear()
    calls: list[int] = []
    handle = tiny_engine.model.model.vision_tower.register_forward_hook(lambda *args: calls.append(1))
    yield calls
    handle.remove()


def test_stream_yields_growing_text_that_ends_as_generate(tiny_engine) -> None:
    image = _picture(1)
    chunks = list(tiny_engine.stream(image, QUESTION, max_new_tokens=24))
    assert len(chunks) > 1
    assert all(later.startswith(earlier) for earlier, later in zip(chunks, chunks[1:]))
    result = tiny_engine.generate(image, QUESTION, max_new_tokens=24)
    assert chunks[-1] == result.text
    assert result.finish_reason in ("stop", "length") and 1 <= len(result.output_ids) <= 24


def test_stream_reports_the_generated_tokens_when_it_ends(tiny_engine) -> None:
    image = _picture(1)
    finished = []
    chunks = []
    for text in tiny_engine.stream(image, QUESTION, max_new_tokens=24, on_finish=finished.append):
        assert not finished  # reported once, after the last text
        chunks.append(text)
    (result,) = finished
    assert result.text == chunks[-1]
    assert result.output_ids == tiny_engine.generate(image, QUESTION, max_new_tokens=24).output_ids
    assert result.seconds > 0


def test_a_cancelled_stream_reports_its_tokens_too(tiny_engine) -> None:
    cancel = threading.Event()
    finished = []
    for _ in tiny_engine.stream(_picture(4), QUESTION, cancel=cancel, max_new_tokens=400, on_finish=finished.append):
        cancel.set()
    (result,) = finished
    assert result.finish_reason == "cancelled" and 1 <= len(result.output_ids) < 400


def test_generation_runs_on_a_worker_thread(tiny_engine) -> None:
    stream = tiny_engine.stream(_picture(2), QUESTION, max_new_tokens=400)
    next(stream)
    workers = [t for t in threading.enumerate() if t.name == "medrega-generate"]
    stream.close()  # abandoning the stream stops the worker
    assert workers
    for worker in workers:
        worker.join(timeout=30)
        assert not worker.is_alive()


def test_cancel_stops_within_a_token(tiny_engine) -> None:
    cancel = threading.Event()
    cancel.set()
    result = tiny_engine.generate(_picture(3), QUESTION, cancel=cancel, max_new_tokens=200)
    assert result.finish_reason == "cancelled"
    assert len(result.output_ids) == 1


def test_cancel_during_a_stream_ends_it_with_the_text_so_far(tiny_engine) -> None:
    cancel = threading.Event()
    chunks = []
    for text in tiny_engine.stream(_picture(4), QUESTION, cancel=cancel, max_new_tokens=400):
        chunks.append(text)
        cancel.set()
    assert chunks
    complete = tiny_engine.generate(_picture(4), QUESTION, max_new_tokens=400)
    assert complete.text.startswith(chunks[-1]) and len(chunks[-1]) < len(complete.text)


def test_features_are_cached_per_image_content(tiny_engine, vision_calls) -> None:
    image = _picture(5)
    first = tiny_engine.generate(image, QUESTION, max_new_tokens=2)
    assert (len(vision_calls), first.vision_cached) == (1, False)
    # Another task on the same picture (here as a PIL image of the same pixels) skips the vision tower.
    second = tiny_engine.generate(Image.fromarray(image), "<image>\nWhich organ is this?", max_new_tokens=2)
    assert (len(vision_calls), second.vision_cached) == (1, True)
    tiny_engine.generate(_picture(6), QUESTION, max_new_tokens=2)
    assert len(vision_calls) == 2


def test_cached_features_give_the_same_answer(tiny_engine) -> None:
    tiny_engine.features.clear()
    fresh = tiny_engine.generate(_picture(7), QUESTION, max_new_tokens=12)
    cached = tiny_engine.generate(_picture(7), QUESTION, max_new_tokens=12)
    assert cached.vision_cached and cached.output_ids == fresh.output_ids


def test_follow_up_reuses_the_image_and_carries_the_history(tiny_engine, vision_calls) -> None:
    image = _picture(8)
    first = tiny_engine.generate(image, QUESTION, max_new_tokens=8)
    follow_up = tiny_engine.generate(image, "And its size?", history=[(QUESTION, first.text)], max_new_tokens=8)
    assert len(vision_calls) == 1 and follow_up.vision_cached
    image_tokens = follow_up.input_ids.count(tiny_engine.image_token_id)
    assert image_tokens == tiny_engine.num_image_tokens
    assert follow_up.input_ids.count(tiny_engine.turn_end_id) == 4  # system, user, assistant, user
    with pytest.raises(GenerationInputError):
        tiny_engine.generate(image, "<image> again?", history=[(QUESTION, first.text)])


def test_feature_cache_drops_the_least_recently_used() -> None:
    cache: FeatureCache[str] = FeatureCache(capacity=2)
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.get("a") == "A"  # "b" is now the oldest
    cache.put("c", "C")
    assert (cache.get("b"), cache.get("a"), cache.get("c")) == (None, "A", "C")
    assert (cache.hits, cache.misses) == (3, 1)


def test_concurrent_sessions_get_their_own_answers(tiny_engine) -> None:
    images = [_picture(20 + i) for i in range(3)]
    expected = [tiny_engine.generate(image, QUESTION, max_new_tokens=10).output_ids for image in images]
    results: dict[int, list[int]] = {}

    def ask(index: int) -> None:
        results[index] = tiny_engine.generate(images[index], QUESTION, max_new_tokens=10).output_ids

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [results[i] for i in range(3)] == expected


@pytest.mark.parametrize(
    "image",
    [np.zeros((10, 10, 4), dtype=np.uint8), np.zeros((10, 10, 3), dtype=np.float32), "scan.png"],
    ids=["four-channels", "float", "path"],
)
def test_bad_images_are_refused_clearly(tiny_engine, image) -> None:
    with pytest.raises(GenerationInputError, match="H x W x 3"):
        tiny_engine.generate(image, QUESTION)


def test_too_long_a_request_is_refused(tiny_engine) -> None:
    with pytest.raises(GenerationInputError, match="too long"):
        tiny_engine.generate(_picture(9), QUESTION, max_new_tokens=4000)


def test_grey_pictures_are_accepted(tiny_engine) -> None:
    grey = np.random.default_rng(10).integers(0, 256, (50, 40), dtype=np.uint8)
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    assert tiny_engine.generate(grey, QUESTION, max_new_tokens=4).output_ids == tiny_engine.generate(
        rgb, QUESTION, max_new_tokens=4
    ).output_ids


def test_describe_reports_the_loaded_model(tiny_engine, tiny_checkpoint) -> None:
    info = tiny_engine.describe()
    assert info["checkpoint"] == str(tiny_checkpoint)
    assert (info["quantization"], info["device"], info["dtype"]) == ("none", "cpu", "float32")
    assert info["image_tokens"] == 16


def test_long_conversations_drop_the_oldest_follow_ups(tiny_checkpoint) -> None:
    from medrega_core.engine import EngineSettings, MedRegAEngine

    image, new_tokens = _picture(11), 8
    probe = MedRegAEngine.load(EngineSettings(str(tiny_checkpoint), device="cpu", quant="none"))
    first = probe.prompt_ids(QUESTION)
    follow_up = "Describe the left part of the picture in more detail, please."
    # Room for the first turn and about two follow-ups with their answers, not nine.
    context = len(first) + new_tokens + 3 * len(probe.tokenizer.encode(follow_up)) + 3 * new_tokens
    engine = MedRegAEngine.load(EngineSettings(str(tiny_checkpoint), device="cpu", quant="none",
                                               max_new_tokens=new_tokens, context_tokens=context))
    history: list[tuple[str, str]] = []
    dropped = []
    for turn in range(9):
        question = QUESTION if turn == 0 else follow_up
        fit = engine.fit_history(question, history)
        result = engine.generate(image, question, history)
        assert result.dropped_turns == fit.dropped_turns
        assert len(result.input_ids) + new_tokens <= context
        # The first turn, with the image, always stays.
        assert result.input_ids.count(engine.image_token_id) == engine.num_image_tokens
        assert result.input_ids == engine.prompt_ids(question, fit.history)
        assert fit.history[:1] == tuple(history[:1]) and fit.history[1:] == tuple(history[1 + fit.dropped_turns:])
        dropped.append(result.dropped_turns)
        history.append((question, result.text))
    assert dropped[:2] == [0, 0] and dropped[-1] > 0
    assert dropped == sorted(dropped)
    from medrega_core.engine.engine import DROPPED_TURNS_NOTE
    from medrega_core.i18n import translate

    note = translate(DROPPED_TURNS_NOTE, "zh", count=dropped[-1])
    assert str(dropped[-1]) in note and note != translate(DROPPED_TURNS_NOTE, "en", count=dropped[-1])


def test_a_first_question_too_long_for_the_context_is_still_refused(tiny_checkpoint) -> None:
    from medrega_core.engine import EngineSettings, MedRegAEngine

    engine = MedRegAEngine.load(EngineSettings(str(tiny_checkpoint), device="cpu", quant="none", context_tokens=64))
    with pytest.raises(GenerationInputError, match="too long"):
        engine.generate(_picture(12), QUESTION, max_new_tokens=8)
