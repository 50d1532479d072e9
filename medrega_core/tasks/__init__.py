"""Tasks and regions: MedRegA's exact prompts, box coordinates, and the answer parser (pure Python)."""

from medrega_core.tasks.coordinates import (
    MODEL_GRID_MAX,
    SIDE_CONVENTION_NOTE,
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
from medrega_core.tasks.cot import (
    build_cot_answer_prompt,
    build_cot_detection_prompt,
    cot_answer_request,
    region_reference,
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
    build_follow_up_prompt,
    build_prompt,
    cot_detection_request,
    prompt_parts,
    split_names,
    supported_languages,
    task_variants,
)
from medrega_core.tasks.table import RegionRow, TextSegment, answer_segments, answer_text, region_rows

__all__ = [
    "EXPERIMENTAL_TASKS", "GROUNDED_REPORT_STRUCTURES", "IMAGE_PLACEHOLDER", "MODEL_GRID_MAX", "PRESETS",
    "PRESETS_BY_KEY", "SIDE_CONVENTION_NOTE", "TASK_TITLES", "BoxInScan", "BoxOutsidePictureError", "CandidatePreset", "ClassificationKind",
    "IssueKind", "ModelBox", "ParseIssue", "ParsedAnswer", "PictureGeometry", "PictureSizeError", "PixelBox",
    "PromptInputError", "PromptLayout", "Region", "Task", "TaskRequest", "UnsupportedLanguageError", "box_in_scan",
    "build_follow_up_prompt", "build_prompt", "cot_detection_request", "format_box_list", "iou", "parse_answer",
    "supported_languages", "task_variants", "to_model", "to_pixels", "build_cot_answer_prompt", "build_cot_detection_prompt",
    "cot_answer_request", "region_reference", "prompt_parts", "RegionRow", "TextSegment", "answer_segments", "answer_text",
    "region_rows", "split_names",
]
