"""Prompt assembly and the slow-sentencepiece tokenization MedRegA was trained with."""

from __future__ import annotations

from pathlib import Path

import pytest

from medrega_core.engine.conversation import build_query
from medrega_core.engine.errors import GenerationInputError
from medrega_core.engine.tokenizer import MedRegATokenizer


@pytest.fixture(scope="module")
def tokenizer(tiny_checkpoint: Path) -> MedRegATokenizer:
    return MedRegATokenizer.from_folder(tiny_checkpoint)


def test_single_turn_query_follows_the_hermes2_template() -> None:
    query = build_query("What is shown? <image>\nAnswer briefly.", (), num_image_tokens=3)
    assert query == (
        "<|im_start|>system\nAnswer the questions.<|im_end|>"
        "<|im_start|>user\nWhat is shown? <img><IMG_CONTEXT><IMG_CONTEXT><IMG_CONTEXT></img>\nAnswer briefly.<|im_end|>"
        "<|im_start|>assistant\n"
    )


def test_image_is_prepended_when_the_first_question_lacks_it() -> None:
    query = build_query("Describe the scan.", (), num_image_tokens=1)
    assert "<|im_start|>user\n<img><IMG_CONTEXT></img>\nDescribe the scan.<|im_end|>" in query


def test_follow_up_keeps_one_image_block_in_the_first_turn() -> None:
    history = [("<image>\nWhere is the heart?", "<ref>heart</ref><box>[[1, 2, 3, 4]]</box>")]
    query = build_query("How large is it?", history, num_image_tokens=2)
    assert query == (
        "<|im_start|>system\nAnswer the questions.<|im_end|>"
        "<|im_start|>user\n<img><IMG_CONTEXT><IMG_CONTEXT></img>\nWhere is the heart?<|im_end|>"
        "<|im_start|>assistant\n<ref>heart</ref><box>[[1, 2, 3, 4]]</box><|im_end|>"
        "<|im_start|>user\nHow large is it?<|im_end|>"
        "<|im_start|>assistant\n"
    )


@pytest.mark.parametrize(
    ("user_text", "history"),
    [
        ("<image> and <image>", ()),
        ("Another <image>?", [("<image>\nFirst?", "Yes.")]),
        ("Third?", [("<image>\nFirst?", "Yes."), ("<image> again", "No.")]),
    ],
)
def test_extra_image_placeholders_are_refused(user_text: str, history) -> None:
    with pytest.raises(GenerationInputError):
        build_query(user_text, history, num_image_tokens=1)


def test_chat_markers_are_single_pieces_and_bos_comes_first(tokenizer: MedRegATokenizer) -> None:
    start, end = tokenizer.token_to_id("<|im_start|>"), tokenizer.token_to_id("<|im_end|>")
    assert (start, end) == (3, 4)
    ids = tokenizer.encode("<|im_start|>user\nhello<|im_end|>")
    assert ids[0] == tokenizer.bos_id == 1
    assert ids.count(start) == 1 and ids.count(end) == 1


def test_added_tokens_are_matched_verbatim(tokenizer: MedRegATokenizer) -> None:
    text = "<img><IMG_CONTEXT><IMG_CONTEXT></img>\n<ref>left lung</ref><box>[[10, 20, 300, 400]]</box>"
    ids = tokenizer.encode(text, add_bos=False)
    context = tokenizer.token_to_id("<IMG_CONTEXT>")
    assert ids[:4] == [tokenizer.token_to_id(t) for t in ("<img>", "<IMG_CONTEXT>", "<IMG_CONTEXT>", "</img>")]
    assert ids.count(context) == 2 and context >= 600  # after the sentencepiece vocabulary
    for tag in ("<ref>", "</ref>", "<box>", "</box>"):
        assert ids.count(tokenizer.token_to_id(tag)) == 1


@pytest.mark.parametrize(
    "text",
    ["<ref>right lung</ref><box>[[12, 345, 678, 901]]</box>", "双肺纹理清晰，<ref>心脏</ref><box>[[1, 2, 3, 4]]</box>。"],
)
def test_decoding_keeps_region_tags(tokenizer: MedRegATokenizer, text: str) -> None:
    ids = tokenizer.encode(text, add_bos=False)
    assert tokenizer.decode(ids, skip=tokenizer.answer_skip_ids()) == text


def test_answer_skip_ids_hide_control_and_image_tokens(tokenizer: MedRegATokenizer) -> None:
    ids = tokenizer.encode("<img><IMG_CONTEXT></img>heart", add_bos=True)
    assert tokenizer.decode(ids, skip=tokenizer.answer_skip_ids()) == "heart"
    assert tokenizer.decode(ids) == "<s><img><IMG_CONTEXT></img>heart"
