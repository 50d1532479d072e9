"""What a panel may use of the rest of the page: :class:`PageLinks`.

Each panel's ``wire_<panel>(handles, ctx, links)`` wires its own events; where an event changes
what other panels show (a new scan, new boxes, a new answer) it asks ``links`` for those updates.
:mod:`ui_components.page` builds the links, so no panel imports the page or another panel's wiring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator

import gradio as gr

from ui_components.state import SessionState
from ui_components.task_panel import TaskHandles

#: ``{component: value or gr.update(...)}`` as an event returns it.
Updates = dict[Any, Any]


class ScanNotOpened(Exception):
    """The files could not be opened and the previous scan is closed: ``updates`` show the page
    without a scan, ``toast`` says why."""

    def __init__(self, updates: Updates, toast: gr.Error) -> None:
        super().__init__(str(toast))
        self.updates, self.toast = updates, toast


def opening(open_updates: Callable[[], Updates]) -> Iterator[Updates]:
    """Event body around :attr:`PageLinks.open_files`: its updates, or, when the files cannot be
    opened, the page without a scan first and the error toast after it."""
    try:
        yield open_updates()
    except ScanNotOpened as failed:
        yield failed.updates
        raise failed.toast from None


@dataclass(frozen=True)
class PageLinks:
    """The session, the widgets other panels read or fill, and the updates that span panels."""

    state: gr.State
    #: The viewer (an opening scan shows its progress there).
    viewer: gr.HTML
    #: What the viewer last reported (view, window, boxes); a question reads it first.
    viewer_state: gr.JSON
    #: The task panel: the inputs a question is built from, and the fields an example fills in.
    task: TaskHandles
    #: ``refresh_prompt(event)`` chains the prompt preview after an event that changes picture or boxes.
    refresh_prompt: Callable[[Any], Any]
    #: ``picture_updates(state, push_view=False, push_boxes=False)``: the viewer (model boxes, and the
    #: server's view or boxes when pushed) and the region table.
    picture_updates: Callable[..., Updates]
    #: ``region_updates(state)``: the region table and the selected region only.
    region_updates: Callable[[SessionState], Updates]
    #: Every widget :attr:`picture_updates` updates.
    picture_outputs: set[Any]
    #: ``open_files(files, state, series_uid=None)``: open files as a new case; every widget of
    #: :attr:`scan_outputs` updated. Raises :class:`ScanNotOpened`; run it inside :func:`opening`.
    open_files: Callable[..., Updates]
    #: Every widget :attr:`open_files` may update.
    scan_outputs: set[Any]
