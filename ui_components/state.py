"""Per-session state: one :class:`SessionState` per browser tab, held in ``gr.State``.

Gradio keeps the object of each session server-side and hands the same object to every event of
that session, so handlers update it in place; no other session can reach it. Its temporary folder
(uploads copied for intake, exports) is removed when the session ends.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medrega_core.i18n import DEFAULT_LANGUAGE


@dataclass
class UserBox:
    """A box the user drew or proposed by a click, in picture pixels of the current rendering."""

    box: Any  # medrega_core.tasks.PixelBox
    label: str = ""


@dataclass
class Exchange:
    """One question and its answer, as sent to and received from the model, with the picture it was
    about (``rendering``) and that picture with the answer's boxes drawn (``picture``, a PNG path)."""

    task: str
    prompt: str
    answer: str = ""
    rendering: Any = None  # medrega_core.intake.Rendering the model was sent
    user_boxes: tuple = ()  # the user's boxes (PixelBox, label) on that picture
    measurements: tuple = ()  # the user's length and probe marks on it (medrega_core.export.Measurement)
    exported: dict = field(default_factory=dict)  # file paths by kind ("bundle", "sr"), shown together
    picture: str | None = None
    asked: str = ""  # what the user asked, in plain words (task, question, box) for the chat
    speed: tuple[int, float] | None = None  # (tokens generated, model seconds) once finished
    dropped_turns: int = 0  # oldest follow-ups the engine left out to stay inside the context


@dataclass
class SessionState:
    """Everything one user has open: scan, view, boxes, conversation, language.

    ``history`` holds (user text, answer) pairs exactly as the engine saw them, so follow-up
    questions keep the image and the regions of earlier turns.
    """

    lang: str = DEFAULT_LANGUAGE
    task: str = ""  # the task chosen in the task panel ("" until the user picks one)
    scan: Any = None  # medrega_core.intake.Scan
    scan_paths: list[str] = field(default_factory=list)
    scan_token: str | None = None  # the viewer's key to the scan's pictures (ui_components.viewer_data)
    planes: dict | None = None  # per plane: picture size, slices, mm per pixel, letters (fixed per scan)
    view: Any = None  # medrega_core.intake.View shown in the viewer (its window as the viewer last said)
    geometry: Any = None  # medrega_core.intake.SliceGeometry of the picture shown
    view_serial: int = 0  # counts views pushed to the viewer by the server
    boxes_serial: int = 0  # counts box lists pushed to the viewer by the server
    user_boxes: list[UserBox] = field(default_factory=list)
    measurements: list = field(default_factory=list)  # length and probe marks on the picture shown
    selected_box: int | None = None  # index in user_boxes of the box a question is about
    parsed: Any = None  # medrega_core.tasks.ParsedAnswer of the latest answer
    selected_region: int | None = None
    exchanges: list[Exchange] = field(default_factory=list)
    cancel: threading.Event | None = None
    folder: str | None = None

    @property
    def picture_size(self) -> tuple[int, int] | None:
        """(width, height) of the picture shown, or None without a scan."""
        return None if self.geometry is None else (self.geometry.width, self.geometry.height)

    @property
    def asked_box(self) -> int | None:
        """Index in ``user_boxes`` of the box a question is about: the selected one, else the last."""
        if not self.user_boxes:
            return None
        selected = self.selected_box
        return selected if selected is not None and 0 <= selected < len(self.user_boxes) else len(self.user_boxes) - 1

    @property
    def rendering(self) -> Any:
        """The picture the latest answer was about (None before the first question)."""
        return self.exchanges[-1].rendering if self.exchanges else None

    @property
    def history(self) -> list[tuple[str, str]]:
        """Finished turns as (user text, answer) pairs for the engine."""
        return [(e.prompt, e.answer) for e in self.exchanges if e.answer]

    def work_folder(self, root: Path) -> Path:
        """This session's private temporary folder under ``root`` (created on first use)."""
        if self.folder is None:
            self.folder = tempfile.mkdtemp(prefix="session-", dir=root)
        return Path(self.folder)

    def reset_scan(self) -> None:
        """Forget everything tied to the previous scan (a new scan starts a new conversation)."""
        self.scan, self.view, self.geometry, self.parsed, self.scan_token = None, None, None, None, None
        self.planes = None
        self.user_boxes, self.exchanges, self.selected_region, self.scan_paths = [], [], None, []
        self.measurements = []
        self.selected_box = None


def close_scan(state: SessionState, scans: Any) -> None:
    """Close the session's scan: the viewer's pictures of it go (``scans`` is the app's ``ScanRegistry``)
    and so does everything tied to it."""
    scans.remove(state.scan_token)
    state.reset_scan()


def delete_session(state: SessionState | None, scans: Any = None) -> None:
    """``gr.State`` delete callback: stop a running generation, close the viewer's scan and remove
    the session's files. ``scans`` is the app's ``ScanRegistry``."""
    if state is None:
        return
    if state.cancel is not None:
        state.cancel.set()
    if scans is not None:
        scans.remove(state.scan_token)
    if state.folder:
        shutil.rmtree(state.folder, ignore_errors=True)
