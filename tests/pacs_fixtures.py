"""A real Orthanc with its DICOMweb plugin, started by the tests on loopback, and the files it holds.

Each server has its own storage folder and configuration: HTTP on 127.0.0.1 at an unused port,
basic authentication, no DICOM port, the DICOMweb plugin under ``/dicom-web/``, a Lua filter
that forbids (HTTP 403) storing anything into the study ``REFUSED_STUDY`` over DICOMweb, to test a
refused store, and retrieving its series whole (their instances one by one are allowed), as a gateway
may, and no storage cache, so that a file damaged in its storage folder is served damaged.
Skips when Orthanc is not installed, fails under ``CI=true``.
"""

from __future__ import annotations

import copy
import io
import json
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pydicom
import pytest
import requests
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import generate_uid

from app_fixtures import free_port
from conftest import IN_CI
from intake_fixtures import dicom_file, series_datasets, write_series

ORTHANC = shutil.which("Orthanc") or "/usr/sbin/Orthanc"
DICOMWEB_PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
USER, PASSWORD = "medrega", "orthanc-test-secret"
REFUSED_STUDY = "1.2.826.0.1.3680043.8.498.99990001"
REFUSE_LUA = f"""
function IncomingHttpRequestFilter(method, uri, ip, username, httpHeaders)
  local study = '/dicom-web/studies/{REFUSED_STUDY}'
  if method == 'POST' and string.find(uri, study, 1, true) ~= nil then
    return false
  end
  return not (method == 'GET' and string.find(uri, study .. '/series/', 1, true) ~= nil
              and string.find(uri, '/instances', 1, true) == nil)
end
"""


def require_orthanc() -> None:
    missing = [str(p) for p in (Path(ORTHANC), DICOMWEB_PLUGIN) if not p.exists()]
    if missing:
        message = f"Orthanc with its DICOMweb plugin is not installed ({', '.join(missing)} missing; Debian: orthanc orthanc-dicomweb)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


@dataclass
class Orthanc:
    """A running Orthanc; ``dicomweb`` is the DICOMweb root, ``rest`` Orthanc's own REST API."""

    folder: Path
    port: int
    process: subprocess.Popen | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.folder / "orthanc.log"

    @property
    def rest(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dicomweb(self) -> str:
        return f"{self.rest}/dicom-web"

    def start(self) -> None:
        storage = self.folder / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        (self.folder / "refuse.lua").write_text(REFUSE_LUA)
        config = {
            "Name": "medrega-test", "StorageDirectory": str(storage), "IndexDirectory": str(storage),
            "HttpPort": self.port, "RemoteAccessAllowed": False, "DicomServerEnabled": False,
            "AuthenticationEnabled": True, "RegisteredUsers": {USER: PASSWORD},
            "Plugins": [str(DICOMWEB_PLUGIN)], "LuaScripts": [str(self.folder / "refuse.lua")],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/"}, "MaximumStorageCacheSize": 0,
        }
        (self.folder / "orthanc.json").write_text(json.dumps(config))
        with self.log.open("w") as handle:
            self.process = subprocess.Popen([ORTHANC, str(self.folder / "orthanc.json")], stdout=handle,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.rest}/system", auth=(USER, PASSWORD), timeout=2).ok:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"Orthanc not ready after 30 s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def upload(self, path: Path | str) -> str:
        """Store a file through Orthanc's REST API; its Orthanc instance ID."""
        response = requests.post(f"{self.rest}/instances", data=Path(path).read_bytes(), auth=(USER, PASSWORD),
                                 timeout=30)
        response.raise_for_status()
        return response.json()["ID"]

    def cut_stored_file(self, instance_id: str, size: int) -> None:
        """Keep the first ``size`` bytes of an instance's file in the storage folder, as a failing disk or an
        interrupted copy into the archive leaves it: Orthanc still lists the instance and sends those bytes."""
        info = requests.get(f"{self.rest}/instances/{instance_id}/attachments/dicom/info", auth=(USER, PASSWORD),
                            timeout=30)
        info.raise_for_status()
        uuid = info.json()["Uuid"]
        stored = self.folder / "storage" / uuid[:2] / uuid[2:4] / uuid
        stored.write_bytes(stored.read_bytes()[:size])

    def series_of_study(self, study_uid: str) -> list[dict]:
        """Orthanc's own view of a study's series (main DICOM tags), through its REST API."""
        found = requests.post(f"{self.rest}/tools/find", auth=(USER, PASSWORD), timeout=30,
                              json={"Level": "Series", "Query": {"StudyInstanceUID": study_uid}, "Expand": True})
        found.raise_for_status()
        return found.json()


def write_with_command_elements(dataset: pydicom.Dataset, path: Path) -> None:
    """Write ``dataset`` as a DICOM file with the command elements it carries (group 0000), as some modalities
    and PACS exports do; pydicom's ``dcmwrite`` refuses them, so the file is put together from its parts."""
    dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    meta = io.BytesIO()
    write_file_meta_info(meta, dataset.file_meta, enforce_standard=True)
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False  # the source's explicit VR little endian
    write_dataset(body, dataset)
    path.write_bytes(b"\0" * 128 + b"DICM" + meta.getvalue() + body.getvalue())


def blank_vr(path: Path, keyword: str) -> None:
    """Overwrite the VR of the element ``keyword`` in an explicit VR little endian file with two zero bytes, as
    a faulty anonymiser may write it: DCMTK (and so Orthanc) reads past it, pydicom stops reading there."""
    data = bytearray(path.read_bytes())
    tag = pydicom.datadict.tag_for_keyword(keyword)
    at = data.index((tag >> 16).to_bytes(2, "little") + (tag & 0xFFFF).to_bytes(2, "little"), 132)
    data[at + 4:at + 6] = b"\0\0"
    path.write_bytes(bytes(data))


def start_orthanc(folder: Path) -> Orthanc:
    require_orthanc()
    server = Orthanc(folder, free_port())
    server.start()
    return server


@dataclass(frozen=True)
class PacsContent:
    """What the test Orthanc holds: a CT series (4 slices), a radiograph, a study without images, a CT study
    whose series are not sent whole, and an MR series of 20 slices whose first two carry command elements
    ((0000,0000) CommandGroupLength, the first also (0000,0002) AffectedSOPClassUID) and two of which are
    damaged: slice 7 in Orthanc's storage (its file lost its last 3000 bytes: the header reads, the pixel
    data are cut short) and slice 13 with a blank VR in its study date (pydicom reads no further)."""

    orthanc: Orthanc
    ct_paths: list[Path]
    ct_study: str
    ct_series: str
    cr_path: Path
    cr_study: str
    cr_series: str
    refused_paths: list[Path]
    no_image_study: str
    mr_paths: list[Path]
    mr_study: str
    mr_series: str
    damaged_uids: tuple[str, str]


@pytest.fixture(scope="module")
def pacs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PacsContent]:
    """A started Orthanc holding real files (see :class:`PacsContent`)."""
    server = start_orthanc(tmp_path_factory.mktemp("orthanc"))
    files = tmp_path_factory.mktemp("pacs-files")
    try:
        ct = series_datasets(dicom_file("CT_small.dcm"), 4, description="CT derived series")
        ct_paths = write_series(ct, files / "ct")
        cr_path = Path(dicom_file("RG1_UNCI.dcm"))
        # A second CT study, into which the Lua filter forbids storing reports.
        refused = series_datasets(dicom_file("CT_small.dcm"), 2, description="refused reports")
        for dataset in refused:
            dataset.StudyInstanceUID = REFUSED_STUDY
        refused_paths = write_series(refused, files / "refused")
        plan = copy.deepcopy(pydicom.dcmread(dicom_file("rtplan.dcm")))
        plan.StudyInstanceUID, plan.StudyDescription = generate_uid(), "plan only"
        plan.save_as(files / "plan.dcm", enforce_file_format=True)
        for path in [*ct_paths, cr_path, *refused_paths, files / "plan.dcm"]:
            server.upload(path)
        mr = series_datasets(dicom_file("MR_small.dcm"), 20, description="MR with odd instances")
        mr[0].add_new(0x00000000, "UL", 0)  # CommandGroupLength
        mr[0].add_new(0x00000002, "UI", mr[0].SOPClassUID)  # AffectedSOPClassUID
        mr[1].add_new(0x00000000, "UL", 0)
        (files / "mr").mkdir()
        mr_paths = [files / "mr" / f"mr-{number:02d}.dcm" for number in range(1, 21)]
        for dataset, path in zip(mr, mr_paths):
            write_with_command_elements(dataset, path)
        blank_vr(mr_paths[12], "StudyDate")
        mr_ids = [server.upload(path) for path in mr_paths]
        server.cut_stored_file(mr_ids[6], mr_paths[6].stat().st_size - 3000)
        cr = pydicom.dcmread(cr_path, stop_before_pixels=True)
        yield PacsContent(server, ct_paths, str(ct[0].StudyInstanceUID), str(ct[0].SeriesInstanceUID), cr_path,
                          str(cr.StudyInstanceUID), str(cr.SeriesInstanceUID), refused_paths,
                          str(plan.StudyInstanceUID), mr_paths, str(mr[0].StudyInstanceUID),
                          str(mr[0].SeriesInstanceUID), (str(mr[6].SOPInstanceUID), str(mr[12].SOPInstanceUID)))
    finally:
        server.stop()
