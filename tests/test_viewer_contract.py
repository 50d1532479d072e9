"""The Python side of the viewer's contract: every value ui_components/viewer.py sends the browser, and
what it accepts back, conforms to ui_components/viewer_frontend/schema/contract.schema.json, the file the
browser's TypeScript types are generated from (tests/test_viewer_browser.py checks the browser's reports)."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from contract_check import assert_conforms, problems
from intake_fixtures import nibabel_file
from medrega_core.tasks import PixelBox, Task, parse_answer
from trained_checkpoint import ANSWERS
from ui_components.context import AppContext, ServerOptions
from ui_components.state import Exchange, SessionState, UserBox
from ui_components.viewer import adopt_viewer_state, ctx_propose, empty_value, load_files, viewer_value


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> AppContext:
    return AppContext.create(ServerOptions(), tmp_path_factory.mktemp("work"))


def cine(folder: Path, **timing: float) -> str:
    """pydicom's 10-frame MR as a cine with the given timing attributes."""
    ds = pydicom.dcmread(get_testdata_file("emri_small.dcm"))
    for keyword, value in timing.items():
        setattr(ds, keyword, value)
    path = folder / "cine.dcm"
    ds.save_as(path)
    return str(path)


def opened(ctx: AppContext, paths: list[str]) -> SessionState:
    state = SessionState()
    assert load_files(state, ctx, paths) is None
    return state


@pytest.mark.parametrize("source", ["CT_small.dcm", "emri_small.dcm", "example4d.nii.gz", "US1_UNCR.dcm"])
def test_the_viewer_value_of_every_kind_of_scan_conforms(ctx, source: str) -> None:
    path = str(nibabel_file(source)) if source.endswith(".nii.gz") else get_testdata_file(source)
    state = opened(ctx, [path])
    state.user_boxes.append(UserBox(PixelBox(3, 4, 50, 60.5), "lesion"))
    assert_conforms(viewer_value(state, push_view=True, push_boxes=True), "ViewerValue")


def test_the_empty_viewer_and_the_models_boxes_conform(ctx) -> None:
    assert_conforms(empty_value("zh"), "ViewerValue")
    state = opened(ctx, [get_testdata_file("CT_small.dcm")])
    state.parsed = parse_answer(ANSWERS[Task.TEXT_TO_REGION])
    state.exchanges.append(Exchange(task="text_to_region", prompt="", rendering=state.render_view()))
    state.selected_region = 0
    value = viewer_value(state)
    assert len(value["modelBoxes"]) == 1
    assert_conforms(value, "ViewerValue")


def test_the_cine_frame_time_comes_from_the_file(ctx, tmp_path) -> None:
    scan_of = lambda **timing: viewer_value(opened(ctx, [cine(tmp_path, **timing)]))["scan"]  # noqa: E731
    assert scan_of(FrameTime=33.0)["frameTimeMs"] == pytest.approx(33.0)
    assert scan_of(CineRate=25)["frameTimeMs"] == pytest.approx(40.0)
    assert scan_of()["frameTimeMs"] is None
    assert viewer_value(opened(ctx, [get_testdata_file("CT_small.dcm")]))["scan"]["frameTimeMs"] is None


def test_the_proposal_answers_conform_and_a_conforming_state_report_is_adopted(ctx) -> None:
    state = opened(ctx, [get_testdata_file("CT_small.dcm")])
    request = {"key": state.scan_token, "x": 64.5, "y": 40.5, "plane": "axial", "slice": 0, "frame": 0,
               "window": {"center": 40, "width": 400}, "lang": "en"}
    assert_conforms(request, "ProposeRequest")
    propose = ctx_propose(ctx)
    answer = propose(request)
    assert "box" in answer
    assert_conforms(answer, "ProposeAnswer")
    assert_conforms(propose({**request, "key": "not-a-token"}), "ProposeAnswer")
    report = {"plane": "axial", "slice": 0, "numSlices": 1, "frame": 0, "numFrames": 1, "window": {"center": 40, "width": 400},
              "zoom": 1.0, "tool": "box", "boxes": [{**answer["box"], "id": "a", "label": "nodule"}], "selectedBox": "a",
              "measurements": [{"kind": "length", "points": [[10, 10], [40, 50]]}, {"kind": "probe", "points": [[64, 40]]}],
              "modelBoxes": [], "selectedRegion": None, "picture": {"width": 128, "height": 128},
              "imageRect": {"left": 0, "top": 0, "width": 512, "height": 512}, "scanKey": state.scan_token, "cine": False,
              "cineFps": 12, "renderPath": "gpu", "loaded": 1, "rendered": True}
    assert_conforms(report, "ViewerState")
    adopt_viewer_state(state, report)
    assert [u.label for u in state.user_boxes] == ["nodule"] and state.selected_box == 0
    assert state.view.window.width == 400
    assert [(m.kind, len(m.points)) for m in state.measurements] == [("length", 2), ("probe", 1)]


def test_the_check_catches_a_box_in_another_format() -> None:
    assert problems({"x1": 1, "y1": 2, "x2": 3, "y2": 4, "label": ""}, {"$ref": "#/$defs/Box"})
    assert problems({"xmin": 1, "ymin": 2, "xmax": 3, "ymax": "4", "label": ""}, {"$ref": "#/$defs/Box"})
    assert not problems({"xmin": 1, "ymin": 2, "xmax": 3, "ymax": 4.5, "label": ""}, {"$ref": "#/$defs/Box"})
