"""Issue 18, as a new user meets it (Chromium + Playwright against the real app on the trained
checkpoint, which answers with a box): the plane label of 2-D pictures, the chat's own icons,
MetaImage uploads, the series chooser, the scan line, and the exported files read back."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import nibabel
import numpy as np
import pydicom
import pytest

from app_fixtures import app_url  # noqa: F401  (fixture)
from intake_fixtures import dataset_bytes, dicom_file, itk_file, nibabel_file, series_datasets, zip_members
from viewer_fixtures import (  # noqa: F401  (browser: fixture)
    browser, choose_task, drag, open_app, page_point, upload, viewer_state,
)

APP_CHECKPOINT = "trained"
pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def page(browser, app_url: str):
    tab = open_app(browser, app_url)
    yield tab
    tab.close()


def overlay_title(page) -> str:
    return page.locator("#scan-viewer .medrega-corner.top-left").inner_text()


def scan_line(page) -> str:
    return page.locator("#scan-line").inner_text()


def with_orientation(folder: Path, name: str, source: str, orientation: list[float], **tags: str) -> Path:
    """A real single-slice file with another Image Orientation (Patient) (and other header values)."""
    ds = pydicom.dcmread(dicom_file(source))
    ds.ImageOrientationPatient = orientation
    for keyword, value in tags.items():
        setattr(ds, keyword, value)
    path = folder / name
    ds.save_as(path)
    return path


def test_2d_pictures_are_labelled_with_their_own_plane(page, tmp_path: Path) -> None:
    cases = [
        (with_orientation(tmp_path, "sagittal_mr.dcm", "MR_small.dcm", [0, 1, 0, 0, 0, -1]), "Sagittal"),
        (with_orientation(tmp_path, "coronal_scout.dcm", "CT_small.dcm", [1, 0, 0, 0, 0, -1],
                          ImageType=["ORIGINAL", "PRIMARY", "LOCALIZER"]), "Coronal"),
        (Path(dicom_file("MR2_UNCI.dcm")), "Oblique"),  # a shoulder MR 35 degrees off the sagittal plane
        (Path(dicom_file("RG1_UNCI.dcm")), "Projection"),  # a chest radiograph (CR)
        (Path(dicom_file("CT_small.dcm")), "Axial"),
    ]
    for path, label in cases:
        upload(page, path)
        page.wait_for_function(
            "(label) => document.querySelector('#scan-viewer .medrega-corner.top-left').innerText.includes(label)",
            arg=label)
        others = {"Axial", "Coronal", "Sagittal", "Oblique", "Projection"} - {label}
        assert not any(other in overlay_title(page) for other in others), (path.name, overlay_title(page))


def ask(page, task: str, field: str, text: str) -> None:
    """Ask ``task`` about ``text`` and wait until the answer is in and the follow-up prompt is shown."""
    choose_task(page, task, field, text)
    page.locator("#ask").click()
    page.wait_for_function("document.querySelector('#speed').innerText.includes('tokens/s')")
    page.wait_for_function("!document.querySelector('#prompt textarea').value.includes('<image>')")


def ask_free_question(page) -> None:
    ask(page, "Free question", "question", "Is there a fracture?")


def test_the_chat_shows_no_share_icon(page) -> None:
    upload(page, Path(dicom_file("CT_small.dcm")))
    ask_free_question(page)
    page.locator("#chat img").first.wait_for()  # the answer's picture, whose own icons Gradio draws too
    shown_share = page.evaluate("[...document.querySelectorAll('#chat button')].filter(b => b.offsetParent !== null"
                                " && /share/i.test(b.getAttribute('aria-label') + b.title)).length")
    assert shown_share == 0


def test_the_chats_trash_icon_starts_a_new_conversation(page) -> None:
    upload(page, Path(dicom_file("CT_small.dcm")))
    ask_free_question(page)
    page.locator("#chat button[aria-label='Clear']").click()
    # The next question is a first question again: its prompt carries the image.
    page.wait_for_function("document.querySelector('#prompt textarea').value.includes('<image>')")
    page.locator("#ask").click()
    page.wait_for_function("!document.querySelector('#ask').disabled && "
                           "document.querySelectorAll('#chat .message-row.user-row').length === 1")
    page.wait_for_timeout(1000)
    assert page.locator("#chat .message-row.user-row").count() == 1  # the old turns did not come back


def test_a_metaimage_opens_with_its_data_file_and_says_when_the_data_file_is_missing(page, tmp_path: Path) -> None:
    # Each file in its own folder, as a browser upload stores them.
    pairs = [("BrainProtonDensity3Slices.mha", "BrainProtonDensity3Slices.raw", "3 axial slices"),
             ("BrainProtonDensitySliceBorder20.mhd", "BrainProtonDensitySliceBorder20.raw", "221 × 257")]
    for header, data, expected in pairs:
        (tmp_path / "h").mkdir(exist_ok=True)
        (tmp_path / "d").mkdir(exist_ok=True)
        header_copy = Path(shutil.copy(itk_file(header), tmp_path / "h" / header))
        data_copy = Path(shutil.copy(itk_file(data), tmp_path / "d" / data))
        upload(page, [header_copy, data_copy])
        page.wait_for_function("(words) => document.querySelector('#scan-line').innerText.includes(words)",
                               arg=expected)
    alone = Path(shutil.copy(itk_file("BrainProtonDensity3Slices.mha"), tmp_path / "alone.mha"))
    page.set_input_files("#scan-upload input[type=file]", [str(alone)])
    toast = page.locator(".toast-body", has_text="alone.mha").first
    toast.wait_for()
    assert "BrainProtonDensity3Slices.raw" in toast.inner_text() and "damaged" not in toast.inner_text()


def test_the_series_chooser_closes_the_previous_scan(page, tmp_path: Path) -> None:
    upload(page, Path(dicom_file("MR_small.dcm")))
    assert "MR" in scan_line(page)
    members = {}
    for number, description in ((1, "first"), (2, "second")):
        for index, ds in enumerate(series_datasets(dicom_file("CT_small.dcm"), 2, description=description)):
            members[f"s{number}/{index}.dcm"] = dataset_bytes(ds)
    page.set_input_files("#scan-upload input[type=file]", [str(zip_members(tmp_path / "two.zip", members))])
    page.locator("#series-choice").wait_for(state="visible")
    page.wait_for_function("document.querySelector('#scan-line').innerText.trim() === ''")
    page.wait_for_function("window.medregaViewer.state().scanKey === null")


def test_the_scan_line_has_no_number_for_a_description_and_counts_what_the_viewer_counts(page, tmp_path: Path) -> None:
    upload(page, Path(dicom_file("CT_small.dcm")))  # its StudyDescription is "e+1"
    page.wait_for_function("document.querySelector('#scan-line').innerText.includes('CT')")
    assert "e+1" not in scan_line(page)
    # A NIfTI stored as sagittal slices: the viewer shows its axial plane first.
    image = nibabel.load(nibabel_file("example4d.nii.gz"))
    volume = nibabel.Nifti1Image(np.asarray(image.dataobj)[..., 0], image.affine)
    sagittal = volume.as_reoriented(nibabel.orientations.ornt_transform(
        nibabel.orientations.io_orientation(volume.affine), nibabel.orientations.axcodes2ornt(("A", "S", "R"))))
    path = tmp_path / "sagittal.nii.gz"
    nibabel.save(sagittal, path)
    state = upload(page, path)
    line = scan_line(page)
    assert f"{state['numSlices']} axial slices" in line, line
    assert re.search(r"Slice \d+/(\d+)", overlay_title(page) + page.locator("#scan-viewer .medrega-corner.bottom-left").inner_text()).group(1) == str(state["numSlices"])


def exported_paths(page) -> list[Path]:
    links = page.locator("#export-files a").evaluate_all("links => links.map(a => a.href)")
    paths = []
    for link in links:
        match = re.search(r"file=(.*)$", urllib.parse.unquote(link))
        paths.append(Path(match.group(1)))
    return sorted(set(paths))


def ask_about_the_liver(page) -> None:
    ask(page, "Find objects (text to region)", "objects", "liver")


def export_all(page) -> dict[str, Path]:
    """Export PNG/JSON/Markdown, then Download SR; the files listed afterwards, by suffix."""
    page.locator("#export").click()
    page.wait_for_function("document.querySelectorAll('#export-files a').length >= 3")
    page.locator("#export-sr").click()
    page.wait_for_function("[...document.querySelectorAll('#export-files a')].some(a => a.href.includes('.sr.dcm'))")
    return {p.name.split(".", 1)[1]: p for p in exported_paths(page)}


def test_exports_carry_labels_plain_answers_and_one_de_identification(page, trained_checkpoint: Path) -> None:
    state = upload(page, Path(dicom_file("CT_small.dcm")))
    page.evaluate("window.medregaViewer.setTool('box')")
    drag(page, page_point(state, 20, 20), page_point(state, 60, 60))
    page.wait_for_function("window.medregaViewer.state().boxes.length === 1")
    page.mouse.dblclick(*page_point(state, 40, 40))
    page.locator(".medrega-rename").fill("lesion")
    page.locator(".medrega-rename").press("Enter")
    ask_about_the_liver(page)
    by_suffix = export_all(page)
    assert set(by_suffix) == {"png", "json", "md", "sr.dcm"}, by_suffix  # the SR beside the others

    document = json.loads(by_suffix["json"].read_text(encoding="utf-8"))
    markdown = by_suffix["md"].read_text(encoding="utf-8")
    assert "<ref>" not in markdown.split("## Answer")[1] and "liver [1]" in markdown
    header = document["scan"]["dicom"]
    assert "InstitutionAddress" not in header  # CT_small has none: nothing invented shows
    sr = pydicom.dcmread(by_suffix["sr.dcm"])
    assert str(sr.PatientName) == header["PatientName"]["substitute"]
    assert sr.StudyInstanceUID == header["StudyInstanceUID"]["substitute"]
    dump = subprocess.run(["dsrdump", "+Pl", str(by_suffix["sr.dcm"])], capture_output=True, text=True,
                          check=True).stdout
    assert '"Tracking Identifier")="lesion"' in dump and "User box" not in dump
    assert '"MedRegA answer")="liver [1]"' in dump
    checkpoint_path = str(trained_checkpoint)
    for path in (by_suffix["json"], by_suffix["md"]):
        assert checkpoint_path not in path.read_text(encoding="utf-8")
    assert checkpoint_path not in dump and checkpoint_path not in page.locator("#status").inner_text()
    assert trained_checkpoint.name in page.locator("#status").inner_text()

    from PIL import Image

    with Image.open(by_suffix["png"]) as png:
        framed = np.asarray(png.convert("RGB"))
    top = document["png"]["picture_offset_px"][1] + document["view"]["picture_size"][1]
    # The answer's line(s) on their dark band, above the notice.
    assert ((framed[top:] == (40, 40, 40)).all(axis=2)).any(axis=1).sum() > 10


def test_measurements_go_into_the_exports(page) -> None:
    state = upload(page, Path(dicom_file("CT_small.dcm")))
    page.evaluate("window.medregaViewer.setTool('length')")
    drag(page, page_point(state, 10, 100), page_point(state, 90, 100))
    page.wait_for_function("window.medregaViewer.state().measurements.length === 1")
    ask_about_the_liver(page)
    # A mark placed after the answer, on the same picture, goes out too (a reader measures the finding).
    page.evaluate("window.medregaViewer.setTool('probe')")
    page.evaluate("window.scrollTo(0, 0)")  # the answer scrolled the page
    page.wait_for_function("window.medregaViewer.state().imageRect.top > 0")
    page.mouse.click(*page_point(viewer_state(page), 110, 30))  # outside the model's box
    page.wait_for_function("window.medregaViewer.state().measurements.length === 2")
    page.wait_for_timeout(1000)  # the viewer tells the server after a short debounce
    by_suffix = export_all(page)
    document = json.loads(by_suffix["json"].read_text(encoding="utf-8"))
    length, probe = document["measurements"]
    assert length["kind"] == "length" and length["unit"] == "mm" and length["value"] == pytest.approx(
        80 * document["scan"]["info"]["spacing"][0], rel=0.05)
    assert probe["kind"] == "probe" and probe["unit"] == "HU"
    markdown = by_suffix["md"].read_text(encoding="utf-8")
    assert length["text"] in markdown and probe["text"] in markdown
    dump = subprocess.run(["dsrdump", "+Pl", str(by_suffix["sr.dcm"])], capture_output=True, text=True,
                          check=True).stdout
    assert 'NUM:(,,"Length")' in dump and "Hounsfield unit" in dump

    from PIL import Image

    with Image.open(by_suffix["png"]) as png:
        framed = np.asarray(png.convert("RGB"))
    x0, y0 = document["png"]["picture_offset_px"]
    width, height = document["view"]["picture_size"]
    picture = framed[y0:y0 + height, x0:x0 + width].astype(int)
    yellow = (picture[..., 0] > 200) & (picture[..., 1] > 200) & (picture[..., 2] < 100)
    assert yellow[95:106, 15:85].any(axis=0).mean() > 0.9  # the length line is drawn where it was measured
