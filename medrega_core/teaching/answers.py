"""The model's part in a class: the one place a case's picture and prompt go to the engine.

``stream_answer`` takes any engine with the workbench's ``stream(image, user_text, history)``
(the in-process model or the vLLM server client); the UI never calls the engine itself.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from PIL import Image

from medrega_core.intake import Rendering, render
from medrega_core.tasks import Task, TaskRequest, build_follow_up_prompt, build_prompt
from medrega_core.teaching.cases import parse_view
from medrega_core.teaching.store import CaseRecord, TeachingStore


def case_rendering(store: TeachingStore, case: CaseRecord) -> Rendering:
    """The picture of the case's view, as the residents first see it and the model is sent."""
    scan = store.scan(case.id)
    return render(scan, parse_view(scan, case.view))


def stream_answer(engine: Any, rendering: Rendering, prompt: str,
                  history: Sequence[tuple[str, str]] = ()) -> Iterator[str]:
    """The answer so far as it grows (``engine.stream`` on the rendered picture)."""
    yield from engine.stream(Image.fromarray(rendering.rgb), prompt, list(history))


def follow_up(case: CaseRecord, question: str, lang: str, conversation: Sequence[tuple[str, str]] = ()
              ) -> tuple[list[tuple[str, str]], str]:
    """A resident's own question about ``case``: the conversation it continues (the resident's earlier
    follow-ups, else the stored model answer's turn) and its prompt (with ``<image>`` on a first turn)."""
    history = list(conversation) or ([(case.prompt, case.model_answer)] if case.model_answer else [])
    request = TaskRequest(task=Task.FREE, lang=lang, question=question.strip())
    return history, build_follow_up_prompt(request) if history else build_prompt(request)
