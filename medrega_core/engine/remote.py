"""The engine as a client of a vLLM server (``python -m medrega_core vllm-serve``) over the OpenAI API.

Same interface as :class:`medrega_core.engine.engine.MedRegAEngine` (``stream``, ``generate``,
``describe``, ``settings``), without weights, torch or a GPU, and without a model lock: the server
batches concurrent answers. Every answer is checked: the prompt ids the server reports must equal
the ids this project's tokenizer makes for the prompt, or the answer is refused.
"""

from __future__ import annotations

import base64
import io
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence
from urllib.parse import urlsplit

import httpx
import openai
from PIL import Image

from medrega_core.engine.checkpoint import TOKENIZER_PATTERNS, num_image_tokens, read_config, resolve_folder
from medrega_core.engine.conversation import TURN_END, build_query, first_question
from medrega_core.engine.errors import N_, EngineError
from medrega_core.engine.picture import as_rgb_image
from medrega_core.engine.results import GenerationResult
from medrega_core.engine.settings import GenerationOptions, SettingsError
from medrega_core.engine.tokenizer import MedRegATokenizer

#: Seconds the status line waits for the server, and how long its answer is reused.
STATUS_TIMEOUT = 2.0
STATUS_CACHE_SECONDS = 2.0
_METRIC = re.compile(r"^vllm:num_requests_(running|waiting)\{[^}]*\}\s+([0-9.eE+-]+)$", re.MULTILINE)
#: What a request to the server raises. openai 3 (on httpx2) wraps every transport failure in its own errors;
#: openai 2 lets httpx's escape while a stream is read. No object of an HTTP package is handed to openai (its
#: own ``openai.Timeout`` is), since openai 3 refuses httpx's.
_CLIENT_ERRORS = (openai.OpenAIError, httpx.HTTPError)


class ServerError(EngineError):
    """The model server cannot give this answer (down, slow, interrupted, another model or tokenizer)."""


class ServerUnreachableError(ServerError):
    """No connection to the model server."""


class ServerTimeoutError(ServerError):
    """The model server did not answer in time."""


class ServerInterruptedError(ServerError):
    """The connection broke in the middle of an answer (server stopped or restarted)."""


class ServedModelMismatchError(ServerError):
    """The server serves another model than the one configured."""


class PromptTokensMismatchError(ServerError):
    """The server tokenized the prompt differently from MedRegA's tokenizer: its answer is refused."""


class ServerRequestError(ServerError):
    """The server refused the request (bad request, authentication, overload)."""


@dataclass(frozen=True)
class ServerSettings:
    """How to reach the server and the default decoding settings.

    Attributes
    ----------
    server:
        Base URL (``http://host:8000``; a trailing ``/v1`` is accepted).
    api_key:
        Sent as the bearer token (``vllm serve --api-key``); None when the server has none.
    checkpoint:
        Folder or Hugging Face id for the tokenizer files (no weights) and the model the server must
        serve; None: the server's own model, whose folder must be readable here (or an id to download).
    max_new_tokens, temperature, top_p:
        Default :class:`GenerationOptions` for each answer.
    timeout:
        Seconds to wait for the server to connect, to start answering and between two tokens.
    """

    server: str
    api_key: str | None = None
    checkpoint: str | None = None
    max_new_tokens: int = 400
    temperature: float = 0.0
    top_p: float = 1.0
    timeout: float = 60.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.server)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingsError(N_("The server address {value} is not an http(s) URL."), value=self.server)
        if self.timeout <= 0:
            raise SettingsError(N_("The server timeout must be positive; got {value}."), value=self.timeout)
        self.generation()

    @property
    def base_url(self) -> str:
        """The server root, without ``/v1``."""
        return self.server.rstrip("/").removesuffix("/v1")

    def generation(self) -> GenerationOptions:
        """The default decoding settings."""
        return GenerationOptions(self.max_new_tokens, self.temperature, self.top_p)


@dataclass(frozen=True)
class ServedModel:
    """A model the server lists: its request name and the path or id it was loaded from."""

    name: str
    root: str


@dataclass(frozen=True)
class _PromptFormat:
    """What the local prompt check needs: the tokenizer, image token count and end-of-turn id."""

    tokenizer: MedRegATokenizer
    image_tokens: int
    turn_end_id: int
    answer_skip: frozenset[int]


def picture_data_url(image: Image.Image) -> str:
    """The picture as a lossless PNG ``data:`` URL (the server decodes and preprocesses it)."""
    buffer = io.BytesIO()
    as_rgb_image(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def chat_messages(image: Image.Image, user_text: str, history: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """OpenAI chat messages of a conversation: the picture and ``<image>`` in the first question only.

    The server's template adds the Hermes-2 system turn; ``<image>`` stays where the question has it.
    """
    questions = [question for question, _ in history] + [user_text]
    first = [{"type": "image_url", "image_url": {"url": picture_data_url(image)}},
             {"type": "text", "text": first_question(questions[0])}]
    messages: list[dict[str, Any]] = [{"role": "user", "content": first}]
    for (_, answer), question in zip(history, questions[1:]):
        messages += [{"role": "assistant", "content": answer}, {"role": "user", "content": question}]
    return messages


def _first_difference(a: Sequence[int], b: Sequence[int]) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


class ServerEngine:
    """A MedRegA answer engine whose model runs in a vLLM server. Create with :meth:`connect`."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self._client = openai.OpenAI(
            base_url=settings.base_url + "/v1", api_key=settings.api_key or "none", max_retries=0,
            timeout=openai.Timeout(settings.timeout, connect=min(settings.timeout, 10.0)),
        )
        self._lock = threading.Lock()
        self._model: ServedModel | None = None
        self._format: _PromptFormat | None = None
        self._status: tuple[float, dict[str, Any]] = (0.0, {})

    @classmethod
    def connect(cls, settings: ServerSettings) -> "ServerEngine":
        """A client for ``settings.server``; the server is contacted on the first answer or status
        request, so the app starts (and later recovers) while it is down."""
        engine = cls(settings)
        if settings.checkpoint:
            engine._prompt_format(settings.checkpoint)  # a missing tokenizer is a start-up error
        return engine

    def close(self) -> None:
        """Close the connections to the server; answers asked afterwards fail."""
        self._client.close()

    def __enter__(self) -> "ServerEngine":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # The server.
    def _translate(self, error: Exception, started: bool) -> ServerError:
        server = self.settings.base_url
        self._model = None  # look again next time: the server may have been restarted with another model
        if isinstance(error, (openai.APITimeoutError, httpx.TimeoutException)):
            return ServerTimeoutError(
                N_("The model server {server} did not answer within {seconds} s; it may be overloaded. "
                   "Try again in a moment."), server=server, seconds=round(self.settings.timeout))
        if started:
            return self._interrupted()
        if isinstance(error, (openai.APIConnectionError, httpx.TransportError)):
            return ServerUnreachableError(
                N_("The model server {server} cannot be reached. Check that it is running; the next "
                   "question tries again."), server=server)
        if isinstance(error, openai.AuthenticationError):
            return ServerRequestError(N_("The model server {server} refused the API key."), server=server)
        reason = getattr(error, "message", None) or type(error).__name__
        return ServerRequestError(N_("The model server {server} refused the request: {reason}"), server=server,
                                  reason=str(reason)[:300])

    def _interrupted(self) -> ServerInterruptedError:
        self._model = None  # look again next time: the server may come back with another model
        return ServerInterruptedError(
            N_("The model server {server} stopped in the middle of the answer (restarted or crashed). "
               "Ask again when it is back."), server=self.settings.base_url)

    def served_model(self, timeout: float | None = None) -> ServedModel:
        """The model the server serves (cached until a request fails); ``timeout`` overrides the settings'.

        Raises
        ------
        ServedModelMismatchError
            When ``settings.checkpoint`` is given and the server serves another model.
        ServerError
            When the server cannot be asked.
        """
        if self._model is not None:
            return self._model
        try:
            client = self._client if timeout is None else self._client.with_options(timeout=timeout)
            listed = [ServedModel(m.id, str(getattr(m, "root", None) or m.id)) for m in client.models.list()]
        except _CLIENT_ERRORS as error:
            raise self._translate(error, started=False) from error
        expected = self.settings.checkpoint
        matches = [m for m in listed if expected is None or self._same_model(expected, m)]
        if not matches:
            raise ServedModelMismatchError(
                N_("The model server {server} serves {served}, not {expected}."), server=self.settings.base_url,
                served=", ".join(m.name for m in listed) or "-", expected=expected)
        self._model = matches[0]
        return self._model

    @staticmethod
    def _same_model(expected: str, served: ServedModel) -> bool:
        names = {served.name, served.root}
        if expected in names:
            return True
        # The same folder reached by another path, or the folder's name as the served name.
        local = Path(expected).expanduser()
        return local.is_dir() and (local.name in names or any(
            Path(n).is_dir() and Path(n).resolve() == local.resolve() for n in names))

    def _prompt_format(self, source: str | None = None) -> _PromptFormat:
        with self._lock:
            if self._format is None:
                folder = resolve_folder(source or self.served_model().root, TOKENIZER_PATTERNS)
                tokenizer = MedRegATokenizer.from_folder(folder)
                turn_end = tokenizer.token_to_id(TURN_END)
                if turn_end is None:
                    raise ServerError(N_("The checkpoint's tokenizer has no {token} token."), token=TURN_END)
                self._format = _PromptFormat(tokenizer, num_image_tokens(read_config(folder)), turn_end,
                                             frozenset(tokenizer.answer_skip_ids() | {turn_end}))
            return self._format

    def describe(self) -> dict[str, Any]:
        """Facts for the status line: server, model, and its queue (running and waiting answers)."""
        checked, info = self._status
        if time.monotonic() - checked < STATUS_CACHE_SECONDS:
            return dict(info)
        info = {"server": self.settings.base_url, "backend": "vllm", "reachable": False}
        try:
            info.update(checkpoint=self.served_model(timeout=STATUS_TIMEOUT).name)
            metrics = httpx.get(self.settings.base_url + "/metrics", timeout=STATUS_TIMEOUT,
                                headers=self._auth_headers()).text
            counts: dict[str, float] = {}
            for kind, value in _METRIC.findall(metrics):
                counts[kind] = counts.get(kind, 0.0) + float(value)
            info.update(reachable=True, running=int(counts.get("running", 0)), waiting=int(counts.get("waiting", 0)))
        except (ServerError, httpx.HTTPError) as error:
            info["error"] = type(error).__name__
        self._status = (time.monotonic(), info)
        return dict(info)

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.api_key}"} if self.settings.api_key else {}

    # Answers.
    def prompt_ids(self, user_text: str, history: Sequence[tuple[str, str]] = ()) -> list[int]:
        """Token ids of the full prompt as this project's tokenizer makes them (BOS first, image expanded)."""
        prompt = self._prompt_format()
        return prompt.tokenizer.encode(build_query(user_text, history, prompt.image_tokens))

    def answer_text(self, output_ids: Sequence[int]) -> str:
        """The user-visible answer for generated ids: up to ``<|im_end|>``, stripped, tags kept."""
        prompt = self._prompt_format()
        ids = list(output_ids)
        if prompt.turn_end_id in ids:
            ids = ids[: ids.index(prompt.turn_end_id)]
        return prompt.tokenizer.decode(ids, skip=prompt.answer_skip).strip()

    def _check_prompt(self, reported: Sequence[int] | None, expected: list[int]) -> None:
        if reported is not None and list(reported) == expected:
            return
        reported = list(reported or [])
        raise PromptTokensMismatchError(
            N_("The model server {server} tokenized the prompt differently from MedRegA's tokenizer ({served} "
               "tokens instead of {expected}, first difference at token {position}), so its answer is refused. "
               "Start the server with: python -m medrega_core vllm-serve --checkpoint ..."),
            server=self.settings.base_url, served=len(reported), expected=len(expected),
            position=_first_difference(reported, expected))

    def _run(self, image: Image.Image, user_text: str, history: Sequence[tuple[str, str]],
             cancel: threading.Event | None, options: GenerationOptions,
             on_finish: Callable[[GenerationResult], None]) -> Iterator[str]:
        started_at = time.perf_counter()
        expected = self.prompt_ids(user_text, history)  # also refuses a malformed conversation
        messages = chat_messages(image, user_text, history)
        turn_end = self._prompt_format().turn_end_id
        output_ids: list[int] = []
        shown, finish_reason, checked = "", "cancelled", False
        try:
            stream = self._client.chat.completions.create(
                model=self.served_model().name, messages=messages, stream=True,
                max_tokens=options.max_new_tokens, temperature=options.temperature, top_p=options.top_p,
                # The reference stops at <|im_end|> only; ids are decoded here, as the engine does.
                extra_body={"return_token_ids": True, "stop_token_ids": [turn_end], "ignore_eos": True,
                            "skip_special_tokens": False})
        except _CLIENT_ERRORS as error:
            raise self._translate(error, started=False) from error
        try:
            for chunk in stream:
                if not checked:
                    self._check_prompt((chunk.model_extra or {}).get("prompt_token_ids"), expected)
                    checked = True
                for choice in chunk.choices:
                    output_ids += (choice.model_extra or {}).get("token_ids") or []
                    if choice.finish_reason:
                        finish_reason = "stop" if choice.finish_reason == "stop" else "length"
                text = self.answer_text(output_ids)
                if text != shown and not text.endswith("\ufffd"):
                    shown = text
                    yield text
                if cancel is not None and cancel.is_set():
                    finish_reason = "cancelled"
                    break
        except _CLIENT_ERRORS as error:
            raise self._translate(error, started=True) from error
        finally:
            stream.close()  # on Stop: the server sees the disconnect and aborts the request
        if not checked:  # the stream ended before its first chunk
            raise self._interrupted()
        text = self.answer_text(output_ids)
        if text != shown:
            yield text
        on_finish(GenerationResult(text=text, input_ids=expected, output_ids=output_ids, finish_reason=finish_reason,
                                   first_step_top=[], vision_cached=False, seconds=time.perf_counter() - started_at))

    def stream(self, image: Image.Image, user_text: str, history: Sequence[tuple[str, str]] = (),
               cancel: threading.Event | None = None, max_new_tokens: int | None = None,
               temperature: float | None = None, top_p: float | None = None,
               on_finish: Callable[[GenerationResult], None] | None = None) -> Iterator[str]:
        """Yield the answer text so far; same parameters and behaviour as ``MedRegAEngine.stream``.

        Raises
        ------
        ServerError
            Server down, too slow, interrupted, serving another model, or tokenizing differently.
        """
        options = self.settings.generation().with_overrides(max_new_tokens, temperature, top_p)
        yield from self._run(image, user_text, history, cancel, options, on_finish or (lambda result: None))

    def generate(self, image: Image.Image, user_text: str, history: Sequence[tuple[str, str]] = (),
                 cancel: threading.Event | None = None, max_new_tokens: int | None = None,
                 temperature: float | None = None, top_p: float | None = None) -> GenerationResult:
        """A whole answer; same parameters as :meth:`stream`."""
        options = self.settings.generation().with_overrides(max_new_tokens, temperature, top_p)
        results: list[GenerationResult] = []
        for _ in self._run(image, user_text, history, cancel, options, results.append):
            pass
        return results[0]
