"""The real app over its API (``gradio_client``): scan upload, streamed answers, errors, sessions."""

from __future__ import annotations

import html
import re
import zipfile
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from PIL import Image
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from app_fixtures import app_url  # noqa: F401  (fixture)
from medrega_core.examples import list_examples

pytestmark = pytest.mark.slow

CT = get_testdata_file("CT_small.dcm")
CJK = re.compile(r"[\u4e00-\u9fff]")


def load(client: Client, path: str) -> tuple:
    return client.predict([handle_file(path)], api_name="/load_scan")


def ask(client: Client, task: str, question: str = "", objects: str = "", variant: str = "demo"):
    return client.submit(None, "", task, variant, question, objects, "", "", api_name="/ask")


def message_text(message: dict) -> str:
    """The text parts of a Gradio 6 chat message (its content is a list of text and file parts)."""
    return "".join(part.get("text", "") for part in message["content"])


def message_files(message: dict) -> list[str]:
    return [part["file"] for part in message["content"] if part.get("type") == "file"]


def chat_of(outputs: tuple) -> list[dict]:
    return next(o for o in outputs if isinstance(o, list) and o and isinstance(o[0], dict) and "role" in o[0])


def test_api_lists_named_endpoints(app_url: str) -> None:
    endpoints = Client(app_url, verbose=False).view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert {"/load_scan", "/set_view", "/set_boxes", "/ask", "/stop", "/export", "/set_language"} <= set(endpoints)


def test_scripts_pass_the_documented_parameter_names_as_keywords(app_url: str) -> None:
    """docs/APP.md, "API": the names ``view_api`` shows are the handlers', and optional inputs may be left out."""
    client = Client(app_url, verbose=False)
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    names = {name: [p["parameter_name"] for p in endpoints[name]["parameters"]]
             for name in ("/ask", "/preview_prompt", "/set_view", "/set_boxes", "/choose_series", "/export")}
    assert names == {
        "/ask": ["viewer_state", "prompt", "task", "variant", "question", "objects", "candidates", "modality"],
        "/preview_prompt": ["task", "variant", "question", "objects", "candidates", "modality"],
        "/set_view": ["view"], "/set_boxes": ["boxes"], "/choose_series": ["series_uid"],
        "/export": ["include_identifiers"]}
    client.predict(files=[handle_file(CT)], api_name="/load_scan")
    client.predict(view={"plane": "axial", "preset": "bone"}, api_name="/set_view")
    client.predict(boxes=[{"xmin": 30, "ymin": 40, "xmax": 70, "ymax": 90, "label": "lesion"}], api_name="/set_boxes")
    previewed = client.predict(task="region-to-text", api_name="/preview_prompt")  # the prompt and the note
    assert any("<box>" in text for text in previewed) and "The question is about: lesion" in previewed
    outputs = client.submit(viewer_state=None, task="free", question="What is shown?", api_name="/ask").result()
    assert [m["role"] for m in chat_of(outputs)][:2] == ["user", "assistant"]


def test_the_status_is_right_on_first_paint(app_url: str) -> None:
    """The page as built must not carry a stale "Loading the model: 0%": its load event says where the model is."""
    import httpx

    config = httpx.get(app_url + "config", timeout=30).json()
    (status,) = [c for c in config["components"] if c.get("props", {}).get("elem_id") == "status"]
    assert not status["props"].get("value"), "the page carries the status of the moment it was built"
    on_load = [dep for dep in config["dependencies"]
               if status["id"] in dep["outputs"] and any(event == "load" for _, event in dep["targets"])]
    assert on_load, "no page-load event fills the status line"
    assert Client(app_url, verbose=False).predict(api_name="/status_on_load").startswith("Model ready")


def test_dicom_upload_then_task_streams_text_and_an_annotated_png(app_url: str) -> None:
    client = Client(app_url, verbose=False)
    outputs = load(client, CT)
    metadata = next(o for o in outputs if isinstance(o, dict) and o.get("modality"))
    assert metadata["modality"] == "CT" and metadata["size"] == [128, 128]
    assert not any(key in metadata for key in ("patient_name", "PatientName", "patient_id"))

    job = ask(client, "text-to-region", objects="vertebral body")
    partials = list(job)
    final = job.outputs()[-1]
    assert len(partials) >= 2, "the answer should arrive in several streamed steps"
    chat = chat_of(final)
    # The user's turn says what was asked in plain words; the exact prompt is in a closed details block.
    asked, _, exact = message_text(chat[0]).partition("<details>")
    assert chat[0]["role"] == "user" and asked.strip() == "Find objects (text to region) · vertebral body"
    assert "<ref>vertebral body</ref>" in html.unescape(exact) and "<ref>" not in exact
    assert chat[-2]["role"] == "assistant" and message_text(chat[-2]).strip()
    picture = message_files(chat[-1])[0]
    with Image.open(picture) as image:
        assert image.format == "PNG" and image.size == (128, 128)

    # A follow-up keeps the image and the conversation; its prompt has no <image> of its own.
    follow_up = ask(client, "free", question="How large is it?")
    users = [html.unescape(message_text(m)) for m in chat_of(follow_up.result()) if m["role"] == "user"]
    assert len(users) == 2 and "<image>" in users[0] and "<image>" not in users[1] and "How large" in users[1]


def test_bad_upload_gives_the_localized_error_and_the_next_request_works(app_url: str, tmp_path: Path) -> None:
    client = Client(app_url, verbose=False)
    client.predict("zh", api_name="/set_language")
    bad = tmp_path / "notes.dcm"
    bad.write_bytes(b"this is not a scan" * 20)
    with pytest.raises(Exception) as caught:
        load(client, str(bad))
    assert CJK.search(str(caught.value)), f"error not in Chinese: {caught.value}"
    outputs = load(client, CT)
    assert any(isinstance(o, dict) and o.get("modality") == "CT" for o in outputs)


def test_two_clients_do_not_see_each_others_scan(app_url: str) -> None:
    first, second = Client(app_url, verbose=False), Client(app_url, verbose=False)
    load(first, CT)
    first.predict({"plane": "axial", "slice": 0, "preset": "bone"}, api_name="/set_view")
    with pytest.raises(Exception, match="Load a scan first"):
        second.predict({"plane": "axial", "slice": 0, "preset": "bone"}, api_name="/set_view")
    with pytest.raises(Exception, match="Load a scan first"):
        ask(second, "vqa", question="Which organ is shown?", variant="short").result()


def two_series_zip(tmp_path: Path) -> tuple[Path, list[str]]:
    """A zip of two CT series without descriptions (3 and 2 slices) and their UIDs, largest first."""
    source = dcmread(CT)
    archive = tmp_path / "two-series.zip"
    uids = []
    with zipfile.ZipFile(archive, "w") as zf:
        for number, (series, count) in enumerate((("a", 3), ("b", 2)), start=1):
            uid = generate_uid()
            uids.append(uid)
            for index in range(count):
                ds = source.copy()
                ds.SeriesInstanceUID, ds.SOPInstanceUID = uid, generate_uid()
                ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
                ds.InstanceNumber, ds.SeriesNumber, ds.SeriesDescription = index + 1, number, ""
                ds.ImagePositionPatient = [0.0, 0.0, 5.0 * index]
                path = tmp_path / f"{series}{index}.dcm"
                ds.save_as(path)
                zf.write(path, path.name)
    return archive, uids


def series_choice(outputs: tuple) -> dict:
    return next(o for o in outputs if isinstance(o, dict) and o.get("visible") is True and o.get("choices"))


def test_a_zip_with_two_series_asks_which_one_then_opens_it(app_url: str, tmp_path: Path) -> None:
    archive, uids = two_series_zip(tmp_path)
    client = Client(app_url, verbose=False)
    choice = series_choice(load(client, str(archive)))
    assert [value for _label, value in choice["choices"]] == uids  # largest series first
    labels = [label for label, _value in choice["choices"]]
    assert all(uid not in label for uid in uids for label in labels)
    assert labels[0].startswith("Series without description · CT · series 1 · 3 images")
    opened = client.predict(uids[1], api_name="/choose_series")
    metadata = next(o for o in opened if isinstance(o, dict) and o.get("modality"))
    assert metadata["num_slices"] == 2


def test_an_example_opens_with_its_suggested_task(app_url: str) -> None:
    client = Client(app_url, verbose=False)
    index = [example.key for example in list_examples()].index("ct-thoracic-spine")
    outputs = client.predict(index, api_name="/open_example")
    assert any(isinstance(o, dict) and o.get("modality") == "CT" for o in outputs)
    assert "text-to-region" in outputs and "vertebral body" in outputs


def test_closing_the_series_chooser_without_a_choice_changes_nothing(app_url: str, tmp_path: Path) -> None:
    archive, uids = two_series_zip(tmp_path)
    client = Client(app_url, verbose=False)
    load(client, str(archive))
    client.predict(None, api_name="/choose_series")  # the dropdown closed by Escape sends no value
    opened = client.predict(uids[0], api_name="/choose_series")
    assert next(o for o in opened if isinstance(o, dict) and o.get("modality"))["num_slices"] == 3


def test_a_failed_upload_closes_the_previous_scan(app_url: str, tmp_path: Path) -> None:
    client = Client(app_url, verbose=False)
    load(client, CT)
    bad = tmp_path / "random.dcm"
    bad.write_bytes(bytes(range(256)) * 16)
    with pytest.raises(Exception, match="random.dcm"):
        load(client, str(bad))
    with pytest.raises(Exception, match="Load a scan first"):
        ask(client, "vqa", question="Which organ is shown?", variant="short").result()
    with pytest.raises(Exception, match="Load a scan first"):
        client.predict({"plane": "axial", "slice": 0, "preset": "bone"}, api_name="/set_view")
