"""The Hermes-2 chat template and image placeholder expansion, as MedRegA's ``chat()`` builds them."""

from __future__ import annotations

from typing import Sequence

from medrega_core.engine.errors import N_, GenerationInputError

IMAGE_PLACEHOLDER = "<image>"
IMAGE_START = "<img>"
IMAGE_END = "</img>"
IMAGE_CONTEXT = "<IMG_CONTEXT>"
SYSTEM_MESSAGE = "Answer the questions."
TURN_END = "<|im_end|>"
SYSTEM_ROLE = "<|im_start|>system\n"
USER_ROLE = "<|im_start|>user\n"
ASSISTANT_ROLE = "<|im_start|>assistant\n"


def first_question(user_text: str) -> str:
    """The first user turn with exactly one ``<image>``; as the reference, prepend it when absent.

    Raises
    ------
    GenerationInputError
        When the text holds more than one ``<image>`` (the model sees one image).
    """
    count = user_text.count(IMAGE_PLACEHOLDER)
    if count > 1:
        raise GenerationInputError(
            N_("The question contains {count} <image> placeholders; MedRegA takes exactly one image."), count=count
        )
    return user_text if count == 1 else f"{IMAGE_PLACEHOLDER}\n{user_text}"


def build_query(user_text: str, history: Sequence[tuple[str, str]], num_image_tokens: int) -> str:
    """The full prompt string for one turn.

    Parameters
    ----------
    user_text:
        The new user message. Without history it carries (or receives) the single ``<image>``;
        a follow-up must not contain ``<image>``.
    history:
        Earlier ``(question, answer)`` pairs, oldest first; the first question holds the image.
    num_image_tokens:
        ``<IMG_CONTEXT>`` tokens per image (256 for MedRegA).

    Returns
    -------
    str
        System turn, user/assistant turns separated by ``<|im_end|>``, an open assistant turn, with
        the image placeholder expanded to ``<img>`` + ``num_image_tokens`` x ``<IMG_CONTEXT>`` + ``</img>``.
    """
    questions = [question for question, _ in history] + [user_text]
    questions[0] = first_question(questions[0])
    for follow_up in questions[1:]:
        if IMAGE_PLACEHOLDER in follow_up:
            raise GenerationInputError(
                N_("A follow-up question must not contain <image>: the image belongs to the first question only.")
            )
    parts = [SYSTEM_ROLE, SYSTEM_MESSAGE, TURN_END]
    for old_question, (_, old_answer) in zip(questions, history):
        parts += [USER_ROLE, old_question, TURN_END, ASSISTANT_ROLE, old_answer, TURN_END]
    parts += [USER_ROLE, questions[-1], TURN_END, ASSISTANT_ROLE]
    image_block = IMAGE_START + IMAGE_CONTEXT * num_image_tokens + IMAGE_END
    return "".join(parts).replace(IMAGE_PLACEHOLDER, image_block, 1)
