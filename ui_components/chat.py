"""Chat panel: ask, stream the answer with history, stop; region names coloured like their boxes.

The ask handler is an adapter: the viewer's report and the task widgets go to the session
(:meth:`medrega_core.session.Session.ask`), which renders the view, builds the prompt, streams the
answer and parses it; the panel shows each update, redrawing the viewer and the table when a new
box arrives, and saves the answer's picture when it is done.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from typing import Any, Iterator

import gradio as gr

from medrega_core.engine.results import DROPPED_TURNS_NOTE
from medrega_core.errors import MedRegAError
from medrega_core.i18n import translator
from medrega_core.render import palette_hex
from medrega_core.tasks import TASK_TITLES, Task, answer_segments, parse_answer
from ui_components import regions as regions_panel
from ui_components import task_panel, viewer
from ui_components.context import MODEL_CONCURRENCY_ID, AppContext
from ui_components.labels import Texts, Translate, user_error
from ui_components.links import PageLinks
from ui_components.state import Exchange, SessionState

#: The shortest time between two streamed updates: a browser redraws the chat in tens of ms, so
#: sending every token makes it fall behind the model (issue 10: 3 s of generation shown in 8 s).
STREAM_INTERVAL_SECONDS = 0.08


@dataclass(frozen=True)
class ChatHandles:
    chatbot: gr.Chatbot
    answer: gr.HighlightedText
    ask: gr.Button
    stop: gr.Button
    new_chat: gr.Button
    speed: gr.Markdown


#: Gradio draws a "share" button on every picture in a chat whatever its options, and sharing works on
#: Hugging Face Spaces alone ("Must be on Spaces to share"): hidden, in both of its languages.
CHAT_CSS = " #chat button[aria-label='Share'], #chat button[aria-label='分享'] {display: none}"


def texts(_: Translate, state: SessionState | None = None) -> Texts:
    return {
        "chatbot": {"label": _("Conversation")},
        "answer": {"label": _("Latest answer, region names coloured like their boxes")},
        "ask": {"value": _("Ask")},
        "stop": {"value": _("Stop")},
        "new_chat": {"value": _("New conversation")},
        "speed": {"value": last_speed(state, _)},
    }


def create_chat(ctx: AppContext) -> ChatHandles:
    t = texts(lambda m, **p: m)
    # No "share" button: it works on Hugging Face Spaces alone (the pictures' own: CHAT_CSS).
    chatbot = gr.Chatbot(height=360, elem_id="chat", feedback_options=None, buttons=["copy", "copy_all"], **t["chatbot"])
    # The buttons sit right under the fixed-height chat, above the answer that grows as it streams,
    # so Stop stays where it was.
    with gr.Row():
        ask = gr.Button(variant="primary", elem_id="ask", **t["ask"])
        stop = gr.Button(variant="stop", elem_id="stop", **t["stop"])
        new_chat = gr.Button(elem_id="new-chat", **t["new_chat"])
    speed = gr.Markdown(elem_id="speed", **t["speed"])
    answer = gr.HighlightedText(show_legend=False, show_inline_category=False, elem_id="answer", **t["answer"])
    return ChatHandles(chatbot, answer, ask, stop, new_chat, speed)


def answer_html(answer: str) -> str:
    """An answer as the chat shows it: region names in their boxes' colours, each box list as its
    region's tag ``[n]``, no ``<ref>``/``<box>`` markup; every other character shown as text."""
    pieces = []
    for segment in answer_segments(parse_answer(answer)):
        text = html.escape(segment.text, quote=False)
        if segment.region_index is not None:
            text = f'<span style="color: {palette_hex(segment.region_index)}; font-weight: 600">{text}</span>'
        pieces.append(text)
    return "".join(pieces)


def asked_html(exchange: Exchange, _: Translate) -> str:
    """The user's turn in the chat: what was asked in plain words, the exact prompt one click away."""
    return (f"{html.escape(exchange.asked, quote=False)}\n\n<details><summary>{_('Exact prompt')}</summary>\n\n"
            f"<pre><code>{html.escape(exchange.prompt, quote=False)}</code></pre></details>")


def messages(state: SessionState) -> list[dict[str, Any]]:
    """The conversation in Gradio's messages format: what was asked, the answer with its regions
    coloured and, once finished, the picture it was about with its boxes drawn."""
    _ = translator(state.lang)
    out: list[dict[str, Any]] = []
    for exchange in state.exchanges:
        out.append({"role": "user", "content": asked_html(exchange, _)})
        if exchange.answer:
            out.append({"role": "assistant", "content": answer_html(exchange.answer)})
        if exchange.dropped_turns:
            out.append({"role": "assistant", "content": "*" + _(DROPPED_TURNS_NOTE, count=exchange.dropped_turns) + "*"})
        if exchange.picture:
            out.append({"role": "assistant", "content": {"path": exchange.picture}})
    return out


def asked_words(state: SessionState, task_id: str, question: str, objects: str, candidates: str,
                _: Translate) -> str:
    """What the user asked in plain words: the task, its question or objects, and the box asked about."""
    about = task_panel.asked_about(state, task_id, _)
    parts = [_(TASK_TITLES[Task(task_id)]), (question or "").strip(), (objects or "").strip(), (candidates or "").strip(),
             _("about {box}", box=about) if about else ""]
    return " · ".join(p for p in parts if p)


def coloured_answer(state: SessionState) -> dict[str, Any] | None:
    """HighlightedText value: the latest answer's segments, each region name in its box's colour."""
    if state.parsed is None:
        return None
    segments = [(s.text, None if s.region_index is None else str(s.region_index + 1))
                for s in answer_segments(state.parsed)]
    colours = {str(i + 1): palette_hex(i) for i in range(len(state.parsed.regions))}
    return gr.update(value=segments, color_map=colours)


def cleared(h: ChatHandles, state: SessionState) -> dict[Any, Any]:
    """Chat widgets showing the session's conversation (empty after a new scan)."""
    return {h.chatbot: messages(state), h.answer: coloured_answer(state), h.speed: ""}


def cleared_outputs(h: ChatHandles) -> set[Any]:
    return {h.chatbot, h.answer, h.speed}


def last_speed(state: SessionState | None, _: Translate) -> str:
    """The speed line of the latest finished answer, in the language of ``_``."""
    exchange = state.exchanges[-1] if state is not None and state.exchanges else None
    return speed_text(*exchange.speed, _) if exchange is not None and exchange.speed else ""


def speed_text(tokens: int, seconds: float, _: Translate) -> str:
    """Generated tokens (``<|im_end|>`` included), model time in seconds and their rate; empty without either."""
    if not tokens or seconds <= 0:
        return ""
    return _("{tokens} tokens in {seconds} s ({rate} tokens/s)", tokens=tokens, seconds=f"{seconds:.1f}",
             rate=f"{tokens / seconds:.1f}")


def wire_chat(h: ChatHandles, ctx: AppContext, links: PageLinks) -> list[Any]:
    """Wire ask, stop and new conversation; returns the events after which the prompt must be rebuilt
    (a follow-up's prompt has no ``<image>``)."""
    def ask(viewer_state: dict[str, Any] | None, state: SessionState, prompt: str, task: str,
            variant: str | None, question: str, objects: str, candidates: str, modality: str) -> Iterator[dict[Any, Any]]:
        # The parameter names are the /ask endpoint's (docs/APP.md); the viewer's report comes first.
        _ = translator(state.lang)
        try:
            state.engine = ctx.host.require()
            viewer.adopt_viewer_state(state, viewer_state)
            answer = state.ask(task, question=question or "", objects=objects or "", candidates=candidates or "",
                               modality=modality or "", variant=variant or "", box=task_panel.region_box(state),
                               prompt=prompt or "", asked=asked_words(state, task, question, objects, candidates, _))
        except MedRegAError as error:
            raise user_error(error, state.lang) from None
        state.selected_region = None  # it indexes the previous answer's regions, which this one replaces
        boxes_shown, shown_at = -1, 0.0
        try:
            for update in answer:
                if update.done:
                    break
                now = time.monotonic()
                if now - shown_at < STREAM_INTERVAL_SECONDS:
                    continue  # the browser cannot draw faster; the final update carries the whole answer
                shown_at = now
                box_count = len(update.answer.boxes)
                # The viewer and the table change only when a box arrives.
                yield answer_updates(state, boxes=box_count != boxes_shown)
                boxes_shown = box_count
        except MedRegAError as error:
            raise user_error(error, state.lang) from None
        regions_panel.save_answer_picture(state, state.exchanges[-1], ctx)
        yield {**answer_updates(state, boxes=True), h.speed: last_speed(state, _)}

    def answer_updates(state: SessionState, boxes: bool) -> dict[Any, Any]:
        updates = {h.chatbot: messages(state), h.answer: coloured_answer(state)}
        return {**updates, **links.picture_updates(state)} if boxes else updates

    def stop(state: SessionState) -> None:
        state.stop()

    def new_chat(state: SessionState) -> dict[Any, Any]:
        state.new_conversation()
        return {**cleared(h, state), **links.picture_updates(state)}

    outputs = {h.chatbot, h.answer, h.speed, *links.picture_outputs}
    # Ask is inactive from the click until the prompt shown is the follow-up's (after an answer, an error
    # or Stop). The browser switches the button itself, at once: a double-click cannot slip in between.
    # The keyboard (Shift+Enter in the question) is not stopped by the button: trigger_mode "once" on
    # the answer's event drops its triggers while an answer runs.
    ask_locked = gr.on([h.ask.click, links.task.question.submit], None, None, None, js=ask_usable_js(False),
                       queue=False, api_name=False, show_progress="hidden")
    ask_event = ask_locked.then(ask, [links.viewer_state, links.state, links.task.prompt, *links.task.inputs], outputs,
                      js=viewer.WITH_VIEWER_STATE_JS, api_name="ask", concurrency_limit=ctx.host.concurrency_limit,
                      concurrency_id=MODEL_CONCURRENCY_ID, trigger_mode="once",
                      show_progress_on=[h.chatbot])  # queue position and errors on the chat, not the picture
    for event in (ask_event, h.stop.click(stop, [links.state], None, api_name="stop", cancels=[ask_event], queue=False)):
        links.refresh_prompt(event).then(None, None, None, js=ask_usable_js(True), api_name=False,
                                         show_progress="hidden")
    # After an error Gradio's front end runs no further step of the chain, but it runs .failure.
    ask_event.failure(None, None, None, js=ask_usable_js(True), api_name=False, show_progress="hidden")
    new_chat_event = h.new_chat.click(new_chat, [links.state], outputs, api_name="new_chat")
    # The chat's own trash icon forgets the conversation too, not just what is shown of it.
    cleared_event = h.chatbot.clear(new_chat, [links.state], outputs, api_name=False)
    return [new_chat_event, cleared_event]


def ask_usable_js(usable: bool) -> str:
    """Browser code that makes the Ask button usable or not."""
    return f"() => {{ const ask = document.querySelector('#ask'); if (ask) ask.disabled = {str(not usable).lower()}; }}"
