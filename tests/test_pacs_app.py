"""The PACS panel and the SR buttons of the real app (``app.py --dicomweb``) against a real Orthanc,
driven through ``gradio_client``."""

from __future__ import annotations

import asyncio
import html
import io
import re
from pathlib import Path
from typing import Iterator

import highdicom as hd
import numpy as np
import pydicom
import pytest
import requests
from gradio_client import Client
from gradio_client.client import Job
from gradio_client.exceptions import AppError
from pydicom.uid import generate_uid

from app_fixtures import running_app
from intake_fixtures import dicom_file, series_datasets, write_series
from medrega_core.errors import ScanError
from medrega_core.i18n import translate
from medrega_core.intake import View, open_scan, picture_values
from medrega_core.pacs import PacsClient, PacsSettings
from pacs_fixtures import PASSWORD, USER, PacsContent, pacs  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pacs_app(pacs: PacsContent, tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on the tiny checkpoint, pointed at the test Orthanc (password through the environment)."""
    log = tmp_path_factory.mktemp("pacs-app-log") / "app.log"
    with running_app(tiny_checkpoint, log, "--max-new-tokens", "16", "--dicomweb", pacs.orthanc.dicomweb,
                     "--dicomweb-user", USER, env={"MEDREGA_DICOMWEB_PASSWORD": PASSWORD}) as url:
        yield url
    assert "CompressedSamples" not in log.read_text(), "a patient name reached the server log"


def search(client: Client, show_identifiers: bool = False, **fields: str) -> tuple:
    return client.predict(fields.get("date_from", ""), fields.get("date_to", ""), fields.get("modality", ""),
                          fields.get("description", ""), fields.get("patient_id", ""), show_identifiers,
                          api_name="/pacs_search")


def shown_values(app_url: str, outputs: tuple) -> tuple[np.ndarray, dict]:
    """The values the viewer is given for the picture it opens with (through its data route), and that view."""
    value = next(o for o in outputs if isinstance(o, dict) and o.get("scan"))
    scan, view = value["scan"], value["view"]
    step = view["frame"]
    reply = requests.get(f"{app_url.rstrip('/')}/{scan['url']}/{view['plane']}/{step}/{view['slice']}", timeout=30)
    reply.raise_for_status()
    dtype = {"int16": "<i2", "uint16": "<u2", "float32": "<f4"}[reply.headers["X-Dtype"]]
    shape = (int(reply.headers["X-Height"]), int(reply.headers["X-Width"]))
    return np.frombuffer(reply.content, dtype).reshape(shape), view


def test_the_panel_lists_studies_and_hides_identifiers(pacs_app: str, pacs: PacsContent) -> None:
    client = Client(pacs_app, verbose=False)
    table, study_choices, _series = search(client)
    rows = table["data"]
    assert {"CT", "CR"} <= {row[1] for row in rows} and len(table["headers"]) == 4
    assert "CompressedSamples" not in str(table) and "CompressedSamples" not in str(study_choices)
    shown, _choices, _series = search(client, show_identifiers=True, modality="CT")
    assert any("CompressedSamples^CT1" in row and "1CT1" in row for row in shown["data"])
    assert not any(row[1] == "CR" for row in shown["data"])


@pytest.mark.parametrize("kind", ["ct", "cr"])
def test_the_panel_opens_a_series_with_the_pixels_of_the_files(pacs_app: str, pacs: PacsContent, kind: str) -> None:
    client = Client(pacs_app, verbose=False)
    study, originals = (pacs.ct_study, pacs.ct_paths) if kind == "ct" else (pacs.cr_study, [pacs.cr_path])
    series = client.predict(study, api_name="/pacs_series")
    assert series["value"] == (pacs.ct_series if kind == "ct" else pacs.cr_series)
    outputs = client.predict(study, series["value"], api_name="/pacs_open")
    metadata = next(o for o in outputs if isinstance(o, dict) and o.get("modality"))
    direct = open_scan([str(p) for p in originals])
    assert metadata["modality"] == direct.info.modality and metadata["num_slices"] == direct.info.num_slices
    values, view = shown_values(pacs_app, outputs)
    np.testing.assert_array_equal(values, picture_values(direct, View(plane=view["plane"], slice_index=view["slice"])).values)


def warnings_shown(job: Job) -> list[str]:
    """The warning toasts (``gr.Warning``) a finished job sent, from its stream of updates."""
    async def collect() -> list[str]:
        return [update.log[0] async for update in job
                if getattr(update, "log", None) and update.log[1] == "warning"]
    return asyncio.run(collect())


def test_the_panel_opens_the_good_instances_and_warns_in_the_users_language(pacs_app: str,
                                                                           pacs: PacsContent) -> None:
    client = Client(pacs_app, verbose=False)
    client.predict("zh", api_name="/set_language")
    job = client.submit(pacs.mr_study, pacs.mr_series, api_name="/pacs_open")
    outputs = job.result()
    metadata = next(o for o in outputs if isinstance(o, dict) and o.get("modality"))
    assert metadata["modality"] == "MR" and metadata["num_slices"] == 18
    good = open_scan([str(path) for number, path in enumerate(pacs.mr_paths) if number not in (6, 12)])
    values, view = shown_values(pacs_app, outputs)
    np.testing.assert_array_equal(values, picture_values(good, View(plane=view["plane"], slice_index=view["slice"])).values)
    (warning,) = warnings_shown(job)
    assert "无法获取或解码" in warning and "2" in warning


def test_download_sr_and_send_to_pacs_after_an_answer(pacs_app: str, pacs: PacsContent) -> None:
    client = Client(pacs_app, verbose=False)
    series = client.predict(pacs.ct_study, api_name="/pacs_series")["value"]
    client.predict(pacs.ct_study, series, api_name="/pacs_open")
    client.submit(None, "", "text-to-region", "demo", "", "liver", "", "", api_name="/ask").result()

    files = client.predict(False, api_name="/export_sr")
    report = pydicom.dcmread(files[0] if isinstance(files, list) else files)
    assert report.Modality == "SR" and report.PatientIdentityRemoved == "YES" and report.PatientID != "1CT1"

    before = {s["MainDicomTags"]["SeriesInstanceUID"] for s in pacs.orthanc.series_of_study(pacs.ct_study)}
    message = client.predict(api_name="/send_sr")
    after = {s["MainDicomTags"]["SeriesInstanceUID"]: s for s in pacs.orthanc.series_of_study(pacs.ct_study)}
    new = [uid for uid in after if uid not in before]
    assert len(new) == 1 and after[new[0]]["MainDicomTags"]["Modality"] == "SR" and new[0] in message
    instance = after[new[0]]["Instances"][0]
    stored = requests.get(f"{pacs.orthanc.rest}/instances/{instance}/file", auth=(USER, PASSWORD), timeout=30)
    sr = hd.sr.srread(io.BytesIO(stored.content))
    assert sr.PatientID == "1CT1" and sr.StudyInstanceUID == pacs.ct_study
    texts = {item.ConceptNameCodeSequence[0].CodeMeaning: item.TextValue
             for container in sr.ContentSequence if container.ValueType == "CONTAINER"
             for item in getattr(container, "ContentSequence", []) if item.ValueType == "TEXT"}
    assert texts["MedRegA task"] == "text-to-region" and "<ref>liver</ref>" in texts["Prompt sent to MedRegA"]


def test_panel_errors_come_in_the_users_language_and_the_app_keeps_serving(pacs_app: str) -> None:
    client = Client(pacs_app, verbose=False)
    client.predict("zh", api_name="/set_language")
    with pytest.raises(Exception) as caught:
        search(client, date_from="2004-01-19")
    assert "日期" in str(caught.value) and "YYYYMMDD" in str(caught.value)
    with pytest.raises(Exception) as caught:
        client.predict("1.2.3", "not a uid", api_name="/pacs_open")
    assert "UID" in str(caught.value) and "有效" in str(caught.value)
    table, _choices, _series = search(client, modality="CR")
    assert [row[1] for row in table["data"]] == ["CR"]


def store_series_the_intake_refuses(pacs: PacsContent, folder: Path) -> tuple[str, str]:
    """A CT series on the PACS whose last slice has another image size (each instance decodes, so the
    retrieval keeps them all; the intake refuses the series as a whole); its study and series UIDs."""
    slices = series_datasets(dicom_file("CT_small.dcm"), 4, description="CT with a slice of another size")
    study = generate_uid()
    for dataset in slices:
        dataset.StudyInstanceUID = study
    odd = slices[-1]
    odd.PixelData, odd.Rows, odd.Columns = odd.pixel_array[:64, :64].copy().tobytes(), 64, 64
    for path in write_series(slices, folder):
        pacs.orthanc.upload(path)
    return study, str(slices[0].SeriesInstanceUID)


def test_a_series_the_intake_refuses_shows_the_intake_message_and_no_scan(pacs_app: str, pacs: PacsContent,
                                                                          tmp_path: Path) -> None:
    """As a refused upload: the page without a scan first, then the intake's own message in the user's
    language, and the app keeps serving."""
    study, series = store_series_the_intake_refuses(pacs, tmp_path / "files")
    retrieved = PacsClient(PacsSettings(pacs.orthanc.dicomweb, USER, PASSWORD)).retrieve_series(
        study, series, tmp_path / "retrieved")
    assert len(retrieved.paths) == 4 and not retrieved.failed
    with pytest.raises(ScanError) as refused:
        open_scan([str(p) for p in retrieved.paths])
    # The intake names the slice by its retrieved file name (image-0001.dcm...), in whichever order it came.
    named = html.escape(translate(refused.value.message, "zh", **{**refused.value.params, "name": "NAME"}), quote=False)
    expected = re.escape(named).replace("NAME", r"image-\d{4}\.dcm")

    client = Client(pacs_app, verbose=False)
    client.predict("zh", api_name="/set_language")
    client.predict(pacs.ct_study, pacs.ct_series, api_name="/pacs_open")  # a scan is open before
    job = client.submit(study, series, api_name="/pacs_open")
    with pytest.raises(AppError) as shown:
        job.result()
    assert re.fullmatch(expected, shown.value.message), shown.value.message
    assert shown.value.title == translate("Error", "zh")
    (closed,) = job.outputs()
    viewer_value = next(o for o in closed if isinstance(o, dict) and "scan" in o)
    assert viewer_value["scan"] is None and not any(isinstance(o, dict) and o.get("modality") for o in closed)

    outputs = client.predict(pacs.ct_study, pacs.ct_series, api_name="/pacs_open")
    assert next(o for o in outputs if isinstance(o, dict) and o.get("modality"))["modality"] == "CT"
