"""Region table rows, coloured answer segments, Regional CoT steps and the parse command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tasks_spec_strings import DEMO_ANSWERS, DEMO_PROMPTS
from tasks_fixtures import AxialGeometry

from medrega_core.tasks import (
    ModelBox,
    PixelBox,
    Task,
    TaskRequest,
    TextSegment,
    UnsupportedLanguageError,
    answer_segments,
    build_cot_answer_prompt,
    build_cot_detection_prompt,
    build_prompt,
    parse_answer,
    region_rows,
)

ROOT = Path(__file__).resolve().parent.parent


class TestRegionRows:
    def test_one_row_per_box_with_pixels_mm_and_iou(self) -> None:
        parsed = parse_answer(DEMO_ANSWERS["text_to_region"])
        geometry = AxialGeometry(432, 432, (0.5, 0.5), (0.0, 0.0, 0.0), k=3)
        user = PixelBox(365 / 999 * 432, 293 / 999 * 432, 416 / 999 * 432, 598 / 999 * 432)
        first, second = region_rows(parsed, 432, 432, geometry, user)
        assert (first.tag, first.name, first.model_box) == (1, "carotid vessel wall", ModelBox(365, 293, 416, 598))
        assert second.model_box == ModelBox(596, 316, 635, 464) and second.region_index == 0
        assert first.iou_with_user == pytest.approx(1.0) and second.iou_with_user == 0.0
        assert first.scan.size_mm == pytest.approx(((416 - 365) / 999 * 432 * 0.5, (598 - 293) / 999 * 432 * 0.5))

    def test_without_geometry_or_user_box(self) -> None:
        (row,) = region_rows(parse_answer(DEMO_ANSWERS["locate_describe"]), 512, 512)
        assert row.scan is None and row.iou_with_user is None


class TestAnswerSegments:
    def test_names_coloured_boxes_as_tags_markup_removed(self) -> None:
        segments = answer_segments(parse_answer(DEMO_ANSWERS["grounded_report"]))
        assert segments[:4] == [
            TextSegment("right lung [1]", 0), TextSegment(", ", None), TextSegment("left lung [2]", 1),
            TextSegment(": No focal consolidation, pleural effusion, or pneumothorax is seen. There is no evidence for "
                        "pulmonary edema. No radiographic evidence for acute cardiopulmonary process", None),
        ]
        assert "<" not in "".join(s.text for s in segments)

    def test_prose_and_chinese(self) -> None:
        segments = answer_segments(parse_answer("<ref>胰腺癌</ref><box>[[661, 528, 743, 599]]</box>：胰尾部肿块。"))
        assert segments == [TextSegment("胰腺癌 [1]", 0), TextSegment("：胰尾部肿块。", None)]
        prose = answer_segments(parse_answer("<ref>Vestibular schwannoma</ref> is located in <box>[[376, 556, 479, 651]]</box>"))
        assert prose == [TextSegment("Vestibular schwannoma", 0), TextSegment(" is located in ", None), TextSegment("[1]", 0)]

    def test_plain_answer_is_one_plain_segment(self) -> None:
        assert answer_segments(parse_answer("cardiovascular")) == [TextSegment("cardiovascular", None)]


class TestRegionalCot:
    def test_step_one_is_a_text_to_region_prompt(self) -> None:
        request = TaskRequest(Task.REGIONAL_COT, "en", question="Is there a mass?", objects=("mass",), modality="CT")
        expected = build_prompt(TaskRequest(Task.TEXT_TO_REGION, "en", objects=("mass",), modality="CT"))
        assert build_cot_detection_prompt(request) == build_prompt(request) == expected

    def test_step_two_inserts_the_found_boxes_into_the_vqa_question(self) -> None:
        request = TaskRequest(Task.REGIONAL_COT, "en", question="Is there a mass?")
        detection = parse_answer("<ref>abnormal region</ref><box>[[10, 20, 300, 400], [500, 20, 700, 90]]</box>")
        prompt = build_cot_answer_prompt(request, detection)
        assert prompt == (
            "You are a helpful medical assistant. You are required to answer the question based on the medical image. "
            "<image>\nThe detected regions are <ref>abnormal region</ref><box>[[10, 20, 300, 400], [500, 20, 700, 90]]"
            "</box>. Is there a mass? Answer the question using a single word or phrase."
        )

    def test_step_two_for_a_diagnosis_preset(self) -> None:
        request = TaskRequest(Task.REGIONAL_COT, "en", variant="oct2017")
        prompt = build_cot_answer_prompt(request, parse_answer("<box>[[1, 2, 3, 4]]</box>"))
        assert prompt == DEMO_PROMPTS["diagnosis_oct"].replace(
            "<image>\n", "<image>\nThe detected regions are <box>[[1, 2, 3, 4]]</box>. "
        )

    def test_step_two_in_chinese_and_without_detections(self) -> None:
        request = TaskRequest(Task.REGIONAL_COT, "zh", question="病变在哪个器官?")
        found = build_cot_answer_prompt(request, parse_answer("<ref>肿块</ref><box>[[1, 2, 30, 40]]</box>：肝右叶。"))
        assert found.endswith("<image>\n检测到的区域为<ref>肿块</ref><box>[[1, 2, 30, 40]]</box>。病变在哪个器官?请用词或短语回答问题。")
        nothing = build_cot_answer_prompt(request, parse_answer("未见明显异常。"))
        assert nothing == build_prompt(TaskRequest(Task.VQA, "zh", question="病变在哪个器官?"))
        assert build_cot_detection_prompt(request).endswith("<image>\n请定位并描述这张医学影像中的病变区域。")

    def test_chinese_diagnosis_is_refused(self) -> None:
        with pytest.raises(UnsupportedLanguageError):
            build_cot_answer_prompt(TaskRequest(Task.REGIONAL_COT, "zh", variant="mura"), parse_answer(""))


def test_parse_command_prints_regions_as_json() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "medrega_core", "parse", "--width", "3056", "--height", "2544"],
        input=DEMO_ANSWERS["grounded_report"].encode(), capture_output=True, cwd=ROOT, timeout=60, check=True,
    )
    data = json.loads(result.stdout)
    right, left = data["regions"]
    assert right["name"] == "right lung" and right["boxes"] == [[102, 106, 481, 910]]
    assert right["boxes_px"][0][2] < 3056 / 2 < left["boxes_px"][0][0]
    assert right["description"] == left["description"] and data["issues"] == []
    start, end = right["name_spans"][0]
    assert DEMO_ANSWERS["grounded_report"][start:end] == "right lung"
