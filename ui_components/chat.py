"""Chat panel: ask, stream the answer with history, stop; region names coloured like their boxes.

The ask handler is an adapter: widgets -> :class:`TaskRequest` -> exact prompt -> one streaming
engine call; each partial answer is parsed by :func:`medrega_core.tasks.parse_answer` and the
annotated picture is redrawn when a new box arrives.
"""

from __future__ import annotations

import html
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

import gradio as gr
from PIL import Image

from medrega_core.engine.results import DROPPED_TURNS_NOTE
from medrega_core.errors import N_, MedRegAError
from medrega_core.i18n import translator
from medrega_core.render import palette_hex
from medrega_core.tasks import TASK_TITLES, Task, answer_segments, build_prompt, parse_answer
from ui_components import regions as regions_panel
from ui_components import task_panel, viewer
from ui_components.context import MODEL_CONCURRENCY_ID, AppContext
from ui_components.labels import Texts, Translate, plain_error, user_error
from ui_components.state import Exchange, SessionState

#: The shortest time between two streamed updates: a browser redraws the chat in tens of ms, so
#: sending every token makes it fall behind the model (issue 10: 3 s of generation shown in 8 s).
STREAM_INTERVAL_SECONDS = 0.08

if TYPE_CHECKING:  # the engine (torch) is imported only when the model loads
    from medrega_core.engine import GenerationResult


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


def wire_chat(page: Any, ctx: AppContext) -> list[Any]:
    """Wire ask, stop and new conversation; returns the events after which the prompt must be rebuilt
    (a follow-up's prompt has no ``<image>``)."""
    h, task, viewer_h = page.chat, page.task, page.viewer
    stream_on_gpu = ctx.on_gpu(stream_answer)

    def ask(reported: dict[str, Any] | None, state: SessionState, prompt_text: str, task_id: str,
            variant: str | None, question: str, objects: str, candidates: str, modality: str) -> Iterator[dict[Any, Any]]:
        values = (task_id, variant, question, objects, candidates, modality)
        _ = translator(state.lang)
        try:
            engine = ctx.host.require()
            if state.scan is None:
                raise plain_error(N_("Load a scan first."), state.lang)
            viewer.adopt_viewer_state(state, reported)
            rendering = viewer.render_for_model(state)
            request = task_panel.request_from_widgets(state, *values)
            prompt = chosen_prompt(state, request, (prompt_text or "").strip())
        except MedRegAError as error:
            raise user_error(error, state.lang) from None
        history = state.history
        exchange = Exchange(task=task_id, prompt=prompt, rendering=rendering, user_boxes=tuple(state.user_boxes),
                            measurements=tuple(state.measurements), asked=asked_words(state, task_id, question, objects, candidates, _))
        state.selected_region = None  # it indexes the previous answer's regions, which this one replaces
        state.parsed = None
        state.exchanges.append(exchange)
        state.cancel = cancel = threading.Event()
        image = Image.fromarray(rendering.rgb)
        boxes_shown, finished, shown_at = -1, None, 0.0
        try:
            for text, finished in stream_on_gpu(engine, image, prompt, history, cancel):
                if finished is not None:
                    break  # its text is the last one streamed
                exchange.answer = text
                now = time.monotonic()
                if now - shown_at < STREAM_INTERVAL_SECONDS:
                    continue  # the browser cannot draw faster; the final update carries the whole answer
                shown_at = now
                state.parsed = parse_answer(text)
                box_count = len(state.parsed.boxes)
                # The viewer and the table change only when a box arrives.
                yield answer_updates(state, boxes=box_count != boxes_shown)
                boxes_shown = box_count
        except MedRegAError as error:
            state.exchanges.remove(exchange)
            raise user_error(error, state.lang) from None
        finally:
            cancel.set()
        exchange.answer = finished.text  # the stream always ends with its result
        state.parsed = parse_answer(exchange.answer)
        regions_panel.save_answer_picture(state, exchange, ctx)
        exchange.speed = (len(finished.output_ids), finished.seconds)
        exchange.dropped_turns = finished.dropped_turns
        yield {**answer_updates(state, boxes=True), h.speed: last_speed(state, _)}

    def answer_updates(state: SessionState, boxes: bool) -> dict[Any, Any]:
        updates = {h.chatbot: messages(state), h.answer: coloured_answer(state)}
        return {**updates, **page.picture_updates(state)} if boxes else updates

    def stop(state: SessionState) -> None:
        if state.cancel is not None:
            state.cancel.set()

    def new_chat(state: SessionState) -> dict[Any, Any]:
        state.exchanges, state.parsed, state.selected_region = [], None, None
        return {**cleared(h, state), **page.picture_updates(state)}

    outputs = {h.chatbot, h.answer, h.speed, *page.picture_outputs()}
    # Ask is inactive from the click until the prompt shown is the follow-up's (after an answer, an error
    # or Stop). The browser switches the button itself, at once: a double-click cannot slip in between.
    # The keyboard (Shift+Enter in the question) is not stopped by the button: trigger_mode "once" on
    # the answer's event drops its triggers while an answer runs.
    ask_locked = gr.on([h.ask.click, task.question.submit], None, None, None, js=ask_usable_js(False),
                       queue=False, api_name=False, show_progress="hidden")
    ask_event = ask_locked.then(ask, [viewer_h.viewer_state, page.state, task.prompt, *task.inputs], outputs,
                      js=viewer.WITH_VIEWER_STATE_JS, api_name="ask", concurrency_limit=ctx.host.concurrency_limit,
                      concurrency_id=MODEL_CONCURRENCY_ID, trigger_mode="once",
                      show_progress_on=[h.chatbot])  # queue position and errors on the chat, not the picture
    for event in (ask_event, h.stop.click(stop, [page.state], None, api_name="stop", cancels=[ask_event], queue=False)):
        page.refresh_prompt(event).then(None, None, None, js=ask_usable_js(True), api_name=False,
                                        show_progress="hidden")
    # After an error Gradio's front end runs no further step of the chain, but it runs .failure.
    ask_event.failure(None, None, None, js=ask_usable_js(True), api_name=False, show_progress="hidden")
    new_chat_event = h.new_chat.click(new_chat, [page.state], outputs, api_name="new_chat")
    # The chat's own trash icon forgets the conversation too, not just what is shown of it.
    cleared_event = h.chatbot.clear(new_chat, [page.state], outputs, api_name=False)
    return [new_chat_event, cleared_event]


def ask_usable_js(usable: bool) -> str:
    """Browser code that makes the Ask button usable or not."""
    return f"() => {{ const ask = document.querySelector('#ask'); if (ask) ask.disabled = {str(not usable).lower()}; }}"


def chosen_prompt(state: SessionState, request: Any, shown: str) -> str:
    """The prompt to send: the text shown (experts may edit it), unless it is the first question's
    prompt left over from before an answer arrived, which a follow-up must not repeat."""
    if not shown or (state.history and shown == build_prompt(request)):
        return task_panel.prompt_for(state, request)
    return shown


def stream_answer(engine: Any, image: Image.Image, prompt: str, history: list[tuple[str, str]],
            cancel: threading.Event) -> Iterator[tuple[str, GenerationResult | None]]:
    """The one GPU function (``spaces.GPU`` wraps it on ZeroGPU): the engine's growing answer as
    ``(text, None)``, then ``(text, result)`` once finished. The result travels in the stream, not
    through a callback, because on ZeroGPU this function runs in another process."""
    finished: list[GenerationResult] = []
    for text in engine.stream(image, prompt, history, cancel=cancel, on_finish=finished.append):
        yield text, None
    yield finished[0].text, finished[0]
