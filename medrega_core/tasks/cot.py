"""Regional CoT (experimental): detect first, then ask again with the found boxes in the question.

The paper describes the recipe (spec A.10) but publishes neither prompt, so both steps are our
reconstruction from published prompts: step 1 is a text-to-region request (English) or a lesion
locate-and-describe request (Chinese); step 2 is the VQA or diagnosis prompt with one sentence
naming the detected regions in MedRegA's own ``<ref>/<box>`` notation put before the question.
The app calls :func:`build_cot_detection_prompt`, runs the model, parses the answer with
``parse_answer`` and calls :func:`build_cot_answer_prompt` with it.
"""

from __future__ import annotations

from medrega_core.tasks.coordinates import format_box_list
from medrega_core.tasks.parser import ParsedAnswer, Region
from medrega_core.tasks.prompts import (
    PromptParts,
    Task,
    TaskRequest,
    assemble,
    build_prompt,
    cot_detection_request,
    prompt_parts,
)

_CONTEXT = {"en": "The detected regions are {regions}. ", "zh": "检测到的区域为{regions}。"}
_JOINER = {"en": ", ", "zh": "、"}


def build_cot_detection_prompt(request: TaskRequest) -> str:
    """Step 1: the detection prompt for a Regional CoT request (same as ``build_prompt(request)``)."""
    return build_prompt(cot_detection_request(request))


def cot_answer_request(request: TaskRequest) -> TaskRequest:
    """The task step 2 answers: diagnosis when the request has candidates or a preset, else VQA."""
    is_diagnosis = bool(request.candidates) or request.variant not in ("", "custom")
    if is_diagnosis:
        return TaskRequest(
            Task.DIAGNOSIS, request.lang, candidates=request.candidates, modality=request.modality,
            variant=request.variant, layout=request.layout,
        )
    return TaskRequest(Task.VQA, request.lang, question=request.question, modality=request.modality, layout=request.layout)


def region_reference(region: Region) -> str:
    """A region in MedRegA's notation: ``<ref>name</ref><box>[[...]]</box>`` (no ``<ref>`` when unnamed)."""
    boxes = f"<box>{format_box_list(region.boxes)}</box>"
    return f"<ref>{region.name}</ref>{boxes}" if region.name else boxes


def build_cot_answer_prompt(request: TaskRequest, detection: ParsedAnswer) -> str:
    """Step 2: the VQA or diagnosis prompt with the regions found in step 1 named before the question.

    Without any detected region the plain task prompt is returned, so the step still runs.
    """
    final = cot_answer_request(request)
    parts = prompt_parts(final)
    found = [region for region in detection.regions if region.boxes]
    if not found:
        return build_prompt(final)
    context = _CONTEXT[final.lang].format(regions=_JOINER[final.lang].join(map(region_reference, found)))
    return assemble(PromptParts(parts.prefix, context + parts.question), final.lang, final.layout)
