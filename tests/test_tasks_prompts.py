"""Prompts: every task's text equals the spec's quoted demo/training strings for the same inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tasks_spec_strings import DEMO_PROMPTS, TRAINING_PREFIXES

from medrega_core.i18n import translate
from medrega_core.tasks import (
    GROUNDED_REPORT_STRUCTURES,
    PRESETS,
    PRESETS_BY_KEY,
    BoxOutsidePictureError,
    ModelBox,
    PromptInputError,
    PromptLayout,
    Task,
    TaskRequest,
    UnsupportedLanguageError,
    build_follow_up_prompt,
    build_prompt,
    split_names,
    supported_languages,
    task_variants,
    to_pixels,
)
from medrega_core.tasks.prompts import classification_prefix, indefinite_article

ROOT = Path(__file__).resolve().parent.parent

# Which training-prefix key each preset reproduces (the organ sets share one prefix, as do the Kather sets).
PRESET_TRAINING_KEYS = {
    "brset": "brest_train_cls", "chexpert": "chexpert_train_cls", "cxr14": "cxr14_train_cls",
    "isic2016": "isic2016_train_cls", "isic2017": "isic2017_train_cls", "isic2018": "isic2018_train_cls",
    "isic2019": "isic2019_train_cls", "isic2020": "isic2020_train_cls", "mura": "mura_train_cls",
    "oct2017": "oct2017_train_cls", "octid": "octid_train_cls", "organmnist": "organamnist_train_cls",
    "padufes": "padufes_train_cls", "pannuke": "pannuke_train_cls", "pathcrc": "pathcrc_norm",
    "rfmid": "rfmid_train_cls", "vindrcxr": "vindrcxr_train_cls", "vindrmammo": "vindrmammo_train_cls",
    "vindrpcxr": "vindrpcxr_train_cls", "vindrspinexr": "vindrspinexr_train_cls",
}


class TestDemoPrompts:
    """Byte-identical to the published demo prompts for the same inputs."""

    def test_english_vqa(self) -> None:
        request = TaskRequest(Task.VQA, "en", question="What does this image show?")
        assert build_prompt(request) == DEMO_PROMPTS["vqa_en"]

    @pytest.mark.parametrize(
        ("key", "question"), [("vqa_zh_body", "图像里包含的区域属于身体哪个部分?"), ("vqa_zh_modality", "这张图片的成像方式是什么?")]
    )
    def test_chinese_vqa(self, key: str, question: str) -> None:
        assert build_prompt(TaskRequest(Task.VQA, "zh", question=question)) == DEMO_PROMPTS[key]

    def test_english_report(self) -> None:
        assert build_prompt(TaskRequest(Task.REPORT, "en")) == DEMO_PROMPTS["report_en"]

    def test_chinese_report_keeps_the_typo(self) -> None:
        prompt = build_prompt(TaskRequest(Task.REPORT, "zh"))
        assert prompt == DEMO_PROMPTS["report_zh"]
        assert "影响结论" in prompt

    def test_diagnosis_with_oct_preset(self) -> None:
        assert build_prompt(TaskRequest(Task.DIAGNOSIS, "en", variant="oct2017")) == DEMO_PROMPTS["diagnosis_oct"]

    def test_diagnosis_with_the_same_list_typed_by_the_user(self) -> None:
        labels = ("normal", "drusen", "diabetic macular edema", "choroidal neovascularization")
        request = TaskRequest(Task.DIAGNOSIS, "en", candidates=labels, modality="OCT")
        # The OCT2017 training list has no note sentence, so the typed list has none either.
        assert build_prompt(request) == DEMO_PROMPTS["diagnosis_oct"]

    def test_a_typed_training_list_keeps_its_note(self) -> None:
        preset = PRESETS_BY_KEY["brset"]
        request = TaskRequest(Task.DIAGNOSIS, "en", candidates=preset.labels, modality="OCT")
        assert build_prompt(request) == build_prompt(TaskRequest(Task.DIAGNOSIS, "en", variant="brset"))

    def test_an_own_list_with_normal_gets_the_note(self) -> None:
        request = TaskRequest(Task.DIAGNOSIS, "en", candidates=("normal", "glioma"), modality="MRI")
        assert '\nglioma\n"normal" means no diseases are detected. <image>' in build_prompt(request)

    def test_region_to_text_from_picture_pixels(self) -> None:
        # The user drew the box whose 0-999 form is the demo's, on the 512x512 demo picture.
        box = to_pixels(ModelBox(421, 351, 505, 470), 512, 512)
        request = TaskRequest(Task.REGION_TO_TEXT, "en", box=box, image_size=(512, 512), modality="CT")
        assert build_prompt(request) == DEMO_PROMPTS["region_to_text"]

    def test_text_to_region(self) -> None:
        request = TaskRequest(Task.TEXT_TO_REGION, "en", objects=("carotid vessel wall",), modality="MRI")
        assert build_prompt(request) == DEMO_PROMPTS["text_to_region"]

    def test_grounded_report(self) -> None:
        request = TaskRequest(Task.GROUNDED_REPORT, "en", objects=("right lung", "left lung"))
        assert build_prompt(request) == DEMO_PROMPTS["grounded_report"]

    def test_locate_describe(self) -> None:
        request = TaskRequest(Task.LOCATE_DESCRIBE, "zh", objects=("胰腺癌",))
        assert build_prompt(request) == DEMO_PROMPTS["locate_describe"]


class TestTrainingPrefixes:
    """Every other variant carries a training prefix byte for byte."""

    @pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.key)
    def test_every_preset_rebuilds_its_training_prefix(self, preset) -> None:
        assert classification_prefix(preset) == TRAINING_PREFIXES[PRESET_TRAINING_KEYS[preset.key]]

    def test_every_classification_prefix_has_a_preset(self) -> None:
        classification = {k for k in TRAINING_PREFIXES if "_cls" in k or k.startswith("pathcrc")}
        covered = {TRAINING_PREFIXES[k] for k in PRESET_TRAINING_KEYS.values()}
        assert {TRAINING_PREFIXES[k] for k in classification} == covered

    @pytest.mark.parametrize(
        ("variant", "key"), [("mimic-cxr", "mimiccxr_train_rg"), ("iu-xray", "iuxray_train_rg")]
    )
    def test_report_variants(self, variant: str, key: str) -> None:
        prompt = build_prompt(TaskRequest(Task.REPORT, "en", variant=variant))
        assert prompt == TRAINING_PREFIXES[key] + " <image>\n"

    def test_text_to_region_training_variant_adds_the_multi_box_sentence(self) -> None:
        request = TaskRequest(Task.TEXT_TO_REGION, "en", objects=("liver",), variant="training")
        assert build_prompt(request).startswith(TRAINING_PREFIXES["text2region"] + " <image>\n")

    def test_region_to_text_and_grounded_prefixes(self) -> None:
        r2t = build_prompt(TaskRequest(Task.REGION_TO_TEXT, "en", box=_box(), image_size=(100, 100)))
        grounded = build_prompt(TaskRequest(Task.GROUNDED_REPORT, "en"))
        assert r2t.startswith(TRAINING_PREFIXES["region2text"] + " <image>\n")
        assert grounded.startswith(TRAINING_PREFIXES["grounded_reports_mimiccxr"] + " <image>\n")

    def test_multiple_choice_vqa(self) -> None:
        question = "Which organ is shown? A: liver B: heart"
        prompt = build_prompt(TaskRequest(Task.VQA, "en", question=question, variant="options"))
        assert prompt == TRAINING_PREFIXES["pmcvqa_train_vqa"] + " <image>\n" + question


def _box():
    return to_pixels(ModelBox(100, 200, 300, 400), 100, 100)


class TestTaskDetails:
    def test_every_prompt_has_exactly_one_image_placeholder(self) -> None:
        requests = [
            TaskRequest(Task.VQA, "en", question="Is there a fracture?", variant="plain"),
            TaskRequest(Task.REPORT, "zh"),
            TaskRequest(Task.DIAGNOSIS, "en", variant="mura"),
            TaskRequest(Task.REGION_TO_TEXT, "en", box=_box(), image_size=(100, 100)),
            TaskRequest(Task.TEXT_TO_REGION, "en", objects=("stomach", "liver", "colon"), modality="CT"),
            TaskRequest(Task.GROUNDED_REPORT, "en", objects=GROUNDED_REPORT_STRUCTURES),
            TaskRequest(Task.LOCATE_DESCRIBE, "zh", variant="organ", modality="CT"),
            TaskRequest(Task.REGIONAL_COT, "zh", question="有肿块吗?"),
            TaskRequest(Task.FREE, "zh", question="描述这张图"),
        ]
        for request in requests:
            for layout in PromptLayout:
                assert build_prompt(_with(request, layout=layout)).count("<image>") == 1, request

    def test_several_objects_are_separate_refs(self) -> None:
        prompt = build_prompt(TaskRequest(Task.TEXT_TO_REGION, "en", objects=("stomach", "liver", "colon"), modality="CT"))
        assert prompt.endswith("\nPlease locate <ref>stomach</ref>, <ref>liver</ref>, <ref>colon</ref> in this CT scan.")

    def test_short_answer_suffix_is_not_doubled(self) -> None:
        question = "What is present? Answer the question using a single word or phrase."
        assert build_prompt(TaskRequest(Task.VQA, "en", question=question)).endswith("\n" + question)

    def test_plain_vqa_has_no_suffix(self) -> None:
        prompt = build_prompt(TaskRequest(Task.VQA, "en", question="Describe the lesion.", variant="plain"))
        assert prompt.endswith("<image>\nDescribe the lesion.")

    def test_grounded_report_without_objects_uses_the_all_structures_question(self) -> None:
        prompt = build_prompt(TaskRequest(Task.GROUNDED_REPORT, "en"))
        assert prompt.endswith(
            "<image>\nPlease locate the region and describe the condition of each structure within the chest X-ray scan."
        )

    def test_locate_describe_without_objects(self) -> None:
        lesion = build_prompt(TaskRequest(Task.LOCATE_DESCRIBE, "zh", modality="MRI"))
        organ = build_prompt(TaskRequest(Task.LOCATE_DESCRIBE, "zh", variant="organ", modality="CT"))
        assert lesion.endswith("<image>\n请定位并描述MRI图像中的病变区域。")
        assert organ.endswith("<image>\n请定位并描述CT图像中的器官。")

    def test_training_layout_puts_the_image_first(self) -> None:
        request = TaskRequest(Task.VQA, "en", question="What is present?", layout=PromptLayout.TRAINING)
        expected = "<image>\n" + TRAINING_PREFIXES["slake_train_vqa"] + " What is present? " + (
            "Answer the question using a single word or phrase."
        )
        assert build_prompt(request) == expected
        assert build_prompt(TaskRequest(Task.REPORT, "en", variant="iu-xray", layout=PromptLayout.TRAINING)) == (
            "<image>\n" + TRAINING_PREFIXES["iuxray_train_rg"]
        )

    def test_free_question_places_the_image_once(self) -> None:
        assert build_prompt(TaskRequest(Task.FREE, "en", question="What do you see?")) == "<image>\nWhat do you see?"
        assert build_prompt(TaskRequest(Task.FREE, "en", question="Look: <image> what?")) == "Look: <image> what?"
        with pytest.raises(PromptInputError):
            build_prompt(TaskRequest(Task.FREE, "en", question="<image> and <image>"))

    @pytest.mark.parametrize(
        ("phrase", "article"),
        [("OCT", "an"), ("X-ray", "an"), ("MRI", "an"), ("CT", "a"), ("chest x-ray", "a"), ("ultrasound", "an"),
         ("dermoscopic", "a"), ("US", "a"), ("endoscopy", "an"), ("PET", "a")],
    )
    def test_article_by_sound(self, phrase: str, article: str) -> None:
        assert indefinite_article(phrase) == article

    def test_custom_modality_takes_its_article(self) -> None:
        prompt = build_prompt(TaskRequest(Task.DIAGNOSIS, "en", candidates=("glioma", "meningioma"), modality="MRI"))
        assert prompt.startswith(
            "You are a helpful medical assistant. Your task is disease diagnosis. You are given an MRI image. "
            "The possible diagnoses are:\nglioma\nmeningioma\n<image>\nPlease diagnose the disease in the MRI image."
        )


def _with(request: TaskRequest, **changes) -> TaskRequest:
    import dataclasses

    return dataclasses.replace(request, **changes)


def _every_request() -> list[TaskRequest]:
    """One complete request per task, language, variant and layout MedRegA supports."""
    inputs = dict(question="Is there a mass?", objects=("liver", "spleen"), box=_box(), image_size=(100, 100),
                  modality="CT")
    requests = []
    for task in Task:
        for lang in supported_languages(task):
            for variant in task_variants(task):
                if lang == "zh" and variant in {"options", "mimic-cxr", "iu-xray"}:
                    continue  # English-only variants
                candidates = ("glioma", "meningioma") if variant == "custom" else ()
                for layout in PromptLayout:
                    requests.append(TaskRequest(task, lang, variant=variant, candidates=candidates, layout=layout,
                                                **inputs))
    return requests


class TestSplitNames:
    @pytest.mark.parametrize(
        ("typed", "names"),
        [("liver, spleen", ("liver", "spleen")), ("肝脏，脾脏、胰腺", ("肝脏", "脾脏、胰腺")),
         ("glioma\nmeningioma,\n , pituitary tumor ", ("glioma", "meningioma", "pituitary tumor")),
         ("", ()), (None, ()), (" , ,\n", ())],
    )
    def test_commas_and_line_breaks_separate_names(self, typed: str | None, names: tuple[str, ...]) -> None:
        assert split_names(typed) == names

    def test_split_names_feed_the_prompt_in_order(self) -> None:
        request = TaskRequest(Task.TEXT_TO_REGION, "en", objects=split_names("stomach，liver\ncolon"), modality="CT")
        assert build_prompt(request).endswith(
            "Please locate <ref>stomach</ref>, <ref>liver</ref>, <ref>colon</ref> in this CT scan."
        )


class TestFollowUpPrompts:
    @pytest.mark.parametrize(
        "request_", _every_request(), ids=lambda r: f"{r.task.value}-{r.lang}-{r.variant}-{r.layout.value}"
    )
    def test_a_follow_up_is_the_first_prompt_without_the_image_line(self, request_: TaskRequest) -> None:
        follow_up = build_follow_up_prompt(request_)
        assert "<image>" not in follow_up
        assert follow_up == build_prompt(request_).replace("<image>\n", "").strip()

    @pytest.mark.parametrize("layout", list(PromptLayout))
    def test_english_prefix_and_question_are_joined_by_a_space(self, layout: PromptLayout) -> None:
        request = TaskRequest(Task.REGION_TO_TEXT, "en", box=_box(), image_size=(100, 100), modality="CT",
                              layout=layout)
        assert build_follow_up_prompt(request) == (
            TRAINING_PREFIXES["region2text"]
            + " What is <ref>this</ref><box>[[100, 200, 300, 400]]</box> in this CT scan?"
        )

    def test_chinese_prompts_have_no_space(self) -> None:
        assert build_follow_up_prompt(TaskRequest(Task.VQA, "zh", question="有骨折吗?")) == (
            "你是一个医疗助手，你需要根据医学图像回答问题。有骨折吗?请用词或短语回答问题。"
        )

    def test_a_report_follow_up_is_the_prefix_alone(self) -> None:
        for variant, key in (("mimic-cxr", "mimiccxr_train_rg"), ("iu-xray", "iuxray_train_rg")):
            for layout in PromptLayout:
                request = TaskRequest(Task.REPORT, "en", variant=variant, layout=layout)
                assert build_follow_up_prompt(request) == TRAINING_PREFIXES[key]

    def test_listed_candidates_are_followed_directly_by_the_question(self) -> None:
        request = TaskRequest(Task.DIAGNOSIS, "en", candidates=("glioma", "meningioma"), modality="MRI")
        assert build_follow_up_prompt(request).endswith(
            "The possible diagnoses are:\nglioma\nmeningioma\nPlease diagnose the disease in the MRI image."
        )

    def test_a_free_follow_up_drops_the_typed_image_placeholder(self) -> None:
        assert build_follow_up_prompt(TaskRequest(Task.FREE, "en", question="And the left side?")) == (
            "And the left side?"
        )
        assert build_follow_up_prompt(TaskRequest(Task.FREE, "en", question="<image>\nAnd now?")) == "And now?"
        with pytest.raises(PromptInputError):
            build_follow_up_prompt(TaskRequest(Task.FREE, "en", question="<image> and <image>"))

    def test_follow_ups_refuse_what_first_prompts_refuse(self) -> None:
        with pytest.raises(PromptInputError):
            build_follow_up_prompt(TaskRequest(Task.VQA, "en"))
        with pytest.raises(UnsupportedLanguageError):
            build_follow_up_prompt(TaskRequest(Task.GROUNDED_REPORT, "zh"))


class TestLanguagesAndErrors:
    def test_supported_languages(self) -> None:
        assert supported_languages(Task.VQA) == ("en", "zh")
        assert supported_languages("locate-describe") == ("zh",)
        assert supported_languages(Task.GROUNDED_REPORT) == ("en",)
        assert all(supported_languages(task) for task in Task)

    @pytest.mark.parametrize("task", [t for t in Task if "zh" not in supported_languages(t)])
    def test_unsupported_language_is_a_clear_error(self, task: Task) -> None:
        with pytest.raises(UnsupportedLanguageError) as caught:
            build_prompt(TaskRequest(task, "zh", question="x", objects=("x",), candidates=("a", "b"),
                                     box=_box(), image_size=(100, 100)))
        assert task.value in str(caught.value)
        assert caught.value.localized("zh") != str(caught.value)

    @pytest.mark.parametrize(
        "request_",
        [
            TaskRequest(Task.VQA, "en"),
            TaskRequest(Task.TEXT_TO_REGION, "en"),
            TaskRequest(Task.REGION_TO_TEXT, "en"),
            TaskRequest(Task.REGION_TO_TEXT, "en", box=_box()),
            TaskRequest(Task.DIAGNOSIS, "en", candidates=("only one",)),
            TaskRequest(Task.DIAGNOSIS, "en", variant="oct2017", candidates=("a", "b")),
            TaskRequest(Task.DIAGNOSIS, "en", variant="no-such-preset"),
            TaskRequest(Task.VQA, "en", question="what is <image>?"),
            TaskRequest(Task.TEXT_TO_REGION, "en", objects=("<ref>liver</ref>",)),
            TaskRequest(Task.VQA, "zh", question="选哪个?", variant="options"),
        ],
    )
    def test_bad_input_raises_a_translated_task_error(self, request_: TaskRequest) -> None:
        with pytest.raises((PromptInputError, UnsupportedLanguageError)) as caught:
            build_prompt(request_)
        assert caught.value.localized("zh") != caught.value.localized("en")

    def test_box_outside_the_picture(self) -> None:
        from medrega_core.tasks import PixelBox

        with pytest.raises(BoxOutsidePictureError):
            build_prompt(TaskRequest(Task.REGION_TO_TEXT, "en", box=PixelBox(120, 10, 150, 20), image_size=(100, 100)))

    def test_every_task_has_variants_with_a_default_first(self) -> None:
        assert task_variants(Task.REPORT)[0] == "demo"
        assert "oct2017" in task_variants("diagnosis")


class TestCommandLine:
    def _run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "medrega_core", *args], input=stdin.encode() if stdin else None,
            capture_output=True, cwd=ROOT, timeout=60,
        )

    def test_prompt_prints_the_exact_text(self) -> None:
        result = self._run("prompt", "--task", "region-to-text", "--lang", "en", "--box",
                           "421.84,179.89,506.02,240.88", "--width", "1001", "--height", "512", "--modality", "CT")
        assert result.returncode == 0, result.stderr
        # A 1001x512 picture: x and y scale separately onto the demo's 0-999 box.
        assert result.stdout.decode() == DEMO_PROMPTS["region_to_text"]

    def test_prompt_in_chinese(self) -> None:
        result = self._run("prompt", "--task", "locate-describe", "--lang", "zh", "--objects", "胰腺癌")
        assert result.stdout.decode("utf-8") == DEMO_PROMPTS["locate_describe"]

    def test_prompt_reproduces_the_published_oct_prompt(self) -> None:
        result = self._run("prompt", "--task", "diagnosis", "--candidates", "normal", "drusen", "diabetic macular edema",
                           "choroidal neovascularization", "--modality", "OCT")
        assert result.returncode == 0, result.stderr
        assert result.stdout.decode() == DEMO_PROMPTS["diagnosis_oct"]

    def test_objects_and_candidates_take_comma_separated_lists(self) -> None:
        located = self._run("prompt", "--task", "text-to-region", "--objects", "stomach, liver", "colon", "--modality", "CT")
        assert located.stdout.decode().endswith(
            "Please locate <ref>stomach</ref>, <ref>liver</ref>, <ref>colon</ref> in this CT scan.")
        listed = self._run("prompt", "--task", "diagnosis", "--candidates",
                           "normal,drusen,diabetic macular edema，choroidal neovascularization", "--modality", "OCT")
        assert listed.stdout.decode() == DEMO_PROMPTS["diagnosis_oct"]

    def test_parse_of_a_huge_number_is_an_issue_not_a_traceback(self) -> None:
        answer = f"<ref>x</ref><box>[[{'9' * 400}, 1, 2, 3]]</box>"
        result = self._run("parse", "--width", "3056", "--height", "2544", stdin=answer)
        assert result.returncode == 0, result.stderr
        assert "clamped" in [issue["kind"] for issue in json.loads(result.stdout)["issues"]]

    def test_prompt_error_is_a_message_not_a_traceback(self) -> None:
        result = self._run("--lang", "zh", "prompt", "--task", "vqa")
        assert result.returncode == 2
        assert "Traceback" not in result.stderr.decode() and translate("Type a question first.", "zh") in result.stderr.decode()
