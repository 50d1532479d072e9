"""Exact MedRegA prompts: one typed request in, the user text the model was trained on out.

Every prompt is a task prefix plus a question, joined around the ``<image>`` placeholder in one of
two layouts (spec A.0). The default, :attr:`PromptLayout.DEMO`, reproduces the authors' demo file
byte for byte: ``prefix + " <image>\\n" + question`` in English, no space before ``<image>`` in
Chinese or after a prefix that ends with a line break. The prefixes below are MedRegA's training
prefixes and must stay byte-identical, typos included (``影响结论``, fundus sets called "OCT").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from medrega_core.errors import N_, TaskError
from medrega_core.tasks.coordinates import PixelBox, format_box_list, to_model
from medrega_core.tasks.presets import PRESETS_BY_KEY, CandidatePreset, ClassificationKind

IMAGE_PLACEHOLDER = "<image>"
LANGUAGES = ("en", "zh")


class Task(str, Enum):
    """What the user asks MedRegA to do (the ids used on the command line and in exports)."""

    VQA = "vqa"
    REPORT = "report"
    DIAGNOSIS = "diagnosis"
    REGION_TO_TEXT = "region-to-text"
    TEXT_TO_REGION = "text-to-region"
    GROUNDED_REPORT = "grounded-report"
    LOCATE_DESCRIBE = "locate-describe"
    REGIONAL_COT = "regional-cot"
    FREE = "free"


class PromptLayout(str, Enum):
    """Where ``<image>`` goes (spec A.0).

    ``DEMO``: ``prefix <image>\\nquestion`` as in the authors' demo file (verified against its
    expected answers). ``TRAINING``: ``<image>\\nprefix question`` as the fine-tuning code rebuilt it.
    """

    DEMO = "demo"
    TRAINING = "training"


#: Menu titles (msgids; translate with ``medrega_core.i18n``).
TASK_TITLES: dict[Task, str] = {
    Task.VQA: N_("Visual question answering"),
    Task.REPORT: N_("Report generation"),
    Task.DIAGNOSIS: N_("Diagnosis from a candidate list"),
    Task.REGION_TO_TEXT: N_("What is in this box? (region to text)"),
    Task.TEXT_TO_REGION: N_("Find objects (text to region)"),
    Task.GROUNDED_REPORT: N_("Grounded chest X-ray report"),
    Task.LOCATE_DESCRIBE: N_("Locate and describe lesions or organs"),
    Task.REGIONAL_COT: N_("Regional chain of thought (experimental)"),
    Task.FREE: N_("Free question"),
}

#: Tasks whose prompts are our reconstruction rather than a published one.
EXPERIMENTAL_TASKS = frozenset({Task.REGIONAL_COT})

_SUPPORTED_LANGUAGES: dict[Task, tuple[str, ...]] = {
    Task.VQA: ("en", "zh"),
    Task.REPORT: ("en", "zh"),
    Task.DIAGNOSIS: ("en",),
    Task.REGION_TO_TEXT: ("en",),
    Task.TEXT_TO_REGION: ("en",),
    Task.GROUNDED_REPORT: ("en",),
    Task.LOCATE_DESCRIBE: ("zh",),
    Task.REGIONAL_COT: ("en", "zh"),
    Task.FREE: ("en", "zh"),
}

# --- Task prefixes (training/demo text, verbatim) -------------------------------------------------
ASSISTANT = "You are a helpful medical assistant."
BOX_CONVENTION = (
    "The region is represented in the form of bounding box, [x1, y1, x2, y2], with integers ranging from 0 to 999. "
    "These values correspond to the top left x, top left y, bottom right x, and bottom right y."
)
BOX_FORMAT = (
    'For each object, please utilize this format to represent the region with its bounding box: '
    '"<ref>object</ref><box>[[x1, y1, x2, y2]]</box>".'
)
MULTI_BOX_FORMAT = (
    'There might be multiple boxes for one object, in which case the format is like '
    '"<ref>object</ref><box>[[x1, y1, x2, y2], [x3, y3, x4, y4]]</box>".'
)

VQA_PREFIX = f"{ASSISTANT} You are required to answer the question based on the medical image."
VQA_OPTIONS_PREFIX = f"{VQA_PREFIX} Please answer the question with the given options."
SHORT_ANSWER_SUFFIX = "Answer the question using a single word or phrase."
ZH_VQA_PREFIX = "你是一个医疗助手，你需要根据医学图像回答问题。"
ZH_SHORT_ANSWER_SUFFIX = "请用词或短语回答问题。"

_REPORT_START = (
    f"{ASSISTANT} Your task is report generation. You are given a chest x-ray image, and you are required to "
    "generate a medical report"
)
REPORT_DEMO_PREFIX = f"{_REPORT_START} consisting of findings and impressions based on the image."
REPORT_MIMIC_PREFIX = (
    f"{REPORT_DEMO_PREFIX} Finding includes the observations, and impression outlines the final diagnosis."
)
REPORT_IU_PREFIX = f"{_REPORT_START} describing the observations and diagnosis in the image."
ZH_REPORT_PREFIX = (
    "你是一个医疗助手，你的任务是生成诊断报告。请为这张医学影像撰写诊断报告，需包括影像诊断和影像结论两部分。"
    "影像诊断描述可见信息，影响结论列举最终的诊断结果。"
)

REGION_TO_TEXT_PREFIX = (
    f"{ASSISTANT} Your task is object recognition. You are required to recognize the object in the given region. "
    f"{BOX_CONVENTION}"
)
TEXT_TO_REGION_DEMO_PREFIX = (
    f"{ASSISTANT} Your task is object detection. You are required to find all the regions of the given objects. "
    f"{BOX_CONVENTION} {BOX_FORMAT}"
)
TEXT_TO_REGION_TRAINING_PREFIX = f"{TEXT_TO_REGION_DEMO_PREFIX} {MULTI_BOX_FORMAT}"
GROUNDED_REPORT_PREFIX = (
    f"{ASSISTANT} Your task is report phrase grounding. You are given a chest x-ray image, and you are required to "
    f"locate the region and generate a report for the given organ. {BOX_CONVENTION} {BOX_FORMAT}"
)
ZH_LOCATE_PREFIX = (
    "你是一个医疗助手，你的任务是定位并描述病种。病种区域用边界框的形式表示，[x1, y1, x2, y2]，整数范围从0到999。"
    "这些值分别对应左上角的x，左上角的y，右下角的x和右下角的y。对于每个病种，请使用这种格式用边界框表示区域："
    '"<ref>病种</ref><box>[[x1, y1, x2, y2]]</box>：诊断"。'
)

#: The 12 chest structures of MedRegA's grounded reports (paper A.1.3).
GROUNDED_REPORT_STRUCTURES = (
    "left lung", "right lung", "mediastinum", "cardiac silhouette", "left hilar structures",
    "right hilar structures", "left clavicle", "right clavicle", "left hemidiaphragm", "right hemidiaphragm",
    "right atrium", "abdomen",
)
GROUNDED_REPORT_ALL_QUESTION = (
    "Please locate the region and describe the condition of each structure within the chest X-ray scan."
)

#: Variant names per task; the first one is the default (an empty ``variant`` selects it).
TASK_VARIANTS: dict[Task, tuple[str, ...]] = {
    Task.VQA: ("short", "plain", "options"),
    Task.REPORT: ("demo", "mimic-cxr", "iu-xray"),
    Task.DIAGNOSIS: ("custom", *PRESETS_BY_KEY),
    Task.REGION_TO_TEXT: ("demo",),
    Task.TEXT_TO_REGION: ("demo", "training"),
    Task.GROUNDED_REPORT: ("demo",),
    Task.LOCATE_DESCRIBE: ("lesion", "organ"),
    Task.REGIONAL_COT: ("custom", *PRESETS_BY_KEY),
    Task.FREE: ("demo",),
}
_REPORT_PREFIXES = {"demo": REPORT_DEMO_PREFIX, "mimic-cxr": REPORT_MIMIC_PREFIX, "iu-xray": REPORT_IU_PREFIX}
#: What Regional CoT step 1 looks for in English when the user names nothing.
COT_DEFAULT_TARGET = "abnormal region"


# --- Errors ---------------------------------------------------------------------------------------
class PromptInputError(TaskError):
    """A task request lacks an input the task needs, or has one it cannot use."""


class UnsupportedLanguageError(TaskError):
    """MedRegA was not trained on this task in this language."""


class BoxOutsidePictureError(TaskError):
    """A user box does not overlap the picture."""


# --- Request --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskRequest:
    """Everything a prompt depends on.

    Attributes
    ----------
    task:
        Which task (a :class:`Task` or its id).
    lang:
        ``"en"`` or ``"zh"``; see :func:`supported_languages`.
    question:
        The user's question (VQA, free, Regional CoT).
    objects:
        Names to locate (text-to-region, grounded report, locate-describe, Regional CoT step 1).
    box:
        The user's box in picture pixels (region-to-text).
    image_size:
        ``(width, height)`` of the picture the model sees, in pixels; needed with ``box``.
    candidates:
        The user's own candidate list (diagnosis); leave empty when ``variant`` names a preset.
    modality:
        Modality words as they go into the sentence: ``"CT"``, ``"MRI"``, ``"chest x-ray"``.
    variant:
        One of :data:`TASK_VARIANTS` for the task; ``""`` picks the default.
    layout:
        Where ``<image>`` goes.
    """

    task: Task
    lang: str = "en"
    question: str = ""
    objects: tuple[str, ...] = ()
    box: PixelBox | None = None
    image_size: tuple[int, int] | None = None
    candidates: tuple[str, ...] = ()
    modality: str = ""
    variant: str = ""
    layout: PromptLayout = PromptLayout.DEMO


def split_names(text: str | None) -> tuple[str, ...]:
    """Names typed in one box (objects, candidates): split at commas (``,`` or the Chinese ``，``)
    and line breaks, blanks dropped, order kept."""
    parts = (text or "").replace("，", ",").replace("\n", ",").split(",")
    return tuple(part.strip() for part in parts if part.strip())


@dataclass(frozen=True)
class PromptParts:
    """A task prefix and the question that follows the image (empty for reports)."""

    prefix: str
    question: str


def supported_languages(task: Task | str) -> tuple[str, ...]:
    """Languages MedRegA was trained on for ``task`` (``"en"``, ``"zh"``)."""
    return _SUPPORTED_LANGUAGES[_parse_task(task)]


def task_variants(task: Task | str) -> tuple[str, ...]:
    """Variant names for ``task``; the first is the default."""
    return TASK_VARIANTS[_parse_task(task)]


def _parse_task(task: Task | str) -> Task:
    try:
        return Task(task)
    except ValueError:
        raise PromptInputError(
            N_("Unknown task {task}. Choose one of: {choices}."), task=task, choices=", ".join(t.value for t in Task)
        ) from None


def _variant(request: TaskRequest) -> str:
    choices = TASK_VARIANTS[request.task]
    if not request.variant:
        return choices[0]
    if request.variant not in choices:
        raise PromptInputError(
            N_("Unknown variant {variant} for the task {task}. Choose one of: {choices}."),
            variant=request.variant, task=request.task.value, choices=", ".join(choices),
        )
    return request.variant


def _checked(request: TaskRequest) -> TaskRequest:
    task = _parse_task(request.task)
    lang = request.lang if request.lang in LANGUAGES else ""
    if lang not in _SUPPORTED_LANGUAGES[task]:
        raise UnsupportedLanguageError(
            N_("MedRegA was not trained on the task {task} in the language {language}; available: {languages}."),
            task=task.value, language=request.lang, languages=", ".join(_SUPPORTED_LANGUAGES[task]),
        )
    texts = (request.question, request.modality, *request.objects, *request.candidates)
    if task is not Task.FREE and any(IMAGE_PLACEHOLDER in text for text in texts):
        raise PromptInputError(N_("Remove <image> from your text: the app places the picture itself."))
    if request.layout not in {layout.value for layout in PromptLayout}:
        raise PromptInputError(
            N_("Unknown prompt layout {layout}. Choose one of: {choices}."),
            layout=request.layout, choices=", ".join(layout.value for layout in PromptLayout),
        )
    return dataclasses.replace(request, task=task, layout=PromptLayout(request.layout))


def _required_question(request: TaskRequest) -> str:
    question = request.question.strip()
    if not question:
        raise PromptInputError(N_("Type a question first."))
    return question


def _object_names(request: TaskRequest) -> tuple[str, ...]:
    names = tuple(name.strip() for name in request.objects if name.strip())
    if any(mark in name for name in names for mark in "<>[]"):
        raise PromptInputError(N_("Object names may not contain <, >, [ or ]."))
    return names


def _refs(names: tuple[str, ...], separator: str) -> str:
    return separator.join(f"<ref>{name}</ref>" for name in names)


def indefinite_article(phrase: str) -> str:
    """``"a"`` or ``"an"`` for a modality phrase, by sound: an OCT, an X-ray, an MRI, a CT, an image."""
    word = phrase.strip().split(" ")[0] if phrase.strip() else ""
    head = word.split("-")[0]
    if head.isupper() and head.isalpha():
        # Read letter by letter: initials whose letter name starts with a vowel sound.
        return "an" if head[0] in "AEFHILMNORSX" else "a"
    return "an" if word[:1].lower() in "aeiou" else "a"


def _modality_or(request: TaskRequest, default: str) -> str:
    return request.modality.strip() or default


# --- Builders, one per task -----------------------------------------------------------------------
def _vqa(request: TaskRequest) -> PromptParts:
    question, variant = _required_question(request), _variant(request)
    if request.lang == "zh":
        if variant == "options":
            raise UnsupportedLanguageError(N_("Multiple-choice questions are only available in English."))
        suffix = ZH_SHORT_ANSWER_SUFFIX if variant == "short" else ""
        return PromptParts(ZH_VQA_PREFIX, question if question.endswith(suffix) else question + suffix)
    if variant == "options":
        return PromptParts(VQA_OPTIONS_PREFIX, question)
    if variant == "plain" or question.endswith(SHORT_ANSWER_SUFFIX):
        return PromptParts(VQA_PREFIX, question)
    return PromptParts(VQA_PREFIX, f"{question} {SHORT_ANSWER_SUFFIX}")


def _report(request: TaskRequest) -> PromptParts:
    variant = _variant(request)
    if request.lang == "zh":
        if variant != "demo":
            raise UnsupportedLanguageError(
                N_("The report variant {variant} is only available in English."), variant=variant
            )
        return PromptParts(ZH_REPORT_PREFIX, "")
    return PromptParts(_REPORT_PREFIXES[variant], "")


def classification_prefix(preset: CandidatePreset) -> str:
    """The training prefix of a candidate-list preset, rebuilt from its data (spec A.5)."""
    task = "disease diagnosis" if preset.kind is ClassificationKind.DIAGNOSIS else "image classification"
    head = (
        f"{ASSISTANT} Your task is {task}. You are given {indefinite_article(preset.modality)} {preset.modality} image."
    )
    if preset.inline:
        return f"{head} The possible {preset.kind.value} are {' and '.join(preset.labels)}."
    listing = "".join(f"{label}\n" for label in preset.labels)
    return f"{head} The possible {preset.kind.value} are:\n{listing}{preset.note}"


def _classification_question(kind: ClassificationKind, modality: str) -> str:
    # Only the disease sentence is published (demo id 6); the organ/tissue ones follow its pattern.
    what = {ClassificationKind.DIAGNOSIS: "diagnose the disease", ClassificationKind.ORGAN: "identify the organ",
            ClassificationKind.TISSUE: "identify the tissue"}[kind]
    return f"Please {what} in the {modality} image."


def _custom_note(labels: tuple[str, ...]) -> str:
    """The sentence after a typed list: a training list's own note (none for OCT2017, so the published
    OCT prompt comes out byte for byte), else the "no diseases" note when the list has a healthy label."""
    training = next((p for p in PRESETS_BY_KEY.values() if p.kind is ClassificationKind.DIAGNOSIS and p.labels == labels),
                    None)
    if training is not None:
        return training.note
    healthy = [label for label in labels if label.casefold() in {"no finding", "normal"}]
    return f'"{healthy[0]}" means no diseases are detected.' if healthy else ""


def _custom_preset(request: TaskRequest) -> CandidatePreset:
    labels = tuple(dict.fromkeys(c.strip() for c in request.candidates if c.strip()))
    if len(labels) < 2:
        raise PromptInputError(N_("Give at least two candidate diagnoses, or choose a preset."))
    if any("\n" in label for label in labels):
        raise PromptInputError(N_("A candidate diagnosis may not contain a line break."))
    note = _custom_note(labels)
    modality = _modality_or(request, "medical")
    return CandidatePreset("custom", "", ClassificationKind.DIAGNOSIS, modality, labels, note)


def candidate_preset(request: TaskRequest) -> CandidatePreset:
    """The preset a diagnosis request uses: a named training preset or the user's own list."""
    variant = _variant(request)
    if variant == "custom":
        return _custom_preset(request)
    if request.candidates:
        raise PromptInputError(N_("Choose either a preset or your own candidate list, not both."))
    return PRESETS_BY_KEY[variant]


def _diagnosis(request: TaskRequest) -> PromptParts:
    preset = candidate_preset(request)
    return PromptParts(classification_prefix(preset), _classification_question(preset.kind, preset.modality))


def _scan_phrase(request: TaskRequest) -> str:
    modality = request.modality.strip()
    return f"this {modality} scan" if modality else "this image"


def user_box_to_model(box: PixelBox | None, image_size: tuple[int, int] | None) -> str:
    """A user's picture box as the model's box list text, ``[[x1, y1, x2, y2]]``.

    Raises :class:`PromptInputError` without a box or size, :class:`BoxOutsidePictureError`
    when the box misses the picture or rounds to no area on the 0..999 grid.
    """
    if box is None:
        raise PromptInputError(N_("Draw or click a box on the picture first."))
    if image_size is None:
        raise PromptInputError(N_("The picture size is unknown, so the box cannot be converted."))
    width, height = image_size
    b = box.ordered()
    if b.x2 <= 0 or b.y2 <= 0 or b.x1 >= width or b.y1 >= height:
        raise BoxOutsidePictureError(
            N_("The box {box} lies outside the {width}x{height} picture."),
            box=", ".join(f"{v:.0f}" for v in b.as_tuple()), width=width, height=height,
        )
    model_box = to_model(b, width, height)
    if model_box.x1 == model_box.x2 or model_box.y1 == model_box.y2:
        raise BoxOutsidePictureError(N_("The box is too small: draw a larger one."))
    return format_box_list([model_box])


def _region_to_text(request: TaskRequest) -> PromptParts:
    box_text = user_box_to_model(request.box, request.image_size)
    return PromptParts(REGION_TO_TEXT_PREFIX, f"What is <ref>this</ref><box>{box_text}</box> in {_scan_phrase(request)}?")


def _text_to_region(request: TaskRequest) -> PromptParts:
    names = _object_names(request)
    if not names:
        raise PromptInputError(N_("Name at least one object to locate."))
    prefix = TEXT_TO_REGION_TRAINING_PREFIX if _variant(request) == "training" else TEXT_TO_REGION_DEMO_PREFIX
    return PromptParts(prefix, f"Please locate {_refs(names, ', ')} in {_scan_phrase(request)}.")


def _grounded_report(request: TaskRequest) -> PromptParts:
    names = _object_names(request)
    if not names:
        return PromptParts(GROUNDED_REPORT_PREFIX, GROUNDED_REPORT_ALL_QUESTION)
    # The demo question has no final full stop; keep it that way.
    return PromptParts(GROUNDED_REPORT_PREFIX, f"Please locate the region and describe the condition of {_refs(names, ', ')}")


def _locate_describe(request: TaskRequest) -> PromptParts:
    names, variant = _object_names(request), _variant(request)
    if names:
        return PromptParts(ZH_LOCATE_PREFIX, f"请定位并描述这张医学影像中的{_refs(names, '、')}")
    where = f"{request.modality.strip()}图像" if request.modality.strip() else "这张医学影像"
    target = "病变区域" if variant == "lesion" else "器官"
    return PromptParts(ZH_LOCATE_PREFIX, f"请定位并描述{where}中的{target}。")


def _free(request: TaskRequest) -> PromptParts:
    # Placement is decided in build_prompt: a free question has no task prefix.
    return PromptParts("", _required_question(request))


def cot_detection_request(request: TaskRequest) -> TaskRequest:
    """Regional CoT step 1: the detection request behind a Regional CoT request.

    English: text-to-region for ``request.objects`` (or a generic abnormal region when none are
    named). Chinese: lesion locate-and-describe for the same objects (or all lesions).
    """
    request = _checked(request)
    names = _object_names(request)
    if request.lang == "zh":
        return TaskRequest(Task.LOCATE_DESCRIBE, "zh", objects=names, modality=request.modality, layout=request.layout)
    return TaskRequest(
        Task.TEXT_TO_REGION, "en", objects=names or (COT_DEFAULT_TARGET,), modality=request.modality,
        layout=request.layout,
    )


def _cot_detection(request: TaskRequest) -> PromptParts:
    detection = cot_detection_request(request)
    return _BUILDERS[detection.task](detection)


_BUILDERS: dict[Task, Callable[[TaskRequest], PromptParts]] = {
    Task.VQA: _vqa,
    Task.REPORT: _report,
    Task.DIAGNOSIS: _diagnosis,
    Task.REGION_TO_TEXT: _region_to_text,
    Task.TEXT_TO_REGION: _text_to_region,
    Task.GROUNDED_REPORT: _grounded_report,
    Task.LOCATE_DESCRIBE: _locate_describe,
    Task.REGIONAL_COT: _cot_detection,
    Task.FREE: _free,
}


def _joiner(parts: PromptParts, lang: str, layout: PromptLayout) -> str:
    """What separates the prefix from what follows it: a space in English, nothing in Chinese or
    after a prefix ending in a line break (demo), nothing before an empty question (training)."""
    if layout is PromptLayout.TRAINING:
        return " " if lang == "en" and parts.question else ""
    return " " if lang == "en" and not parts.prefix.endswith("\n") else ""


def assemble(parts: PromptParts, lang: str, layout: PromptLayout = PromptLayout.DEMO) -> str:
    """Join a prefix and a question around ``<image>`` (spec A.0)."""
    joiner = _joiner(parts, lang, layout)
    if layout is PromptLayout.TRAINING:
        return f"{IMAGE_PLACEHOLDER}\n{parts.prefix}{joiner}{parts.question}"
    return f"{parts.prefix}{joiner}{IMAGE_PLACEHOLDER}\n{parts.question}"


def assemble_follow_up(parts: PromptParts, lang: str, layout: PromptLayout = PromptLayout.DEMO) -> str:
    """The text :func:`assemble` gives without ``<image>`` and its line break (the picture is already
    in the conversation); no space is left dangling where the question is empty (reports)."""
    return f"{parts.prefix}{_joiner(parts, lang, layout)}{parts.question}".strip()


def prompt_parts(request: TaskRequest) -> PromptParts:
    """The task prefix and question of ``request`` before ``<image>`` is placed (raises as :func:`build_prompt`)."""
    request = _checked(request)
    return _BUILDERS[request.task](request)


def build_prompt(request: TaskRequest) -> str:
    """The exact user text for ``request``, containing ``<image>`` exactly once.

    Raises
    ------
    UnsupportedLanguageError
        The task is not available in ``request.lang``.
    PromptInputError, BoxOutsidePictureError
        An input the task needs is missing or unusable.
    """
    request = _checked(request)
    parts = _BUILDERS[request.task](request)
    if request.task is Task.FREE:
        return _free_prompt(parts.question)
    return assemble(parts, request.lang, request.layout)


def build_follow_up_prompt(request: TaskRequest) -> str:
    """The exact user text for ``request`` asked later in a conversation: no ``<image>``.

    The picture belongs to the first question only (the engine refuses ``<image>`` in a later
    turn), so a follow-up is :func:`build_prompt`'s text with the placeholder and its line break
    left out; the task prefix stays, so MedRegA still knows which task and answer format it is
    asked for. A free question loses any ``<image>`` the user typed. Raises as :func:`build_prompt`.
    """
    request = _checked(request)
    parts = _BUILDERS[request.task](request)
    if request.task is Task.FREE:
        _check_placeholder_count(parts.question)
        return parts.question.replace(f"{IMAGE_PLACEHOLDER}\n", "").replace(IMAGE_PLACEHOLDER, "").strip()
    return assemble_follow_up(parts, request.lang, request.layout)


def _check_placeholder_count(question: str) -> int:
    """How often a free question holds ``<image>``; more than once is refused."""
    count = question.count(IMAGE_PLACEHOLDER)
    if count > 1:
        raise PromptInputError(
            N_("Your text contains <image> {count} times; MedRegA sees one picture, so use it at most once."),
            count=count,
        )
    return count


def _free_prompt(question: str) -> str:
    return question if _check_placeholder_count(question) == 1 else f"{IMAGE_PLACEHOLDER}\n{question}"
