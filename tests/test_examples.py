"""The examples gallery: every catalogued example resolves here, opens, and suggests a valid prompt."""

from __future__ import annotations

import json

import pytest

from medrega_core.examples import CATALOG_PATH, list_examples
from medrega_core.intake import open_scan, render
from medrega_core.tasks import TaskRequest, build_prompt, supported_languages

EXAMPLES = list_examples()


def test_catalogued_examples_are_installed_here() -> None:
    catalogued = {entry["key"] for entry in json.loads(CATALOG_PATH.read_text(encoding="utf-8"))["examples"]}
    # CI installs every package the catalog names (pydicom-data, nibabel, insighttoolkit5-examples).
    assert {example.key for example in EXAMPLES} == catalogued


def test_missing_files_leave_the_example_out(tmp_path) -> None:
    catalog = tmp_path / "catalog.json"
    entry = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))["examples"][0]
    missing = dict(entry, key="missing", files=[{"path": str(tmp_path / "absent.dcm")}])
    catalog.write_text(json.dumps({"examples": [entry, missing]}), encoding="utf-8")
    assert [example.key for example in list_examples(catalog)] == [entry["key"]]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.key)
def test_example_opens_and_renders(example) -> None:
    scan = open_scan(example.paths)
    picture = render(scan, scan.default_view())
    assert picture.rgb.ndim == 3 and picture.rgb.shape[2] == 3
    assert picture.rgb.std() > 5, "an example should not render as a flat picture"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.key)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_example_suggestion_builds_a_prompt(example, lang) -> None:
    suggestion = example.suggestion(lang)
    assert lang in supported_languages(suggestion.task)
    prompt = build_prompt(
        TaskRequest(task=suggestion.task, lang=lang, question=suggestion.question, objects=suggestion.objects)
    )
    assert prompt.count("<image>") == 1
    assert example.title[lang]
