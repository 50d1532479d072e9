"""A DICOMweb client for one PACS: QIDO-RS searches, WADO-RS retrieval, STOW-RS storage.

Built on ``dicomweb-client``. Every failure of the server or the network becomes a ``PacsError``
subclass with a translatable message that names the server (scheme, host and port only, never a
query: a query may hold a patient ID) and what to do. One instance of a series the PACS cannot send,
or sends damaged, is named and left out while the others are kept.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar
from urllib.parse import urlsplit

from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset

from medrega_core.errors import N_, MedRegAError
from medrega_core.intake import DEFAULT_LIMITS, CorruptFileError, ScanError, check_image_data

__all__ = [
    "PacsSettings", "PacsClient", "StudySummary", "SeriesSummary", "StudyQuery", "SeriesRetrieval", "FailedInstance",
    "PacsError", "PacsUnreachableError", "PacsAuthError", "PacsNoImagesError", "PacsStoreRefusedError",
    "PacsQueryError", "PacsResponseError", "PacsSeriesTooLargeError", "PacsInstanceError",
]

# dicomweb-client logs request URLs at debug level; a search by patient ID puts the ID in the URL.
logging.getLogger("dicomweb_client").setLevel(logging.WARNING)

#: QIDO-RS attributes requested for the study list (identifiers are dropped unless asked for).
STUDY_FIELDS = ("StudyDate", "StudyTime", "ModalitiesInStudy", "StudyDescription", "NumberOfStudyRelatedSeries",
                "NumberOfStudyRelatedInstances", "PatientName", "PatientID")
SERIES_FIELDS = ("Modality", "SeriesDescription", "SeriesNumber", "NumberOfSeriesRelatedInstances")
_DATE = re.compile(r"^\d{8}$")
_T = TypeVar("_T")


class PacsError(MedRegAError):
    """The PACS could not be reached, refused a request or answered something unusable."""


class PacsUnreachableError(PacsError):
    """Nothing answers at the PACS address."""


class PacsAuthError(PacsError):
    """The PACS refused the user name, password or token."""


class PacsNoImagesError(PacsError):
    """A study or series holds no images."""


class PacsStoreRefusedError(PacsError):
    """STOW-RS did not store the instance."""


class PacsSeriesTooLargeError(PacsError):
    """A series has more images than a scan may hold."""


class PacsQueryError(PacsError):
    """A search field is not valid (for instance a date that is not YYYYMMDD)."""


class PacsResponseError(PacsError):
    """The PACS answered with an HTTP error other than an authentication failure."""


class PacsInstanceError(PacsError):
    """One instance arrived unreadable as DICOM, or its image data cannot be decoded."""


@dataclass(frozen=True)
class PacsSettings:
    """Where the PACS is and how to log in.

    Attributes
    ----------
    url:
        DICOMweb root, e.g. ``http://localhost:8042/dicom-web`` (Orthanc).
    user, password:
        HTTP basic authentication, or None.
    token:
        An OAuth bearer token (cloud DICOM stores), or None; used instead of basic authentication.
    timeout_s:
        Seconds to wait for each answer.
    """

    url: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    timeout_s: float = 30.0

    @property
    def server(self) -> str:
        """``scheme://host:port`` for messages (no path, no query, no credentials)."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")


@dataclass(frozen=True)
class StudyQuery:
    """Study search fields; empty ones do not filter.

    ``date_from``/``date_to`` are ``YYYYMMDD``; ``description`` matches anywhere in the study
    description, ignoring case (filtered here: DICOM matching is case-sensitive); ``patient_id``
    matches exactly.
    """

    date_from: str = ""
    date_to: str = ""
    modality: str = ""
    description: str = ""
    patient_id: str = ""
    limit: int = 200

    def filters(self) -> dict[str, str]:
        for value in (self.date_from, self.date_to):
            if value and not _DATE.match(value):
                raise PacsQueryError(N_("The date {date} is not valid; write it as YYYYMMDD."), date=value)
        filters: dict[str, str] = {}
        if self.date_from or self.date_to:
            filters["StudyDate"] = f"{self.date_from}-{self.date_to}"
        if self.modality:
            filters["ModalitiesInStudy"] = self.modality.strip().upper()
        if self.patient_id:
            filters["PatientID"] = self.patient_id.strip()
        return filters


@dataclass(frozen=True)
class StudySummary:
    """One row of the study list. ``patient_name``/``patient_id`` are "" unless identifiers were asked for."""

    study_uid: str
    date: str
    modalities: tuple[str, ...]
    description: str
    num_series: int | None
    num_instances: int | None
    patient_name: str = ""
    patient_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"study_uid": self.study_uid, "date": self.date, "modalities": list(self.modalities),
                "description": self.description, "num_series": self.num_series,
                "num_instances": self.num_instances, "patient_name": self.patient_name,
                "patient_id": self.patient_id}


@dataclass(frozen=True)
class SeriesSummary:
    """One series of a study."""

    series_uid: str
    modality: str
    description: str
    number: int | None
    num_instances: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"series_uid": self.series_uid, "modality": self.modality, "description": self.description,
                "number": self.number, "num_instances": self.num_instances}


@dataclass(frozen=True)
class FailedInstance:
    """An instance left out of a retrieval: its SOP Instance UID and why (``reason.localized(lang)``)."""

    sop_instance_uid: str
    reason: PacsError


@dataclass(frozen=True)
class SeriesRetrieval:
    """The image files written for one series (``image-0001.dcm``...) and the instances that failed."""

    paths: tuple[Path, ...]
    failed: tuple[FailedInstance, ...] = ()


#: Failures of one instance, retrieved on its own: the others are still retrieved. Any other ``PacsError``
#: (server down, login refused) stops the retrieval, since every further instance would fail the same way.
_INSTANCE_ERRORS = (PacsInstanceError, PacsResponseError, PacsQueryError)
_UNREADABLE = N_("The PACS sent an instance that cannot be read as DICOM (damaged on the PACS).")


def _value(item: dict[str, Any], keyword: str) -> Any:
    """The first value of ``keyword`` in a DICOM JSON object, or None."""
    element = item.get(f"{tag_for_keyword(keyword):08X}") or {}
    values = element.get("Value") or [None]
    value = values[0]
    if isinstance(value, dict):  # person names: {"Alphabetic": "..."}
        return value.get("Alphabetic", "")
    return value


def _values(item: dict[str, Any], keyword: str) -> tuple[str, ...]:
    element = item.get(f"{tag_for_keyword(keyword):08X}") or {}
    return tuple(str(v) for v in element.get("Value") or ())


def _integer(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _check_uid(uid: str) -> str:
    """``uid`` if it is a valid DICOM UID (it becomes part of a URL), else ``PacsQueryError``."""
    from pydicom.uid import UID

    if not UID(uid or "").is_valid:
        raise PacsQueryError(N_("{uid} is not a valid DICOM UID."), uid=str(uid)[:80])
    return uid


def _has_pixels(dataset: Dataset) -> bool:
    return any(keyword in dataset for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"))


def _is_image_class(dataset: Dataset) -> bool:
    """Whether the instance's SOP Class is one of DICOM's image storage classes (CT, MR, ultrasound...)."""
    from pydicom.uid import UID

    return "Image Storage" in UID(str(dataset.get("SOPClassUID", "") or "")).name


def _write_instance(dataset: Dataset, path: Path) -> None:
    """``dataset`` as a DICOM file. Command elements (group 0000, part of a network message, not of a
    stored file; some modalities and PACS exports leave them in) and file meta elements inside the data
    set (group 0002; the file meta is written anew) are dropped: pydicom refuses to write either."""
    for tag in [tag for tag in dataset.keys() if tag.group in (0x0000, 0x0002)]:
        del dataset[tag]
    try:
        dataset.save_as(path, enforce_file_format=True)
    except OSError:
        raise
    except Exception as error:  # pydicom raises many kinds on values it cannot encode
        path.unlink(missing_ok=True)
        raise PacsInstanceError(_UNREADABLE) from error


class _SeriesFolder:
    """Writes the image instances of one series into a folder as ``image-0001.dcm``... and keeps account
    of the instances received and of those that failed."""

    def __init__(self, folder: Path, max_images: int) -> None:
        self.folder, self.max_images = folder, max_images
        self.paths: list[Path] = []
        self.failed: list[FailedInstance] = []
        self.seen: set[str] = set()

    def fail(self, sop_uid: str, reason: PacsError) -> None:
        self.seen.add(sop_uid)
        self.failed.append(FailedInstance(sop_uid, reason))

    def add(self, sop_uid: str, dataset: Dataset) -> None:
        """Write ``dataset`` if it is an image whose data decode; name it in ``failed`` if they do not, or
        if it is an image instance without image data."""
        self.seen.add(sop_uid)
        if not _has_pixels(dataset):
            if _is_image_class(dataset):  # pydicom stops without an error where it cannot read on
                self.fail(sop_uid, PacsInstanceError(N_("The PACS sent this image instance without readable image "
                                                        "data (damaged on the PACS).")))
            return
        if len(self.paths) == self.max_images:
            for path in self.paths:
                path.unlink(missing_ok=True)
            raise PacsSeriesTooLargeError(
                N_("This series has more than {limit} images, more than a scan may hold."), limit=self.max_images)
        path = self.folder / f"image-{len(self.paths) + 1:04d}.dcm"
        try:
            check_image_data(dataset, path.name, DEFAULT_LIMITS)
        except CorruptFileError:
            self.fail(sop_uid, PacsInstanceError(
                N_("The image data of this instance cannot be decoded (damaged or truncated on the PACS).")))
            return
        except ScanError:
            pass  # a missing decoder or an image over the limits: opening the series says so; the file is kept
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            _write_instance(dataset, path)
        except PacsInstanceError as error:
            self.fail(sop_uid, error)
            return
        self.paths.append(path)

    def retrieval(self) -> SeriesRetrieval:
        if not self.paths and not self.failed:
            raise PacsNoImagesError(N_("This series on the PACS holds no images."))
        return SeriesRetrieval(tuple(self.paths), tuple(self.failed))


class PacsClient:
    """One DICOMweb server. Methods raise ``PacsError`` subclasses, never ``requests`` exceptions."""

    def __init__(self, settings: PacsSettings) -> None:
        import requests
        from dicomweb_client import DICOMwebClient

        self.settings = settings
        session = requests.Session()
        headers = {}
        if settings.token:
            headers["Authorization"] = f"Bearer {settings.token}"
        elif settings.user:
            session.auth = (settings.user, settings.password or "")
        self._client = DICOMwebClient(settings.url.rstrip("/"), session=session, headers=headers,
                                      timeout=settings.timeout_s)

    def _call(self, action: Callable[[], _T]) -> _T:
        """Run one request, turning network and HTTP failures into ``PacsError``s."""
        import requests

        try:
            return action()
        except requests.exceptions.HTTPError as error:
            status = error.response.status_code if error.response is not None else 0
            if status in (401, 403):
                raise PacsAuthError(
                    N_("The PACS at {server} refused the login (HTTP {status}); check the user name and password or the token."),
                    server=self.settings.server, status=status) from None
            raise PacsResponseError(N_("The PACS at {server} answered with an error (HTTP {status})."),
                                    server=self.settings.server, status=status) from None
        except requests.exceptions.RequestException:  # connection refused, timeout, bad address
            raise PacsUnreachableError(
                N_("The PACS at {server} cannot be reached; check the address and that the server is running."),
                server=self.settings.server) from None

    def find_studies(self, query: StudyQuery = StudyQuery(), show_identifiers: bool = False) -> list[StudySummary]:
        """Studies matching ``query``, newest first; patient name and ID only when ``show_identifiers``."""
        filters = query.filters()
        found = self._call(lambda: self._client.search_for_studies(
            fields=list(STUDY_FIELDS), search_filters=filters, limit=query.limit))
        studies = [
            StudySummary(
                study_uid=str(_value(item, "StudyInstanceUID") or ""),
                date=str(_value(item, "StudyDate") or ""),
                modalities=_values(item, "ModalitiesInStudy"),
                description=str(_value(item, "StudyDescription") or ""),
                num_series=_integer(_value(item, "NumberOfStudyRelatedSeries")),
                num_instances=_integer(_value(item, "NumberOfStudyRelatedInstances")),
                patient_name=str(_value(item, "PatientName") or "") if show_identifiers else "",
                patient_id=str(_value(item, "PatientID") or "") if show_identifiers else "",
            )
            for item in found
        ]
        wanted = query.description.strip().casefold()
        studies = [study for study in studies if wanted in study.description.casefold()]
        return sorted(studies, key=lambda s: s.date, reverse=True)

    def list_series(self, study_uid: str) -> list[SeriesSummary]:
        """The series of one study, by series number."""
        _check_uid(study_uid)
        found = self._call(lambda: self._client.search_for_series(study_instance_uid=study_uid,
                                                                  fields=list(SERIES_FIELDS)))
        series = [
            SeriesSummary(
                series_uid=str(_value(item, "SeriesInstanceUID") or ""),
                modality=str(_value(item, "Modality") or ""),
                description=str(_value(item, "SeriesDescription") or ""),
                number=_integer(_value(item, "SeriesNumber")),
                num_instances=_integer(_value(item, "NumberOfSeriesRelatedInstances")),
            )
            for item in found
        ]
        return sorted(series, key=lambda s: (s.number is None, s.number or 0))

    def retrieve_series(self, study_uid: str, series_uid: str, folder: str | Path,
                        max_images: int = DEFAULT_LIMITS.max_files) -> SeriesRetrieval:
        """Download the image instances of one series into ``folder``: the files written and the
        instances that failed.

        Instances are written as they arrive (``image-0001.dcm``..., never named after identifiers);
        ``folder`` is created with the first image. Instances without pixel data (reports,
        presentation states) are left out. The series comes in one WADO-RS answer; when the PACS
        refuses it or it breaks off (an instance the PACS cannot send, or sends unreadable), the
        instances not yet received are listed (QIDO-RS) and retrieved one by one, and a failure there
        (a wrong login, say) is raised. An instance that the PACS refuses or sends unreadable, an
        image instance without image data and one whose image data cannot be decoded are named in
        ``failed``, and the retrieval goes on. A series with
        no instance with pixel data raises ``PacsNoImagesError``, one with more than ``max_images`` (the
        intake's file limit) ``PacsSeriesTooLargeError``, after removing what was written.
        """
        _check_uid(study_uid)
        _check_uid(series_uid)
        series = _SeriesFolder(Path(folder), max_images)
        try:
            self._call(lambda: self._stream_series(study_uid, series_uid, series))
        except PacsSeriesTooLargeError:
            raise
        except Exception:  # an HTTP error, or a part pydicom cannot parse (of any kind): one by one instead
            for sop_uid in self._instance_uids(study_uid, series_uid):
                if sop_uid in series.seen:
                    continue
                try:
                    dataset = self._instance(study_uid, series_uid, sop_uid)
                except _INSTANCE_ERRORS as error:
                    series.fail(sop_uid, error)
                    continue
                series.add(sop_uid, dataset)
        return series.retrieval()

    def _stream_series(self, study_uid: str, series_uid: str, series: _SeriesFolder) -> None:
        for dataset in self._client.iter_series(study_uid, series_uid):
            series.add(str(dataset.get("SOPInstanceUID", "")), dataset)

    def _instance_uids(self, study_uid: str, series_uid: str) -> list[str]:
        """The SOP Instance UIDs the PACS lists for a series, page after page (a server may cap one answer);
        a page without new UIDs ends the list, also where a server ignores the offset."""
        uids: dict[str, None] = {}
        while True:
            page = self._call(lambda: self._client.search_for_instances(study_uid, series_uid, offset=len(uids)))
            new = [uid for uid in (str(_value(item, "SOPInstanceUID") or "") for item in page) if uid not in uids]
            if not new:
                return list(uids)
            uids.update(dict.fromkeys(new))

    def _instance(self, study_uid: str, series_uid: str, sop_uid: str) -> Dataset:
        """One instance as a data set (pixel data not decoded)."""
        _check_uid(sop_uid)
        try:
            return self._call(lambda: self._client.retrieve_instance(study_uid, series_uid, sop_uid))
        except PacsError:
            raise
        except Exception as error:  # pydicom raises many kinds on damaged data
            raise PacsInstanceError(_UNREADABLE) from error

    def retrieve_study(self, study_uid: str, folder: str | Path) -> dict[str, SeriesRetrieval]:
        """Every image series of a study, each into ``folder/series-NN``; ``{series UID: retrieval}``."""
        result: dict[str, SeriesRetrieval] = {}
        for number, series in enumerate(self.list_series(study_uid), start=1):
            try:
                result[series.series_uid] = self.retrieve_series(study_uid, series.series_uid,
                                                                 Path(folder) / f"series-{number:02d}")
            except PacsNoImagesError:
                continue
        if not result:
            raise PacsNoImagesError(N_("This study on the PACS holds no images."))
        return result

    def store(self, datasets: Sequence[Dataset]) -> None:
        """STOW-RS: store ``datasets`` (all of one study); ``PacsStoreRefusedError`` when any is refused."""
        study_uid = str(datasets[0].StudyInstanceUID)
        try:
            response = self._call(lambda: self._client.store_instances(list(datasets), study_instance_uid=study_uid))
        except (PacsAuthError, PacsResponseError) as error:
            if error.params.get("status") == 401:  # not logged in: the login is wrong, not the report
                raise
            raise PacsStoreRefusedError(N_("The PACS at {server} refused to store the report (HTTP {status})."),
                                        **error.params) from None
        failed = response.get("FailedSOPSequence") if response is not None else None
        if failed:
            reason = failed[0].get("FailureReason", "")
            raise PacsStoreRefusedError(N_("The PACS at {server} refused to store the report (reason {status})."),
                                        server=self.settings.server, status=reason)
