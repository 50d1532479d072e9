"""One case asked about: a scan, the picture shown, the user's boxes and the conversation with MedRegA.

:class:`Session` is the question path without any UI: open a scan, show a view, mark boxes, then
``ask`` and read the answer as it grows, with its regions parsed at every step. It owns two rules
every front end must share: the model is sent exactly the picture the user sees (the view, window
included, rendered by :func:`medrega_core.intake.render`), and a long conversation is fitted to the
model's context by leaving out the oldest follow-ups (the engine's ``fit_history``). The engine is
passed in (any :class:`medrega_core.engine.Engine`: in process or a vLLM server); this module does
not import torch.

>>> session = Session.for_case(["ct/"], engine=engine, view=View(window="lung"),
...                            boxes=[PixelBox(210, 180, 260, 240)])
>>> for update in session.ask(Task.REGION_TO_TEXT):
...     print(update.text)
"""

from __future__ import annotations

import dataclasses
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Sequence

import numpy as np
from PIL import Image

from medrega_core.engine.base import Engine, History, stream_answer
from medrega_core.engine.results import GenerationResult
from medrega_core.errors import N_, EngineError, MedRegAError
from medrega_core.export import ExportFiles, ExportRecord, Measurement, public_model_name, write_bundle
from medrega_core.i18n import DEFAULT_LANGUAGE
from medrega_core.intake import (
    MultipleSeriesError, Rendering, Scan, SliceGeometry, View, open_scan, picture_frame, render,
)
from medrega_core.render import OverlayRegion, draw_overlay, palette_color
from medrega_core.tasks import (
    ParsedAnswer, PixelBox, Region, Task, TaskRequest, build_follow_up_prompt, build_prompt, parse_answer, split_names,
    supported_languages,
)

if TYPE_CHECKING:  # the PACS client (highdicom, dicomweb-client) is only needed by who passes one
    from medrega_core.pacs import PacsClient, SeriesRetrieval

__all__ = ["AnswerUpdate", "Exchange", "NoEngineError", "NoScanError", "Session", "StreamRunner", "UserBox",
           "prompt_language"]

#: Colour of the user's boxes on the answer's picture.
USER_BOX_COLOR = (255, 255, 255)

#: Runs an engine's stream: ``(engine, picture, prompt, history, cancel)`` -> ``(text, None)`` items, then
#: ``(text, result)``. The default is :func:`medrega_core.engine.base.stream_answer`; a Hugging Face
#: ZeroGPU Space wraps it in ``spaces.GPU``.
StreamRunner = Callable[[Engine, Image.Image, str, History, threading.Event | None],
                        Iterator[tuple[str, GenerationResult | None]]]


class NoScanError(MedRegAError):
    """A question or a view was asked for before a scan was opened."""


class NoEngineError(EngineError):
    """A question was asked of a session without an engine."""


@dataclass
class UserBox:
    """A box the user drew (or had proposed by a click), in picture pixels of the view shown."""

    box: PixelBox
    label: str = ""


@dataclass
class Exchange:
    """One question and its answer, as sent to and received from the model.

    Attributes
    ----------
    task:
        The task id (a :class:`Task` value).
    prompt:
        The exact user text sent.
    answer:
        The answer so far (tags included); the whole answer once finished.
    rendering:
        The picture the model was sent, with its geometry.
    user_boxes:
        The user's boxes on that picture when asked.
    measurements:
        The user's length and probe marks on that picture when asked.
    exported:
        Files a front end wrote from this exchange, by kind (``"bundle"``, ``"sr"``), to offer them together.
    picture:
        Where a front end saved the answer's picture (:meth:`Session.answer_picture`), if it did.
    asked:
        What was asked in plain words (task, question, box), for a conversation's display.
    speed:
        ``(tokens generated, model seconds)`` once finished.
    dropped_turns:
        Oldest follow-ups left out to keep the conversation inside the model's context.
    """

    task: str
    prompt: str
    answer: str = ""
    rendering: Rendering | None = None
    user_boxes: tuple[UserBox, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    exported: dict[str, list[str]] = field(default_factory=dict)
    picture: str | None = None
    asked: str = ""
    speed: tuple[int, float] | None = None
    dropped_turns: int = 0


@dataclass(frozen=True)
class AnswerUpdate:
    """The answer as it stands: its text, the regions parsed from it, and whether it is finished.

    Attributes
    ----------
    text:
        The answer so far, ``<ref>``/``<box>`` tags included.
    answer:
        ``parse_answer(text)``: regions (boxes in the model's 0-999 grid of the picture asked about),
        plain text and any parse issues.
    done:
        True for the last update of an answer (finished, at the token limit or stopped).
    result:
        The engine's :class:`GenerationResult` (token ids, finish reason, seconds) on the last update.
    """

    text: str
    answer: ParsedAnswer
    done: bool = False
    result: GenerationResult | None = None

    @property
    def regions(self) -> list[Region]:
        return self.answer.regions


def prompt_language(task: Task | str, lang: str) -> str:
    """The language a task's prompt is written in: ``lang`` when MedRegA was trained on the task in it,
    else the task's first trained language."""
    languages = supported_languages(task)
    return lang if lang in languages else languages[0]


@dataclass(eq=False)
class Session:
    """One case: a scan, its view, the user's boxes and one conversation with an engine.

    Open a scan (:meth:`open`, :meth:`open_pacs_series` or :meth:`for_case`) before setting a view,
    boxes or asking; asking first raises :class:`NoScanError`. Not thread-safe: one question at a
    time per session (:meth:`stop` may be called from another thread).

    Parameters
    ----------
    engine:
        What answers (:class:`medrega_core.engine.Engine`); may be set later, before the first question.
    lang:
        ``"en"`` or ``"zh"``: the language of the prompts (where the task has it) and of error messages.
    runner:
        How the engine's stream is run (see :data:`StreamRunner`).
    """

    engine: Engine | None = None
    lang: str = DEFAULT_LANGUAGE
    runner: StreamRunner = stream_answer
    scan: Scan | None = field(default=None, init=False)
    scan_paths: list[str] = field(default_factory=list, init=False)
    #: The view shown; its window is the one the user sees (and the model is sent).
    view: View | None = field(default=None, init=False)
    #: Geometry of the picture of :attr:`view` (its size is what boxes are measured on).
    geometry: SliceGeometry | None = field(default=None, init=False)
    user_boxes: list[UserBox] = field(default_factory=list, init=False)
    #: Index in :attr:`user_boxes` of the box questions are about (None: the last one).
    selected_box: int | None = field(default=None, init=False)
    #: The user's length and probe marks on the picture shown (exports read their values again).
    measurements: list[Measurement] = field(default_factory=list, init=False)
    exchanges: list[Exchange] = field(default_factory=list, init=False)
    #: The latest answer, parsed (updated as it streams).
    parsed: ParsedAnswer | None = field(default=None, init=False)
    _cancel: threading.Event | None = field(default=None, init=False, repr=False)

    @classmethod
    def for_case(cls, paths: Sequence[str | os.PathLike], *, engine: Engine | None = None, view: View | None = None,
                 boxes: Iterable[UserBox | PixelBox] = (), series_uid: str | None = None,
                 lang: str = DEFAULT_LANGUAGE) -> "Session":
        """A session on one case: the scan of ``paths``, shown as ``view`` (default: the scan's own),
        with the user's ``boxes`` on that picture (questions are about the last one)."""
        session = cls(engine=engine, lang=lang)
        session.open(paths, series_uid=series_uid)
        if view is not None:
            session.set_view(view)
        session.set_boxes(boxes)
        return session

    # ---- the case ----

    def open(self, paths: Sequence[str | os.PathLike], series_uid: str | None = None, background: bool = False) -> None:
        """Open a scan (see :func:`medrega_core.intake.open_scan`): a new case, with the scan's default
        view, no boxes and no conversation. With ``background``, a series is usable before all its
        slices are decoded (a question waits for the slices of the picture asked about).

        Raises
        ------
        MultipleSeriesError
            When the files hold several series (its ``.choices`` list them): call again with
            ``series_uid``. The open scan stays.
        ScanError
            When the files cannot be opened. The open scan is closed too, so that no answer is ever
            about another scan than the one the user last chose.
        """
        try:
            scan = open_scan(paths, series_uid=series_uid, background=background)
        except MultipleSeriesError:
            raise
        except MedRegAError:
            self.close()
            raise
        self.show_scan(scan, paths)

    def show_scan(self, scan: Scan, paths: Sequence[str | os.PathLike] = (), view: View | None = None) -> None:
        """Make an already opened ``scan`` (read from ``paths``) the case: a new case, shown at ``view``
        (default: the scan's own), with no boxes and no conversation."""
        self.close()
        self.scan, self.scan_paths = scan, [str(path) for path in paths]
        self.set_view(view or scan.default_view())

    def open_pacs_series(self, client: PacsClient, study_uid: str, series_uid: str,
                         folder: str | os.PathLike) -> SeriesRetrieval:
        """Retrieve one series from a PACS into ``folder`` and :meth:`open` the instances that arrived.

        Returns the retrieval, whose ``failed`` names the instances left out (damaged on the PACS).
        When none arrived, the open scan stays and nothing is opened.
        """
        retrieval = client.retrieve_series(study_uid, series_uid, folder)
        if retrieval.paths:
            self.open([str(path) for path in retrieval.paths])
        return retrieval

    def close(self) -> None:
        """Forget the scan and everything tied to it (view, boxes, conversation); its slices still
        loading are no longer decoded."""
        self.stop()
        if self.scan is not None:
            self.scan.stop_loading()
        self.scan, self.view, self.geometry, self.parsed = None, None, None, None
        self.scan_paths, self.user_boxes, self.exchanges, self.selected_box = [], [], [], None
        self.measurements = []

    def _require_scan(self) -> Scan:
        if self.scan is None:
            raise NoScanError(N_("Load a scan first."))
        return self.scan

    def set_view(self, view: View) -> None:
        """Show ``view`` (plane, slice, frame or time point, window); the user's boxes stay as they are.

        Raises
        ------
        InvalidViewError
            For a plane, slice, frame or window the scan does not have.
        """
        frame = picture_frame(self._require_scan(), view)
        self.view, self.geometry = dataclasses.replace(frame.view, window=view.window), frame.geometry

    def set_boxes(self, boxes: Iterable[UserBox | PixelBox], selected: int | None = None) -> None:
        """Replace the user's boxes (picture pixels of the view shown); ``selected`` is the index of the
        box questions are about (None: the last one)."""
        self.user_boxes = [box if isinstance(box, UserBox) else UserBox(box) for box in boxes]
        self.select_box(selected)

    def select_box(self, index: int | None) -> None:
        """Make box ``index`` the one questions are about (None: the last one)."""
        if index is not None and not 0 <= index < len(self.user_boxes):
            raise IndexError(f"box {index} of {len(self.user_boxes)}")
        self.selected_box = index

    @property
    def picture_size(self) -> tuple[int, int] | None:
        """(width, height) of the picture shown, or None without a scan."""
        return None if self.geometry is None else (self.geometry.width, self.geometry.height)

    @property
    def asked_box(self) -> int | None:
        """Index in :attr:`user_boxes` of the box a question is about: the selected one, else the last."""
        if not self.user_boxes:
            return None
        selected = self.selected_box
        return selected if selected is not None and 0 <= selected < len(self.user_boxes) else len(self.user_boxes) - 1

    def render_view(self) -> Rendering:
        """The picture the model is sent: the view shown, with the window the user sees."""
        return render(self._require_scan(), self.view)

    # ---- the conversation ----

    @property
    def rendering(self) -> Rendering | None:
        """The picture the latest answer was about (None before the first question)."""
        return self.exchanges[-1].rendering if self.exchanges else None

    @property
    def history(self) -> list[tuple[str, str]]:
        """Finished turns as (user text, answer) pairs, exactly as the engine saw them."""
        return [(e.prompt, e.answer) for e in self.exchanges if e.answer]

    def request(self, task: Task | str, *, question: str = "", objects: Sequence[str] | str = (),
                candidates: Sequence[str] | str = (), modality: str = "", variant: str = "",
                box: PixelBox | None = None) -> TaskRequest:
        """The typed request for ``task`` on the picture shown, in the prompt language of :attr:`lang`.

        ``objects`` and ``candidates`` are lists of names or comma-separated text; ``box`` (picture
        pixels) defaults to the user's box questions are about.
        """
        if box is None and self.asked_box is not None:
            box = self.user_boxes[self.asked_box].box
        return TaskRequest(
            task=Task(task), lang=prompt_language(task, self.lang), question=question or "",
            objects=_names(objects), box=box, image_size=self.picture_size, candidates=_names(candidates),
            modality=modality or "", variant=variant or "",
        )

    def prompt_for(self, request: TaskRequest) -> str:
        """The exact user text: the first question's prompt (with ``<image>``), or the follow-up prompt
        (without) once the conversation has an answer."""
        return build_follow_up_prompt(request) if self.history else build_prompt(request)

    def prompt_to_send(self, request: TaskRequest, shown: str = "") -> str:
        """The prompt to send when ``shown`` was displayed for ``request``: ``shown`` as is (an expert may
        edit it), unless it is empty or is the first question's prompt left over from before an
        answer arrived, which a follow-up must not repeat."""
        shown = shown.strip()
        if not shown or (self.history and shown == build_prompt(request)):
            return self.prompt_for(request)
        return shown

    def _require_engine(self) -> Engine:
        if self.engine is None:
            raise NoEngineError(N_("No model is set for this session."))
        return self.engine

    def ask(self, task: Task | str, *, question: str = "", objects: Sequence[str] | str = (),
            candidates: Sequence[str] | str = (), modality: str = "", variant: str = "",
            box: PixelBox | None = None, prompt: str = "", asked: str = "") -> Iterator[AnswerUpdate]:
        """Ask about the picture shown; see :meth:`request` for the task's inputs and
        :meth:`ask_request` for ``prompt``, ``asked`` and what is returned."""
        self._require_engine()
        self._require_scan()
        request = self.request(task, question=question, objects=objects, candidates=candidates,
                               modality=modality, variant=variant, box=box)
        return self.ask_request(request, prompt=prompt, asked=asked)

    def ask_request(self, request: TaskRequest, *, prompt: str = "", asked: str = "") -> Iterator[AnswerUpdate]:
        """Ask ``request`` about the picture shown, as a follow-up when the conversation has an answer.

        The checks (engine, scan, prompt, context) run now and raise; the answer streams as the
        returned iterator is read: one :class:`AnswerUpdate` per new piece of text, then one with
        ``done=True``. The exchange joins :attr:`exchanges` when reading starts; if generation fails it
        is taken out again and the engine's error is raised.

        Parameters
        ----------
        request:
            What to ask (:meth:`request` builds one).
        prompt:
            The prompt text to send instead of the one built from ``request`` (see :meth:`prompt_to_send`).
        asked:
            What was asked in plain words, kept on the :class:`Exchange` for display.

        Raises
        ------
        NoEngineError, NoScanError, TaskError, EngineError
            No engine, no scan, an incomplete request, or a conversation the model cannot take.
        """
        engine = self._require_engine()
        self._require_scan()
        text = self.prompt_to_send(request, prompt)
        fit = engine.fit_history(text, self.history)
        exchange = Exchange(task=request.task.value, prompt=text, rendering=self.render_view(),
                            user_boxes=tuple(self.user_boxes), measurements=tuple(self.measurements), asked=asked,
                            dropped_turns=fit.dropped_turns)
        return self._answer(engine, exchange, fit.history)

    def _answer(self, engine: Engine, exchange: Exchange, history: History) -> Iterator[AnswerUpdate]:
        self.exchanges.append(exchange)
        self.parsed = None
        self._cancel = cancel = threading.Event()
        picture = Image.fromarray(exchange.rendering.rgb)
        finished: GenerationResult | None = None
        try:
            for text, finished in self.runner(engine, picture, exchange.prompt, list(history), cancel):
                if finished is not None:
                    break  # its text is the last one streamed
                exchange.answer = text
                self.parsed = parse_answer(text)
                yield AnswerUpdate(text, self.parsed)
        except MedRegAError:
            if exchange in self.exchanges:
                self.exchanges.remove(exchange)
            raise
        finally:
            cancel.set()
        exchange.answer = finished.text
        exchange.speed = (len(finished.output_ids), finished.seconds)
        self.parsed = parse_answer(finished.text)
        yield AnswerUpdate(finished.text, self.parsed, done=True, result=finished)

    def stop(self) -> None:
        """Stop the answer being generated (it ends with the text so far); nothing when none runs."""
        if self._cancel is not None:
            self._cancel.set()

    def new_conversation(self) -> None:
        """Forget the conversation; the scan, the view and the boxes stay."""
        self.stop()
        self.exchanges, self.parsed = [], None

    # ---- the answer's picture and export ----

    def answer_picture(self, exchange: Exchange | None = None, selected_region: int | None = None) -> np.ndarray:
        """The picture ``exchange`` (default: the latest) was about, ``H x W x 3`` uint8, with the user's
        boxes (white) and, for the latest answer, its regions in their palette colours (region
        ``selected_region`` tagged ``n*``)."""
        if exchange is None:
            if not self.exchanges:
                raise MedRegAError(N_("Nothing to export yet: load a scan and ask a question first."))
            exchange = self.exchanges[-1]
        regions = [OverlayRegion(u.label or str(i + 1), [u.box], USER_BOX_COLOR, source="user", tag=None)
                   for i, u in enumerate(exchange.user_boxes)]
        if self.parsed is not None and exchange is self.exchanges[-1]:
            g = exchange.rendering.geometry
            for i, region in enumerate(self.parsed.regions):
                tag = f"{i + 1}*" if i == selected_region else i + 1
                regions.append(OverlayRegion(region.name or "", region.pixel_boxes(g.width, g.height),
                                             palette_color(i), source="model", tag=tag))
        return draw_overlay(exchange.rendering.rgb, regions)

    def export_record(self, include_identifiers: bool = False) -> ExportRecord:
        """The latest exchange with the picture, boxes and model facts it needs to be exported."""
        if self.rendering is None or self.scan is None:
            raise MedRegAError(N_("Nothing to export yet: load a scan and ask a question first."))
        exchange = self.exchanges[-1]
        generation = dataclasses.asdict(self.engine.settings.generation()) if self.engine is not None else {}
        engine_info = dict(self.engine.describe()) if self.engine is not None else {}
        if engine_info.get("checkpoint"):  # a local folder by its name: the server's paths stay private
            engine_info["checkpoint"] = public_model_name(str(engine_info["checkpoint"]))
        return ExportRecord(
            task=exchange.task, lang=self.lang, prompt=exchange.prompt, answer=exchange.answer,
            rendering=exchange.rendering, scan=self.scan, user_boxes=tuple(u.box for u in exchange.user_boxes),
            user_box_labels=tuple(u.label for u in exchange.user_boxes),
            measurements=self._measurements_of(exchange), engine_info=engine_info, generation=generation,
            include_identifiers=bool(include_identifiers),
        )

    def _measurements_of(self, exchange: Exchange) -> tuple[Measurement, ...]:
        """The length and probe marks on the exchange's picture: those shown now while the view still shows
        that picture (the user may have measured the answer's finding), else those of the question."""
        shown, asked = self.view, exchange.rendering.view if exchange.rendering is not None else None
        same = shown is not None and asked is not None and (
            (str(shown.plane), shown.slice_index, shown.frame, shown.timepoint)
            == (str(asked.plane), asked.slice_index, asked.frame, asked.timepoint))
        return tuple(self.measurements) if same else exchange.measurements

    def export(self, folder: str | os.PathLike, include_identifiers: bool = False,
               selected_region: int | None = None) -> ExportFiles:
        """Write the latest exchange as PNG, JSON and Markdown into ``folder`` (created if needed;
        :func:`medrega_core.export.write_bundle`); identifiers stay out unless asked for."""
        record = self.export_record(include_identifiers)
        Path(folder).mkdir(parents=True, exist_ok=True)
        return write_bundle(record, Path(folder), self.answer_picture(selected_region=selected_region))


def _names(names: Sequence[str] | str) -> tuple[str, ...]:
    """Names given as a list, or as comma-separated text."""
    return split_names(names) if isinstance(names, str) else tuple(name.strip() for name in names if name.strip())
