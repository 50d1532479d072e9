"""The one engine interface, and what every backend shares (no torch: the server backend uses it too).

:class:`Engine` is what the app and :class:`medrega_core.session.Session` depend on. The in-process
model (:class:`medrega_core.engine.engine.MedRegAEngine`) and the vLLM client
(:class:`medrega_core.engine.remote.ServerEngine`) both subclass :class:`StreamingEngine`, which owns
the rules they must agree on: the prompt ids, the history fitting, the streaming loop, the answer
text and the finish reason. A backend only produces generated token ids (:meth:`StreamingEngine._token_ids`).
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol, Sequence, runtime_checkable

from PIL import Image

from medrega_core.engine.conversation import build_query
from medrega_core.engine.errors import N_, GenerationInputError
from medrega_core.engine.results import GenerationResult
from medrega_core.engine.settings import GenerationOptions
from medrega_core.engine.tokenizer import MedRegATokenizer

#: A picture as the engines take it: a PIL image or an ``H x W x 3`` uint8 array.
Picture = Any
#: Earlier ``(question, answer)`` pairs of a conversation, oldest first.
History = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class HistoryFit:
    """The part of a conversation that fits the model's context with the next question.

    Attributes
    ----------
    history:
        The ``(question, answer)`` pairs sent: the first (with the image) and the newest follow-ups.
    dropped_turns:
        How many of the oldest follow-up pairs were left out (0 when everything fits).
    """

    history: tuple[tuple[str, str], ...]
    dropped_turns: int


@dataclass(frozen=True)
class PromptFormat:
    """What turns a conversation into prompt ids and generated ids into the answer's text."""

    tokenizer: MedRegATokenizer
    image_tokens: int
    turn_end_id: int
    answer_skip: frozenset[int]


@dataclass
class RunFacts:
    """What a backend learns while generating, beyond the ids (filled in by :meth:`StreamingEngine._token_ids`)."""

    first_step_top: list[tuple[int, float]]
    vision_cached: bool = False


class GenerationDefaults(Protocol):
    """The part of an engine's settings a caller reads: the default decoding settings."""

    def generation(self) -> GenerationOptions: ...


@runtime_checkable
class Engine(Protocol):
    """What a MedRegA answer engine offers: streaming with Stop, history fitting and a status.

    ``cancel`` (a :class:`threading.Event`) is Stop: set it and the stream ends after the current
    token with the text so far. Both backends keep a conversation inside the model's context by
    leaving out the oldest follow-ups (:meth:`fit_history`), with the same rule.
    """

    settings: GenerationDefaults

    def describe(self) -> dict[str, Any]:
        """Facts for a status line (model, device or server, queue)."""

    def prompt_ids(self, user_text: str, history: History = ()) -> list[int]:
        """Token ids of the full prompt for this turn (BOS first, image block expanded)."""

    def fit_history(self, user_text: str, history: History = (), max_new_tokens: int | None = None) -> HistoryFit:
        """The conversation that fits the context with ``user_text`` and the answer's tokens."""

    def answer_text(self, output_ids: Sequence[int]) -> str:
        """The user-visible answer for generated ids."""

    def stream(self, image: Picture, user_text: str, history: History = (), cancel: threading.Event | None = None,
               max_new_tokens: int | None = None, temperature: float | None = None, top_p: float | None = None,
               on_finish: Callable[[GenerationResult], None] | None = None) -> Iterator[str]:
        """Yield the answer text so far as it grows; ``on_finish`` receives the :class:`GenerationResult`."""

    def generate(self, image: Picture, user_text: str, history: History = (), cancel: threading.Event | None = None,
                 max_new_tokens: int | None = None, temperature: float | None = None,
                 top_p: float | None = None) -> GenerationResult:
        """A whole answer; same parameters as :meth:`stream`."""


class StreamingEngine(ABC):
    """The behaviour both backends share; a subclass supplies the prompt format, the context length
    and the generated ids (:meth:`_token_ids`)."""

    settings: GenerationDefaults

    @abstractmethod
    def prompt_format(self) -> PromptFormat:
        """The tokenizer and the special ids of the model answering."""

    @abstractmethod
    def context_tokens(self) -> int:
        """The most tokens (prompt plus answer) the model takes."""

    @abstractmethod
    def _token_ids(self, image: Picture, user_text: str, history: History, input_ids: list[int],
                   cancel: threading.Event | None, options: GenerationOptions, facts: RunFacts) -> Iterator[list[int]]:
        """Generate the answer to a fitted, length-checked conversation: lists of new token ids as they
        arrive, until the model ends the turn, ``options.max_new_tokens`` or ``cancel``. Raises the
        backend's :class:`~medrega_core.errors.EngineError` when generation fails."""

    def prompt_ids(self, user_text: str, history: History = ()) -> list[int]:
        """Token ids of the full prompt for this turn (BOS first, image block expanded)."""
        prompt = self.prompt_format()
        return prompt.tokenizer.encode(build_query(user_text, history, prompt.image_tokens))

    def answer_text(self, output_ids: Sequence[int]) -> str:
        """The user-visible answer for generated ids: up to ``<|im_end|>``, stripped, tags kept."""
        prompt = self.prompt_format()
        ids = list(output_ids)
        if prompt.turn_end_id in ids:
            ids = ids[: ids.index(prompt.turn_end_id)]
        return prompt.tokenizer.decode(ids, skip=prompt.answer_skip).strip()

    def fit_history(self, user_text: str, history: History = (), max_new_tokens: int | None = None) -> HistoryFit:
        """Keep the conversation inside the context: leave out the oldest follow-up turns until the
        prompt plus ``max_new_tokens`` fits; the first turn (it holds the image) always stays.

        Callers can read this before streaming to tell the user; :meth:`stream` and :meth:`generate`
        apply it themselves. A prompt that does not fit even then is refused when generating.
        """
        new_tokens = self.settings.generation().with_overrides(max_new_tokens).max_new_tokens
        limit = self.context_tokens()
        kept = tuple(history)
        dropped = 0
        while len(kept) > 1 and len(self.prompt_ids(user_text, kept)) + new_tokens > limit:
            kept = kept[:1] + kept[2:]
            dropped += 1
        return HistoryFit(kept, dropped)

    def _check_length(self, input_ids: list[int], options: GenerationOptions) -> None:
        limit = self.context_tokens()
        if len(input_ids) + options.max_new_tokens > limit:
            raise GenerationInputError(
                N_(
                    "The conversation is too long: {tokens} prompt tokens plus {new} new tokens exceed the "
                    "model's limit of {limit}. Start a new conversation or ask for fewer new tokens."
                ),
                tokens=len(input_ids),
                new=options.max_new_tokens,
                limit=limit,
            )

    def _finish_reason(self, output_ids: list[int], options: GenerationOptions) -> str:
        if self.prompt_format().turn_end_id in output_ids:
            return "stop"
        return "length" if len(output_ids) >= options.max_new_tokens else "cancelled"

    def _answer(self, image: Picture, user_text: str, history: History, cancel: threading.Event | None,
                options: GenerationOptions, on_finish: Callable[[GenerationResult], None]) -> Iterator[str]:
        started = time.perf_counter()
        fit = self.fit_history(user_text, history, options.max_new_tokens)
        input_ids = self.prompt_ids(user_text, fit.history)  # also refuses a malformed conversation
        self._check_length(input_ids, options)
        facts = RunFacts(first_step_top=[])
        output_ids: list[int] = []
        shown = ""
        for new_ids in self._token_ids(image, user_text, fit.history, input_ids, cancel, options, facts):
            output_ids += new_ids
            text = self.answer_text(output_ids)
            # Hold back a character whose UTF-8 bytes are still arriving.
            if text != shown and not text.endswith("\ufffd"):
                shown = text
                yield text
        text = self.answer_text(output_ids)
        if text != shown:
            yield text
        on_finish(GenerationResult(
            text=text, input_ids=input_ids, output_ids=output_ids,
            finish_reason=self._finish_reason(output_ids, options), first_step_top=facts.first_step_top,
            vision_cached=facts.vision_cached, seconds=time.perf_counter() - started,
            dropped_turns=fit.dropped_turns))

    def stream(self, image: Picture, user_text: str, history: History = (), cancel: threading.Event | None = None,
               max_new_tokens: int | None = None, temperature: float | None = None, top_p: float | None = None,
               on_finish: Callable[[GenerationResult], None] | None = None) -> Iterator[str]:
        """Yield the answer text so far, growing as tokens are generated.

        Parameters
        ----------
        image:
            The picture (PIL image, or ``H x W x 3`` uint8 array) the first question is about; pass
            the same image on follow-ups.
        user_text:
            The new question. The first turn carries ``<image>`` (prepended when absent); follow-ups
            must not.
        history:
            Earlier ``(question, answer)`` pairs of this conversation, oldest first. When the
            conversation would overflow the context, the oldest follow-ups are left out
            (:meth:`fit_history`; ``GenerationResult.dropped_turns`` says how many).
        cancel:
            Set it to stop after the current token; the stream then ends with the text so far.
        max_new_tokens, temperature, top_p:
            Overrides of the engine's default :class:`GenerationOptions`.
        on_finish:
            Called once with the :class:`GenerationResult` (generated ids, finish reason, time) after
            the last text and before the stream ends, also when cancelled; not when generation fails
            or the stream is abandoned.
        """
        options = self.settings.generation().with_overrides(max_new_tokens, temperature, top_p)
        yield from self._answer(image, user_text, history, cancel, options, on_finish or (lambda result: None))

    def generate(self, image: Picture, user_text: str, history: History = (), cancel: threading.Event | None = None,
                 max_new_tokens: int | None = None, temperature: float | None = None,
                 top_p: float | None = None) -> GenerationResult:
        """Generate a whole answer; same parameters as :meth:`stream`."""
        options = self.settings.generation().with_overrides(max_new_tokens, temperature, top_p)
        results: list[GenerationResult] = []
        for _ in self._answer(image, user_text, history, cancel, options, results.append):
            pass
        return results[0]


def stream_answer(engine: Engine, image: Image.Image, prompt: str, history: History,
                  cancel: threading.Event | None) -> Iterator[tuple[str, GenerationResult | None]]:
    """The engine's growing answer as ``(text, None)``, then ``(text, result)`` once finished.

    The result travels in the stream, not through a callback, so this function can run in another
    process (``spaces.GPU`` runs it in a worker on a Hugging Face ZeroGPU Space).
    """
    finished: list[GenerationResult] = []
    for text in engine.stream(image, prompt, history, cancel=cancel, on_finish=finished.append):
        yield text, None
    yield finished[0].text, finished[0]
