"""The teacher's page opens a series from a PACS (``app.py --dicomweb``, a real Orthanc) with the
workbench's PACS panel and saves it as a case: the stored files are the series' readable images,
de-identified (no patient name or ID of the PACS's files), and one series."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np
import pydicom
import pytest
from gradio_client import Client

from pacs_fixtures import PASSWORD, USER, PacsContent, pacs  # noqa: F401  (fixture)
from teaching_fixtures import TEACHER_PASSWORD, teaching_app
from test_teaching_browser import draw_box, new_page
from viewer_fixtures import browser, viewer_state  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: The MR series' slices that the PACS cannot send readable (see ``PacsContent``).
DAMAGED = (6, 12)


@pytest.fixture(scope="module")
def teaching_pacs_url(pacs: PacsContent, tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory
                      ) -> Iterator[str]:
    """The app with its teaching pages, pointed at the test Orthanc (password through the environment)."""
    folder = tmp_path_factory.mktemp("teaching-pacs")
    log = folder / "app.log"
    with teaching_app(tiny_checkpoint, folder / "data", log, "--dicomweb", pacs.orthanc.dicomweb,
                      "--dicomweb-user", USER, env={"MEDREGA_DICOMWEB_PASSWORD": PASSWORD}) as url:
        yield url
    assert "CompressedSamples" not in log.read_text(), "a patient name reached the server log"


def test_the_teacher_saves_a_pacs_series_as_a_de_identified_case(browser, teaching_pacs_url: str,
                                                                 pacs: PacsContent) -> None:
    teacher = new_page(browser, teaching_pacs_url + "teach", (1500, 1600))
    teacher.fill("#teach-key input", TEACHER_PASSWORD)
    teacher.locator("#teach-pacs").get_by_text("PACS (DICOMweb)").click()
    teacher.fill("#teach-pacs-modality textarea", "MR")
    teacher.click("#teach-pacs-search")
    teacher.locator("#teach-pacs-study input").click()
    teacher.get_by_role("option", name="MR", exact=False).first.click()
    teacher.wait_for_function("document.querySelector('#teach-pacs-series input')?.value.includes('MR with odd')")
    teacher.click("#teach-pacs-open")
    teacher.wait_for_function("window.medregaViewer && window.medregaViewer.state().rendered")
    assert viewer_state(teacher)["numSlices"] == 20 - len(DAMAGED)
    teacher.locator(".toast-body", has_text="could not be retrieved or decoded").first.wait_for()
    drawn = draw_box(teacher, (10, 10, 40, 40))
    teacher.fill("#teach-question textarea", "Which sequence is this?")
    teacher.fill("#teach-set-title textarea", "PACS set")
    teacher.click("#teach-save")
    teacher.wait_for_function("document.querySelector('#teach-saved')?.innerText.includes('saved in the set PACS set')")

    case_id = int(re.search(r"Case (\d+) saved", teacher.locator("#teach-saved").inner_text()).group(1))

    exported = Client(teaching_pacs_url, verbose=False).predict(TEACHER_PASSWORD, "PACS set", [case_id],
                                                                api_name="/teach_export_set")
    with zipfile.ZipFile(exported) as archive:
        (case,) = json.loads(archive.read("case-set.json"))["cases"]
        raw = [archive.read(f"case-1/{name}") for name in case["files"]]
    (box,) = case["reference_boxes"]
    assert [box[k] for k in ("xmin", "ymin", "xmax", "ymax")] == pytest.approx(drawn.as_tuple(), abs=0.01)
    original = pydicom.dcmread(pacs.mr_paths[0])
    name, patient_id = str(original.PatientName), str(original.PatientID)
    stored = [pydicom.dcmread(io.BytesIO(data)) for data in raw]
    for data, dataset in zip(raw, stored):
        assert name.encode() not in data and patient_id.encode() not in data
        assert str(dataset.PatientName) != name and dataset.PatientIdentityRemoved == "YES"
    assert len({d.SeriesInstanceUID for d in stored}) == 1 and stored[0].SeriesInstanceUID != pacs.mr_series
    # Slice n of the series holds the first slice's pixels plus n: the stored slices are the readable ones.
    first = original.pixel_array.astype(int)
    differences = [np.unique(d.pixel_array.astype(int) - first) for d in stored]
    assert all(len(difference) == 1 for difference in differences)
    offsets = sorted(int(difference[0]) for difference in differences)
    assert offsets == [n for n in range(20) if n not in DAMAGED]
