"""The class page (``/class``): a resident joins with the session's code and a display name, sees
the current case in the viewer, marks boxes and/or types an answer, submits, and only then sees the
teacher's reference, the model's answer and the score; then may ask the model follow-ups.

A 1 s timer follows the teacher (next case, reveal). Everything that matters is in the database,
and the page keeps the joined code and name in a hidden field, so after a restart of the app the
next tick finds the resident again (their submitted answers included).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Iterator

import gradio as gr

from medrega_core.errors import N_, MedRegAError
from medrega_core.i18n import normalize_language, translator
from medrega_core.render import palette_hex
from medrega_core.tasks import Task, parse_answer
from medrega_core.teaching import (
    HIT_IOU, CaseError, CaseRecord, Scored, SessionRecord, clean_code, case_session, continue_from_model_answer,
)
from medrega_core.teaching.cases import parse_view
from medrega_core.teaching.overview import MODEL_COLOUR, REFERENCE_COLOUR
from ui_components import viewer
from ui_components.chat import answer_html
from ui_components.context import MODEL_CONCURRENCY_ID
from ui_components.labels import Texts, Translate, merge_updates, plain_error, relabel, user_error
from ui_components.page import LANGUAGE_CHOICES, SWITCH_GRADIO_LOCALE_JS
from ui_components.state import SessionState
from ui_components.teaching.host import TeachingHost, follow_viewer, keep_language, unchanged

#: Seconds between two looks at the session: a resident follows the teacher within twice that.
FOLLOW_SECONDS = 1.0


@dataclass
class Resident:
    """One resident's page: who joined where, the case shown, and the viewer's session."""

    view: SessionState = field(default_factory=SessionState)
    code: str = ""
    name: str = ""
    case_id: int | None = None
    revealed: bool = False
    scored: Scored | None = None

    @property
    def lang(self) -> str:
        return self.view.lang


@dataclass(frozen=True)
class ClassHandles:
    state: gr.State
    language: gr.Radio
    title: gr.Markdown
    code: gr.Textbox
    name: gr.Textbox
    join: gr.Button
    joined: gr.Textbox
    remembered: gr.BrowserState
    viewer_state: gr.JSON
    case_line: gr.Markdown
    viewer: gr.HTML
    answer: gr.Textbox
    submit: gr.Button
    result: gr.Markdown
    follow_up: gr.Column
    chat: gr.Chatbot
    question: gr.Textbox
    ask: gr.Button
    timer: gr.Timer


def texts(_: Translate) -> Texts:
    return {
        "title": {"value": "## " + _("Teaching session") + "\n" + _(
            "Mark the structure and/or type your answer, then submit: the reference and the model's answer "
            "appear after your submit.")},
        "code": {"label": _("Join code")},
        "name": {"label": _("Your display name")},
        "join": {"value": _("Join")},
        "answer": {"label": _("Your answer")},
        "submit": {"value": _("Submit")},
        "chat": {"label": _("Ask the model about this case")},
        "question": {"label": _("Your question")},
        "ask": {"value": _("Ask")},
    }


def create_class_page(host: TeachingHost) -> ClassHandles:
    t = texts(lambda m, **p: m)
    with gr.Column(elem_id="class-page"):
        state = gr.State(Resident(), delete_callback=lambda r: host.ctx.scans.remove(r.view.scan_token))
        with gr.Row(equal_height=True):
            title = gr.Markdown(elem_id="class-title", **t["title"])
            language = gr.Radio(LANGUAGE_CHOICES, value="en", show_label=False, elem_id="class-language", scale=0,
                                min_width=220, container=False)
        with gr.Row(equal_height=True):
            code = gr.Textbox(elem_id="class-join-code", max_length=12, **t["code"])
            name = gr.Textbox(elem_id="class-name", max_length=40, **t["name"])
            join = gr.Button(variant="primary", elem_id="class-join", scale=0, **t["join"])
        joined = gr.Textbox(visible=False, elem_id="class-joined")
        # The browser keeps code and name: a page reloaded (after a restart of the app) joins again.
        remembered = gr.BrowserState({"code": "", "name": ""}, storage_key="medrega-class-join",
                                     secret=host.browser_secret)
        viewer_state = gr.JSON(visible=False)  # filled in the browser at the click (the viewer's boxes)
        case_line = gr.Markdown(elem_id="class-case")
        scan_viewer = viewer.scan_viewer(host.ctx, "class-viewer")
        answer = gr.Textbox(lines=2, elem_id="class-answer", **t["answer"])
        submit = gr.Button(variant="primary", interactive=False, elem_id="class-submit", **t["submit"])
        result = gr.Markdown(elem_id="class-result")
        with gr.Column(visible=False, elem_id="class-follow-up") as follow_up:
            chat = gr.Chatbot(height=300, elem_id="class-chat", feedback_options=None, **t["chat"])
            with gr.Row(equal_height=True):
                question = gr.Textbox(elem_id="class-question", scale=4, **t["question"])
                ask = gr.Button(elem_id="class-ask", scale=1, **t["ask"])
        timer = gr.Timer(FOLLOW_SECONDS)
    return ClassHandles(state, language, title, code, name, join, joined, remembered, viewer_state, case_line,
                        scan_viewer, answer, submit,
                        result, follow_up, chat, question, ask, timer)


# ---- what the page shows ----

def question_text(case: CaseRecord, _: Translate) -> str:
    """The case's question in the resident's language (the teacher's own words as typed)."""
    task = Task(case.task)
    if task is Task.TEXT_TO_REGION:
        return _("Mark: {objects}", objects=case.question)
    if task is Task.REGION_TO_TEXT:
        return _("What is in the marked box?") + (f" {case.question}" if case.question else "")
    if task is Task.REPORT:
        return _("Write the report of this picture.") + (f" {case.question}" if case.question else "")
    return case.question


def case_line(session: SessionRecord, case: CaseRecord, _: Translate) -> str:
    position = _("Case {number} of {count}", number=session.current + 1, count=len(session.case_ids))
    return f"### {position}\n{html.escape(question_text(case, _), quote=False)}"


def locked_boxes(case: CaseRecord, after: bool) -> list[dict[str, Any]]:
    """Boxes the viewer draws locked: the box a question is about; after the submit (or the
    teacher's reveal) also the reference and the model's boxes."""
    view, (width, height) = case.view, case.picture_size
    place = {"plane": view["plane"], "slice": view["slice"], "frame": view["frame"]}
    shown = case.reference_boxes if after else case.shown_boxes
    boxes = [{"region": -1, "tag": "R", "label": b.label, "color": palette_hex(REFERENCE_COLOUR),
              **viewer.box_json(b.box), **place} for b in shown]
    if after and case.model_answer:
        for region in parse_answer(case.model_answer).regions:
            boxes += [{"region": -1, "tag": "M", "label": region.name or "", "color": palette_hex(MODEL_COLOUR),
                       **viewer.box_json(b), **place}
                      for b in region.pixel_boxes(width, height)]
    return boxes


def viewer_update(resident: Resident, case: CaseRecord, push: bool) -> dict[str, Any]:
    value = viewer.viewer_value(resident.view, push_view=push, push_boxes=push)
    value["modelBoxes"] = locked_boxes(case, resident.scored is not None or resident.revealed)
    return value


def score_lines(scored: Scored, case: CaseRecord, _: Translate) -> list[str]:
    lines = []
    for number, (box, value) in enumerate(zip(scored.boxes, scored.ious), start=1):
        verdict = _("hit") if value >= HIT_IOU else _("miss")
        name = box.label or _("your box {number}", number=number)
        lines.append("- " + _("{box}: IoU {iou} with the matching reference box ({verdict})",
                              box=html.escape(name), iou=f"{value:.2f}", verdict=verdict))
    if case.scores_boxes and not scored.boxes:
        lines.append("- " + _("No box marked."))
    lines.append("- " + _("Time from the case shown to your submit: {seconds} s", seconds=f"{scored.seconds:.0f}"))
    return lines


def result_text(resident: Resident, case: CaseRecord, _: Translate) -> str:
    """The score, the reference and the model's answer: only after the submit or the reveal."""
    if resident.scored is None and not resident.revealed:
        return ""
    parts = []
    if resident.scored is not None:
        parts += ["#### " + _("Your score"), *score_lines(resident.scored, case, _), ""]
    else:
        parts += ["#### " + _("The teacher has shown the answer."), ""]
    reference = ", ".join(html.escape(b.label or _("reference box")) for b in case.reference_boxes)
    parts += ["#### " + _("Teacher's reference"),
              *([_("Boxes (green, R): {names}", names=reference), ""] if case.reference_boxes else []),
              html.escape(case.reference_answer) if case.reference_answer else _("No reference text."), ""]
    parts += ["#### " + _("Model's answer"),
              answer_html(case.model_answer) + "\n\n" + _("(its boxes: M)") if case.model_answer
              else _("The model was not asked about this case; you may ask it below.")]
    return "\n".join(parts)


def page_updates(h: ClassHandles, host: TeachingHost, resident: Resident, session: SessionRecord, push: bool
                 ) -> dict[Any, Any]:
    """Everything the page shows of the resident's case; ``push`` resets the viewer to the case's view."""
    _ = translator(resident.lang)
    case = host.store.case(resident.case_id)
    done = resident.scored is not None
    closed = done or resident.revealed
    updates = {h.case_line: case_line(session, case, _), h.viewer: viewer_update(resident, case, push),
               h.result: result_text(resident, case, _), h.submit: gr.update(interactive=not closed),
               h.follow_up: gr.update(visible=closed), h.joined: f"{resident.code}\n{resident.name}"}
    if push:
        updates |= {h.answer: gr.update(value=resident.scored.answer if done else "", interactive=not closed),
                    h.chat: [], h.question: ""}
    else:
        updates[h.answer] = gr.update(interactive=not closed)
    return updates


def show_case(host: TeachingHost, resident: Resident, session: SessionRecord) -> None:
    """Put the session's current case on the resident's page (and start its clock)."""
    case_id = session.current_case_id
    host.store.shown(resident.code, resident.name, case_id)
    scan = host.store.scan(case_id)
    case = host.store.case(case_id)
    viewer.adopt_scan(resident.view, host.ctx, scan, parse_view(scan, case.view))
    resident.case_id, resident.revealed = case_id, session.is_revealed
    resident.scored = host.store.answer_of(resident.code, resident.name, case_id)


def submitted_boxes(reported: dict[str, Any] | None, resident: Resident, case: CaseRecord) -> list[dict[str, Any]]:
    """The boxes the viewer shows, as ``{xmin, ymin, xmax, ymax, label}``, checked to be on the case's picture."""
    if not reported or reported.get("scanKey") != resident.view.scan_token:
        return []
    boxes = [viewer.user_box_json(u) for u in viewer.user_boxes_of(reported.get("boxes"))]
    here = (str(reported.get("plane")), int(reported.get("slice") or 0), int(reported.get("frame") or 0))
    if boxes and here != (case.view["plane"], case.view["slice"], case.view["frame"]):
        raise CaseError(N_("Your boxes are on another picture: go back to slice {slice} (the case's picture) "
                           "and submit again."), slice=case.view["slice"] + 1)
    return boxes


# ---- events ----

def wire_class_page(h: ClassHandles, host: TeachingHost, demo: gr.Blocks) -> None:
    store = host.store
    outputs = [h.case_line, h.viewer, h.result, h.submit, h.follow_up, h.joined, h.answer, h.chat, h.question]

    def on_join(code: str, name: str, resident: Resident) -> dict[Any, Any]:
        try:
            session, _case = store.join(code, name)
            resident.code, resident.name = session.code, " ".join(str(name).split())
            show_case(host, resident, session)
        except MedRegAError as error:
            raise user_error(error, resident.lang) from None
        return {**page_updates(h, host, resident, session, push=True),
                h.remembered: {"code": resident.code, "name": resident.name}}

    def on_load(remembered: dict[str, str] | None, resident: Resident, request: gr.Request) -> dict[Any, Any]:
        """The link's code; and when this browser joined that session before, the resident's case."""
        linked = clean_code(request.query_params.get("code"))[:12]
        known = remembered or {}
        if not known.get("code") or (linked and linked != known["code"]):
            return {**unchanged(outputs), h.code: linked, h.name: gr.skip(), h.remembered: gr.skip()}
        try:
            return {**on_join(known["code"], known.get("name", ""), resident), h.code: known["code"],
                    h.name: known.get("name", "")}
        except gr.Error:
            return {**unchanged(outputs), h.code: linked, h.name: gr.skip(), h.remembered: gr.skip()}

    def on_tick(joined: str, resident: Resident) -> dict[Any, Any]:
        if not resident.code:
            if "\n" not in (joined or ""):
                return unchanged(outputs)
            resident.code, resident.name = joined.split("\n", 1)  # the app restarted: the page still knows
        try:
            session = store.session(resident.code)
            if resident.case_id != session.current_case_id or resident.view.scan is None:
                show_case(host, resident, session)
                return page_updates(h, host, resident, session, push=True)
            if session.is_revealed and not resident.revealed:
                resident.revealed = True
                return page_updates(h, host, resident, session, push=False)
        except MedRegAError:
            pass  # the next tick tries again; the page keeps what it shows
        return unchanged(outputs)

    def on_submit(reported: dict[str, Any] | None, text: str, resident: Resident) -> dict[Any, Any]:
        if resident.case_id is None:
            raise plain_error(N_("Join a session first."), resident.lang)
        try:
            case = store.case(resident.case_id)
            boxes = submitted_boxes(reported, resident, case)
            resident.scored = store.submit(resident.code, resident.name, boxes, text, case_id=case.id)
            session = store.session(resident.code)
        except MedRegAError as error:
            raise user_error(error, resident.lang) from None
        return page_updates(h, host, resident, session, push=False)

    def on_ask(question: str, resident: Resident) -> Iterator[dict[Any, Any]]:
        if resident.case_id is None or (resident.scored is None and not resident.revealed):
            raise plain_error(N_("Submit your answer first."), resident.lang)
        if not (question or "").strip():
            raise plain_error(N_("Type a question first."), resident.lang)
        session = resident.view
        try:
            session.engine, session.runner = host.ctx.host.require(), host.runner
            continue_from_model_answer(session, store.case(resident.case_id))
            shown = chat_messages(resident) + [{"role": "user", "content": html.escape(question.strip())}]
            for update in session.ask(Task.FREE, question=question.strip()):
                yield {h.chat: shown + [{"role": "assistant", "content": answer_html(update.text)}], h.question: ""}
        except MedRegAError as error:
            raise user_error(error, resident.lang) from None
        yield {h.chat: chat_messages(resident)}

    def on_language(lang: str, resident: Resident) -> dict[Any, Any]:
        resident.view.lang = normalize_language(lang)
        _ = translator(resident.lang)
        updates = relabel(h, texts(_))
        if resident.case_id is not None:
            session = store.session(resident.code)
            updates = merge_updates(updates, page_updates(h, host, resident, session, push=False))
        return updates

    def on_viewer_change(resident: Resident, evt: gr.EventData) -> None:
        follow_viewer(resident.view, evt)

    # A class's events are short database calls: none waits in Gradio's queue (bounded by --max-queue)
    # behind another, so a class of 30 that submits at once is never told "queue full".
    now = {"concurrency_limit": None}
    h.join.click(on_join, [h.code, h.name, h.state], [*outputs, h.remembered], api_name=False, **now,
                 show_progress_on=[h.viewer])
    demo.load(on_load, [h.remembered, h.state], [*outputs, h.code, h.name, h.remembered], api_name=False, **now)
    h.timer.tick(on_tick, [h.joined, h.state], outputs, api_name=False, show_progress="hidden", **now)
    h.submit.click(on_submit, [h.viewer_state, h.answer, h.state], outputs, api_name=False, **now,
                   js=viewer.WITH_VIEWER_STATE_JS,
                   show_progress_on=[h.result])
    h.ask.click(on_ask, [h.question, h.state], [h.chat, h.question], api_name=False,
                concurrency_id=MODEL_CONCURRENCY_ID, concurrency_limit=host.ctx.host.concurrency_limit)
    keep_language(demo, h.language, host, "medrega-class-language")
    h.language.change(on_language, [h.language, h.state], [*outputs, *(getattr(h, k) for k in texts(str))],
                      api_name=False, js=SWITCH_GRADIO_LOCALE_JS, show_progress="hidden")
    h.viewer.viewer_change(on_viewer_change, [h.state], None, api_name=False, show_progress="hidden",
                           trigger_mode="always_last")
    wire_class_api(host)


def chat_messages(resident: Resident) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for exchange in resident.view.exchanges:
        if not exchange.answer:
            continue  # the question being answered: shown by the caller as it streams
        asked = exchange.prompt.replace("<image>", "").strip()
        out += [{"role": "user", "content": html.escape(asked)},
                {"role": "assistant", "content": answer_html(exchange.answer)}]
    return out


# ---- the scripts' endpoints ----

def wire_class_api(host: TeachingHost) -> None:
    """``/class_join``, ``/class_submit`` and ``/class_ask`` for scripts (hidden widgets; JSON in and out)."""
    store = host.store
    code, name, answer = gr.Textbox(visible=False), gr.Textbox(visible=False), gr.Textbox(visible=False)
    boxes, out = gr.JSON(visible=False), gr.JSON(visible=False)
    join_button, submit_button, ask_button = (gr.Button(visible=False) for _ in range(3))

    def api_join(code: str, name: str) -> dict[str, Any]:
        try:
            session, case = store.join(code, name)
        except MedRegAError as error:
            raise user_error(error, "en") from None
        return {"code": session.code, "case": case.public(), "number": session.current + 1,
                "count": len(session.case_ids)}

    def api_submit(code: str, name: str, boxes: Any, answer: str) -> dict[str, Any]:
        try:
            scored = store.submit(code, name, boxes, answer)
            case = store.case(scored.case_id)
        except MedRegAError as error:
            raise user_error(error, "en") from None
        return {"case_id": case.id, "iou": list(scored.ious), "hit": list(scored.hits), "seconds": scored.seconds,
                "boxes": [b.to_dict() for b in scored.boxes],
                "reference_boxes": [b.to_dict() for b in case.reference_boxes],
                "reference_answer": case.reference_answer, "model_answer": case.model_answer}

    def api_ask(code: str, name: str, question: str) -> Iterator[dict[str, Any]]:
        """A resident's follow-up about the session's current case, after their submit (or the reveal):
        a new conversation each call, continuing the stored model answer as the page's first one does."""
        try:
            session = store.session(code)
            case = store.case(session.current_case_id)
            if store.answer_of(code, name, case.id) is None and not session.is_revealed:
                raise CaseError(N_("Submit your answer first."))
            if not (question or "").strip():
                raise CaseError(N_("Type a question first."))
            asking = case_session(store, case, host.ctx.host.require(), host.runner, lang="en")
            continue_from_model_answer(asking, case)
            for update in asking.ask(Task.FREE, question=question.strip()):
                yield {"case_id": case.id, "question": question.strip(), "answer": update.text}
        except MedRegAError as error:
            raise user_error(error, "en") from None

    join_button.click(api_join, [code, name], out, api_name="class_join", concurrency_limit=None)
    submit_button.click(api_submit, [code, name, boxes, answer], out, api_name="class_submit", concurrency_limit=None)
    # Follow-ups wait for the model with everyone else's questions (the page's Ask button's group).
    ask_button.click(api_ask, [code, name, answer], out, api_name="class_ask", concurrency_id=MODEL_CONCURRENCY_ID,
                     concurrency_limit=host.ctx.host.concurrency_limit)
