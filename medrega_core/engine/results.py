"""What every engine backend returns for one answer (no torch: shared by the in-process engine and
the server backend)."""

from __future__ import annotations

from dataclasses import dataclass

from medrega_core.errors import N_

#: What the chat can say when ``dropped_turns`` > 0 (translate with ``count``).
DROPPED_TURNS_NOTE = N_(
    "The conversation no longer fits the model's context: the {count} oldest follow-up question(s) and answer(s) "
    "were left out. The first question, with the image, is kept."
)


@dataclass(frozen=True)
class GenerationResult:
    """One finished (or cancelled) answer.

    Attributes
    ----------
    text:
        The answer as shown to the user: cut at ``<|im_end|>``, stripped, ``<ref>``/``<box>`` kept.
    input_ids:
        Token ids of the full prompt (BOS first, image tokens expanded).
    output_ids:
        Generated token ids only, including ``<|im_end|>`` when the model stopped by itself.
    finish_reason:
        ``"stop"`` (end of turn), ``"length"`` (max_new_tokens reached) or ``"cancelled"``.
    first_step_top:
        The ``TOP_CANDIDATES`` best next tokens after the prompt as ``(id, logit)``, best first
        (raw logits under greedy decoding).
    vision_cached:
        True when the image's features came from the cache (the vision tower did not run).
    seconds:
        Wall time from the request to the last token.
    dropped_turns:
        Oldest follow-up turns left out to keep the conversation inside the context (see
        :meth:`MedRegAEngine.fit_history`).
    """

    text: str
    input_ids: list[int]
    output_ids: list[int]
    finish_reason: str
    first_step_top: list[tuple[int, float]]
    vision_cached: bool
    seconds: float
    dropped_turns: int = 0
