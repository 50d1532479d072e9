"""Tasks and regions: MedRegA's exact prompts, box coordinates, and the answer parser (pure Python)."""

from medrega_core.tasks.coordinates import (
    MODEL_GRID_MAX,
    BoxInScan,
    ModelBox,
    PictureGeometry,
    PictureSizeError,
    PixelBox,
    box_in_scan,
    format_box_list,
    iou,
    to_model,
    to_pixels,
)
from medrega_core.tasks.parser import IssueKind, ParsedAnswer, ParseIssue, Region, parse_answer
from medrega_core.tasks.presets import PRESETS, PRESETS_BY_KEY, CandidatePreset, ClassificationKind
from medrega_core.tasks.prompts import (
    EXPERIMENTAL_TASKS,
    GROUNDED_REPORT_STRUCTURES,
    IMAGE_PLACEHOLDER,
    TASK_TITLES,
    BoxOutsidePictureError,
    PromptInputError,
    PromptLayout,
    Task,
    TaskRequest,
    UnsupportedLanguageError,
    build_prompt,
    cot_detection_request,
    supported_languages,
    task_variants,
)

__all__ = [
    "EXPERIMENTAL_TASKS", "GROUNDED_REPORT_STRUCTURES", "IMAGE_PLACEHOLDER", "MODEL_GRID_MAX", "PRESETS",
    "PRESETS_BY_KEY", "TASK_TITLES", "BoxInScan", "BoxOutsidePictureError", "CandidatePreset", "ClassificationKind",
    "IssueKind", "ModelBox", "ParseIssue", "ParsedAnswer", "PictureGeometry", "PictureSizeError", "PixelBox",
    "PromptInputError", "PromptLayout", "Region", "Task", "TaskRequest", "UnsupportedLanguageError", "box_in_scan",
    "build_prompt", "cot_detection_request", "format_box_list", "iou", "parse_answer", "supported_languages",
    "task_variants", "to_model", "to_pixels",
]
