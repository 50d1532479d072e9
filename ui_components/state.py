"""Per-session state: one :class:`SessionState` per browser tab, held in ``gr.State``.

A :class:`SessionState` is the tab's :class:`medrega_core.session.Session` (scan, view, boxes,
conversation, language) plus what only the page needs: the viewer's key to the scan's pictures, the
counters of values pushed to the viewer, the answer region clicked on, the task chosen and the
session's temporary folder. Gradio keeps the object of each session server-side and hands the same
object to every event of that session, so handlers update it in place; no other session can reach
it. Its temporary folder (uploads copied for intake, exports) is removed when the session ends.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medrega_core.session import Exchange, Session, UserBox
from ui_components.viewer_data import ScanRegistry

__all__ = ["Exchange", "SessionState", "UserBox", "close_scan", "delete_session"]


@dataclass(eq=False)
class SessionState(Session):
    """The session of one browser tab.

    The engine is set on the session when a question is asked (the app loads it in the background).
    """

    task: str = ""  # the task chosen in the task panel ("" until the user picks one)
    #: The viewer's key to the scan's pictures (``ui_components.viewer_data``); None without a scan.
    scan_token: str | None = None
    #: Per plane: picture size, slices, mm per pixel, letters (fixed per scan; sent with every viewer value).
    planes: dict[str, dict[str, Any]] | None = None
    #: Files of an upload that holds several series, kept until the user picks one.
    pending_paths: list[str] = field(default_factory=list)
    view_serial: int = 0  # counts views pushed to the viewer by the server
    boxes_serial: int = 0  # counts box lists pushed to the viewer by the server
    #: The latest answer's region clicked on in the viewer: follow-up questions are about it.
    selected_region: int | None = None
    folder: str | None = None

    def close(self) -> None:
        """Forget the scan and everything tied to it, the region clicked on included. The viewer's key
        is forgotten by :func:`close_scan`, which also takes the pictures out of the viewer's reach."""
        super().close()
        self.planes, self.selected_region = None, None

    def new_conversation(self) -> None:
        super().new_conversation()
        self.selected_region = None

    def work_folder(self, root: Path) -> Path:
        """This session's private temporary folder under ``root`` (created on first use)."""
        if self.folder is None:
            self.folder = tempfile.mkdtemp(prefix="session-", dir=root)
        return Path(self.folder)


def close_scan(state: SessionState, scans: ScanRegistry) -> None:
    """Close the session's scan: the viewer's pictures of it go, and so does everything tied to it."""
    scans.remove(state.scan_token)
    state.scan_token = None
    state.close()


def delete_session(state: SessionState | None, scans: ScanRegistry | None = None) -> None:
    """``gr.State`` delete callback: stop a running generation, close the scan (slices still loading
    are no longer decoded) and the viewer's key to it, and remove the session's files."""
    if state is None:
        return
    state.close()
    if scans is not None:
        scans.remove(state.scan_token)
    if state.folder:
        shutil.rmtree(state.folder, ignore_errors=True)
