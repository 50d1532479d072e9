"""The model's part in a class: a case's questions go to the engine through a :class:`Session`.

The teacher's "let the model answer now" and a resident's follow-ups ask the same way as the main
page does (render what is shown, build the prompt, fit the history, parse), whichever engine answers
(the in-process model or a vLLM server).
"""

from __future__ import annotations

from medrega_core.engine.base import Engine, stream_answer
from medrega_core.intake import Rendering, render
from medrega_core.session import Exchange, Session, StreamRunner
from medrega_core.teaching.cases import case_request, parse_view
from medrega_core.teaching.store import CaseRecord, TeachingStore


def case_rendering(store: TeachingStore, case: CaseRecord) -> Rendering:
    """The picture of the case's view, as the residents first see it and the model is sent."""
    scan = store.scan(case.id)
    return render(scan, parse_view(scan, case.view))


def case_session(store: TeachingStore, case: CaseRecord, engine: Engine, runner: StreamRunner = stream_answer,
                 lang: str | None = None) -> Session:
    """A session on the case's picture as residents first see it (``lang``: the case's by default)."""
    scan = store.scan(case.id)
    session = Session(engine=engine, lang=lang or case.lang, runner=runner)
    session.show_scan(scan, view=parse_view(scan, case.view))
    return session


def answer_case(store: TeachingStore, case_id: int, engine: Engine, runner: StreamRunner = stream_answer) -> str:
    """Let the model answer the case's question on the case's picture now; the answer is stored with
    the case (so the class does not wait for it) and returned."""
    case = store.case(case_id)
    session = case_session(store, case, engine, runner)
    text = ""
    for update in session.ask_request(case_request(case.task, case.question, list(case.reference_boxes),
                                                   case.picture_size, case.lang)):
        text = update.text
    store.set_model_answer(case_id, text)
    return text


def continue_from_model_answer(session: Session, case: CaseRecord) -> None:
    """Start ``session``'s conversation with the model's stored answer to the case (asked about the
    case's picture), so that a resident's questions are follow-ups of it; nothing without one."""
    if session.exchanges or not case.model_answer or session.scan is None:
        return
    rendering = render(session.scan, parse_view(session.scan, case.view))
    session.exchanges.append(Exchange(task=case.task, prompt=case.prompt, answer=case.model_answer,
                                      rendering=rendering))
