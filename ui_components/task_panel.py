"""Task panel: every MedRegA task in the chosen language, its inputs, and the exact prompt.

The prompt box always shows what will be sent; experts may edit it, and the edited text is sent
as is. Requests and prompt text come from the session (:meth:`medrega_core.session.Session.request`,
:meth:`~medrega_core.session.Session.prompt_for`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import gradio as gr

from medrega_core.errors import N_, MedRegAError
from medrega_core.i18n import translator
from medrega_core.session import prompt_language
from medrega_core.tasks import PRESETS_BY_KEY, TASK_TITLES, PixelBox, Task, TaskRequest, task_variants
from ui_components.context import AppContext
from ui_components.labels import Texts, Translate
from ui_components.state import SessionState

LANGUAGE_NAMES = {"en": N_("English"), "zh": N_("Chinese")}
#: DICOM Modality codes of the scans each trained modality phrase describes (others: no judgement).
MODALITY_CODES = {
    "chest x-ray": {"CR", "DX", "DR", "RG"}, "x-ray": {"CR", "DX", "DR", "RG", "RF"},
    "spine x-ray": {"CR", "DX", "DR", "RG"}, "ct": {"CT"}, "mri": {"MR"}, "oct": {"OPT", "OCT"},
    "mammography": {"MG"},
}
#: English prompts whose fixed text names the modality they were trained on (spec A.3, A.8).
TRAINED_MODALITY = {Task.REPORT.value: "chest x-ray", Task.GROUNDED_REPORT.value: "chest x-ray"}

#: Tasks whose prompt carries a box of the user (or of the answer's region clicked on).
BOX_TASKS = frozenset({Task.REGION_TO_TEXT.value})


@dataclass(frozen=True)
class TaskHandles:
    task: gr.Dropdown
    variant: gr.Dropdown
    question: gr.Textbox
    objects: gr.Textbox
    candidates: gr.Textbox
    modality: gr.Textbox
    note: gr.Markdown
    prompt: gr.Textbox

    @property
    def inputs(self) -> list[gr.components.Component]:
        """The widgets a request is built from, in the order :func:`request_from_widgets` takes them."""
        return [self.task, self.variant, self.question, self.objects, self.candidates, self.modality]


#: Prompt variant ids of the tasks layer -> English label (msgid); candidate-list presets use their title.
VARIANT_LABELS = {
    "demo": N_("Standard"),
    "short": N_("Short answer"),
    "plain": N_("Plain question"),
    "options": N_("Question with options"),
    "mimic-cxr": N_("MIMIC-CXR style"),
    "iu-xray": N_("IU X-ray style"),
    "training": N_("Training layout"),
    "lesion": N_("Lesions"),
    "organ": N_("Organs"),
    "custom": N_("Your own candidates"),
}


def variant_choices(task: str, _: Translate) -> list[tuple[str, str]]:
    """Variants of ``task``; diagnosis presets show their dataset title."""
    def title(key: str) -> str:
        preset = PRESETS_BY_KEY.get(key)
        return preset.title if preset else _(VARIANT_LABELS.get(key, key))
    return [(title(key), key) for key in task_variants(task)]


def state_task(state: SessionState | None) -> str:
    """The task whose variants the dropdown lists (the default task before any choice)."""
    return state.task if state is not None and state.task else Task.REGION_TO_TEXT.value


def texts(_: Translate, state: SessionState | None = None) -> Texts:
    return {
        "task": {"label": _("Task"), "choices": [(_(TASK_TITLES[t]), t.value) for t in Task]},
        "variant": {"label": _("Prompt variant or candidate list"),
                    "choices": variant_choices(state_task(state), _)},
        "question": {"label": _("Question"), "placeholder": _("e.g. Is there a fracture?")},
        "objects": {"label": _("Objects to find (comma-separated)"), "placeholder": _("e.g. liver, spleen")},
        "candidates": {"label": _("Your candidate diagnoses (comma-separated)")},
        "modality": {"label": _("Modality words in the prompt"), "placeholder": _("e.g. CT, MRI, chest x-ray")},
        "prompt": {"label": _("Exact prompt sent to the model (editable for experts)")},
    }


def create_task_panel(ctx: AppContext) -> TaskHandles:
    t = texts(lambda m, **p: m)
    task = gr.Dropdown(value=Task.REGION_TO_TEXT.value, elem_id="task", **t["task"])
    variant = gr.Dropdown(value=task_variants(Task.REGION_TO_TEXT.value)[0], elem_id="variant",
                          allow_custom_value=True,
                          **t["variant"])
    # Empty values, not None: the API clients then treat these inputs as optional (docs/APP.md).
    question = gr.Textbox("", lines=2, elem_id="question", **t["question"])
    with gr.Row():
        objects = gr.Textbox("", elem_id="objects", **t["objects"])
        candidates = gr.Textbox("", elem_id="candidates", **t["candidates"])
        modality = gr.Textbox("", elem_id="modality", **t["modality"])
    note = gr.Markdown(elem_id="task-note")
    prompt = gr.Textbox("", lines=4, max_lines=12, elem_id="prompt", **t["prompt"])
    return TaskHandles(task, variant, question, objects, candidates, modality, note, prompt)


def region_box(state: SessionState) -> PixelBox | None:
    """The box of the latest answer's region clicked on (in pixels of that answer's picture), or None."""
    if state.parsed is None or state.selected_region is None or state.rendering is None:
        return None
    g = state.rendering.geometry
    return state.parsed.regions[state.selected_region].pixel_boxes(g.width, g.height)[0]


def request_from_widgets(state: SessionState, task: str, variant: str | None, question: str, objects: str,
                         candidates: str, modality: str) -> TaskRequest:
    """The typed request for the current widgets: about the answer's region clicked on, else the user's box."""
    return state.request(task, question=question, objects=objects or "", candidates=candidates or "",
                         modality=modality, variant=variant or "", box=region_box(state))


def language_note(task: str, lang: str, _: Translate) -> str:
    """A note when the task has no version in the UI language (the prompt then uses another one)."""
    used = prompt_language(task, lang)
    if used == lang:
        return ""
    return _("MedRegA was trained on this task in {used} only; the prompt is sent in {used}.",
             used=_(LANGUAGE_NAMES[used]))


def box_name(state: SessionState, index: int, _: Translate) -> str:
    """How the user's box ``index`` is named on the page: its label, else "your box n"."""
    return state.user_boxes[index].label or _("your box {number}", number=index + 1)


def asked_about(state: SessionState, task: str, _: Translate) -> str:
    """What a region task asks about: the region of the answer clicked on, or the user's box."""
    if task not in BOX_TASKS:
        return ""
    if state.parsed is not None and state.selected_region is not None:
        region = state.parsed.regions[state.selected_region]
        return f"[{state.selected_region + 1}] {region.name or ''}".strip()
    return "" if state.asked_box is None else box_name(state, state.asked_box, _)


def box_note(state: SessionState, task: str, _: Translate) -> str:
    about = asked_about(state, task, _)
    return _("The question is about: {box}", box=about) if about else ""


def trained_modality(task: str, variant: str | None, lang: str) -> str:
    """The modality the task's fixed prompt text names (``""`` when it names none)."""
    if task in TRAINED_MODALITY and prompt_language(task, lang) == "en":
        return TRAINED_MODALITY[task]
    preset = PRESETS_BY_KEY.get(variant or "") if task in (Task.DIAGNOSIS.value, Task.REGIONAL_COT.value) else None
    return preset.modality if preset else ""


def modality_note(state: SessionState, task: str, variant: str | None, _: Translate) -> str:
    """A warning when the prompt says one modality and the scan open is, by its header, another."""
    trained = trained_modality(task, variant, state.lang)
    codes = MODALITY_CODES.get(trained.lower())
    loaded = state.scan.info.modality.upper() if state.scan is not None and state.scan.info.modality else ""
    if not codes or not loaded or loaded in codes:
        return ""
    return _("This prompt was trained on {trained} images, but the scan open is {modality}: MedRegA may answer "
             "as if it saw {trained}.", trained=trained, modality=loaded)


def preview(state: SessionState, *values: Any) -> tuple[str, str]:
    """(exact prompt, note) for the widgets; an incomplete request shows what is missing instead."""
    _ = translator(state.lang)
    note = "\n\n".join(filter(None, [language_note(values[0], state.lang, _), box_note(state, values[0], _),
                                       modality_note(state, values[0], values[1], _)]))
    try:
        return state.prompt_for(request_from_widgets(state, *values)), note
    except MedRegAError as error:
        return "", "\n\n".join(filter(None, [note, "⚠ " + error.localized(state.lang)]))


def wire_task_panel(h: TaskHandles, ctx: AppContext, state_holder: gr.State) -> Callable[[Any], Any]:
    """Refresh the prompt when an input changes; returns ``refresh_after(event)`` for the other panels'
    events that change the boxes or the picture (chained, so the prompt sees their result)."""
    def on_task(task: str, state: SessionState) -> dict[Any, Any]:
        state.task = task
        return {h.variant: gr.update(choices=variant_choices(task, translator(state.lang)),
                                     value=task_variants(task)[0])}

    def on_inputs(state: SessionState, task: str, variant: str | None, question: str, objects: str,
                  candidates: str, modality: str) -> dict[Any, Any]:
        prompt, note = preview(state, task, variant, question, objects, candidates, modality)
        return {h.prompt: prompt, h.note: note}

    h.task.change(on_task, [h.task, state_holder], {h.variant}, api_name=False, show_progress="hidden")
    gr.on([w.change for w in h.inputs], on_inputs, [state_holder, *h.inputs], {h.prompt, h.note},
          api_name="preview_prompt", show_progress="hidden")

    def refresh_after(event: Any) -> Any:
        refresh = {"fn": on_inputs, "inputs": [state_holder, *h.inputs], "outputs": {h.prompt, h.note},
                   "api_name": False, "show_progress": "hidden"}
        # An event that fails (a file that cannot be opened closes the scan) runs no .then step: its
        # .failure step refreshes the prompt and note too, so neither names the closed scan.
        event.failure(**refresh)
        return event.then(**refresh)
    return refresh_after
