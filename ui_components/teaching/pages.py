"""Mount the teaching pages as routes of the app's Blocks (Gradio multipage)."""

from __future__ import annotations

import gradio as gr

from ui_components.teaching.class_page import create_class_page, wire_class_page
from ui_components.teaching.host import CLASS_PATH, TEACH_PATH, TeachingHost
from ui_components.teaching.teach_page import create_teach_page, wire_teach_page

#: Room in Gradio's queue for a class's short events arriving together (join, submit, each resident's
#: 1 s follow): Gradio counts an event as queued until its turn is taken up, and on a busy process 30
#: residents submitting at once outnumber ``--max-queue``; those events must never be told "queue full".
CLASS_QUEUE_ROOM = 64

#: No page shows Gradio's navigation bar: the workbench looks as before, the class and the projector
#: see only their own page.
NO_NAVBAR_CSS = " .nav-holder {display: none}"


def mount_teaching_pages(demo: gr.Blocks, host: TeachingHost) -> None:
    """``/teach`` (the teacher's page) and ``/class`` (the residents'), kept out of the navigation bar
    (:data:`NO_NAVBAR_CSS` hides the bar itself: Gradio 6.31 shows it despite ``gr.Navbar(visible=False)``)."""
    with demo.route("Teach", f"/{TEACH_PATH}", show_in_navbar=False):
        wire_teach_page(create_teach_page(host), host, demo)
    with demo.route("Class", f"/{CLASS_PATH}", show_in_navbar=False):
        wire_class_page(create_class_page(host), host, demo)
