"""MedRegA's latest answer as a DICOM Comprehensive SR (TID 1500 measurement report), via highdicom.

What the report holds:

* a "Qualitative Evaluations" container with the task, the exact prompt and the answer text;
* one planar ROI group per box of each model region (tracking identifier ``"<tag>: <name>"``, the
  name as the Finding, the region's description as a comment, MedRegA as the algorithm) and one
  per user box;
* each box as a closed 4-corner POLYLINE in the source image's stored-pixel coordinates (DICOM's
  column/row convention: (0, 0) is the top-left corner of the top-left pixel, so a pixel centre is
  at index + 0.5), referencing the exact instance (and frame) shown; on a reformatted plane, which
  crosses many instances, a closed POLYGON in patient millimetres (SCOORD3D, Comprehensive 3D SR);
* the device observer (MedRegA: model, app version, quantization), a new series in the source's
  study, and the source's patient module.

``build_report`` keeps the identifiers (for the same PACS); ``write_report`` de-identifies the file
unless asked not to.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from medrega_core import __version__
from medrega_core.errors import N_
from medrega_core.export import ExportError, ExportRecord, MeasuredValue
from medrega_core.intake.geometry import SliceGeometry
from medrega_core.tasks import PixelBox, answer_text, parse_answer, to_pixels

__all__ = ["build_report", "write_report", "send_report", "ReportSourceError", "SR_SERIES_DESCRIPTION"]

SR_SERIES_DESCRIPTION = "MedRegA findings"
SR_SERIES_NUMBER = 9701
#: Private coding scheme for the items DICOM has no code for (task, prompt, answer).
SCHEME = "99MEDREGA"
PATIENT_MODULE = ("PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
                  "OtherPatientIDsSequence", "PatientComments", "PatientIdentityRemoved",
                  "DeidentificationMethod")
#: Attributes highdicom reads from the first evidence instance; empty (type 2) when the source lacks them.
_STUDY_ATTRIBUTES = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex", "AccessionNumber", "StudyID",
                     "StudyDate", "StudyTime")
#: Within this many stored slices, a picture lies in one stored slice (an axial cut of an axial series).
_SAME_SLICE = 1e-4


class ReportSourceError(ExportError):
    """The scan cannot carry a DICOM report (not DICOM, or no frame of reference for a reformat)."""


@dataclass(frozen=True)
class _Box:
    label: str
    name: str
    description: str | None
    box: PixelBox
    from_model: bool


def _code(value: str, meaning: str, scheme: str = SCHEME) -> Any:
    from highdicom.sr import CodedConcept

    return CodedConcept(value=value, scheme_designator=scheme, meaning=meaning)


def _boxes(record: ExportRecord) -> list[_Box]:
    geometry = record.rendering.geometry
    parsed = parse_answer(record.answer)
    boxes = []
    for index, region in enumerate(parsed.regions):
        for model_box in region.boxes:
            name = region.name or f"Region {index + 1}"
            boxes.append(_Box(f"{index + 1}: {name}"[:64], name, region.description,
                              to_pixels(model_box, geometry.width, geometry.height), True))
    labels = tuple(record.user_box_labels) + ("",) * len(record.user_boxes)
    for index, (box, label) in enumerate(zip(record.user_boxes, labels)):
        name = label.strip() or f"User box {index + 1}"
        boxes.append(_Box(name[:64], name, None, box.ordered(), False))
    return boxes


def _finding(name: str) -> Any:
    """The region name as a private code (viewers such as OHIF label a group by its Finding): the
    value is a digest of the name, so one name always has one code."""
    digest = hashlib.sha1(name.casefold().encode("utf-8")).hexdigest()[:15].upper()
    return _code(f"N{digest}", name[:64])


def _corners(box: PixelBox) -> list[tuple[float, float]]:
    """Top-left, top-right, bottom-right, bottom-left, and top-left again (closed)."""
    b = box.ordered()
    return [(b.x1, b.y1), (b.x2, b.y1), (b.x2, b.y2), (b.x1, b.y2), (b.x1, b.y1)]


def stored_slice(geometry: SliceGeometry) -> int | None:
    """The stored slice the whole picture lies in, or None for a reformatted plane."""
    ks = [geometry.picture_to_stored(x, y)[2] for x, y in ((0, 0), (geometry.width, 0), (0, geometry.height))]
    if max(ks) - min(ks) > _SAME_SLICE or abs(ks[0] - round(ks[0])) > _SAME_SLICE:
        return None
    return int(round(ks[0]))


def _source_image(record: ExportRecord, slice_index: int) -> Any:
    from highdicom.sr import SourceImageForRegion

    source = record.scan.source_instance(slice_index, record.rendering.view.frame)
    frames = [source.frame_number] if source.frame_number is not None else None
    return SourceImageForRegion(source.sop_class_uid, source.sop_instance_uid, referenced_frame_numbers=frames)


def _stored_points(record: ExportRecord, points: list[tuple[float, float]]) -> np.ndarray:
    """Picture points as DICOM image coordinates of the stored slice (pixel centres at index + 0.5)."""
    geometry = record.rendering.geometry
    return np.array([(i + 0.5, j + 0.5) for i, j, _ in (geometry.picture_to_stored(x, y) for x, y in points)],
                    dtype=float)


def _patient_points(record: ExportRecord, points: list[tuple[float, float]]) -> tuple[np.ndarray, str]:
    """Picture points in patient mm with the frame of reference, for a plane crossing several images."""
    frame_of_reference = str(record.scan.dicom_header.get("FrameOfReferenceUID", "") or "")
    points_mm = [record.rendering.geometry.picture_to_patient_mm(x, y) for x, y in points]
    if not frame_of_reference or any(p is None for p in points_mm):
        raise ReportSourceError(N_("This plane crosses several images and the scan has no frame of reference; "
                                   "make the report on the plane the images were acquired in."))
    return np.array(points_mm, dtype=float), frame_of_reference


def _region(record: ExportRecord, box: PixelBox, slice_index: int | None) -> Any:
    from highdicom.sr import GraphicTypeValues, GraphicTypeValues3D, ImageRegion, ImageRegion3D

    if slice_index is not None:
        return ImageRegion(GraphicTypeValues.POLYLINE, _stored_points(record, _corners(box)),
                           _source_image(record, slice_index))
    return ImageRegion3D(GraphicTypeValues3D.POLYGON, *_patient_points(record, _corners(box)))


#: UCUM unit codes of what the viewer's tools read.
_UNITS = {"mm": ("mm", "mm"), "HU": ("[hnsf'U]", "Hounsfield unit"), "px": ("{pixels}", "pixels")}


def _measurement_group(record: ExportRecord, measured: MeasuredValue, number: int, slice_index: int | None) -> Any:
    """A user's length or probe as a TID 1501 group: the value (TID 300) inferred from its points."""
    from highdicom.sr import (
        CoordinatesForMeasurement, CoordinatesForMeasurement3D, GraphicTypeValues, GraphicTypeValues3D, Measurement,
        MeasurementsAndQualitativeEvaluations, TrackingIdentifier,
    )
    from pydicom.sr.codedict import codes

    kind, points = measured.measurement.kind, list(measured.measurement.points)
    graphic = GraphicTypeValues.POLYLINE if kind == "length" else GraphicTypeValues.POINT
    if slice_index is not None:
        coordinates = CoordinatesForMeasurement(graphic, _stored_points(record, points), _source_image(record, slice_index))
    else:
        graphic_3d = GraphicTypeValues3D.POLYLINE if kind == "length" else GraphicTypeValues3D.POINT
        coordinates = CoordinatesForMeasurement3D(graphic_3d, *_patient_points(record, points))
    name = codes.SCT.Length if kind == "length" else _code("PROBE", "Value at a point")
    value = measured.value if not isinstance(measured.value, tuple) else float(sum(measured.value)) / 3
    unit = _code(*_UNITS.get(measured.unit, ("1", "no units")), scheme="UCUM")
    title = f"{'Length' if kind == 'length' else 'Probe'} {number}"
    return MeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=generate_uid(), identifier=title),
        measurements=[Measurement(name=name, value=float(value), unit=unit, referenced_coordinates=[coordinates])])


def _evidence(record: ExportRecord) -> list[Dataset]:
    """One small dataset per source instance: study, series and SOP UIDs, and the study facts highdicom copies."""
    header = record.scan.dicom_header
    evidence, seen = [], set()
    for source in record.scan.source_instances:
        if source.sop_instance_uid in seen:
            continue
        seen.add(source.sop_instance_uid)
        item = Dataset()
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", *_STUDY_ATTRIBUTES):
            setattr(item, keyword, header.get(keyword, "") or "")
        item.SOPClassUID, item.SOPInstanceUID = source.sop_class_uid, source.sop_instance_uid
        evidence.append(item)
    return evidence


def _text(name: Any, value: str) -> Any:
    from highdicom.sr import RelationshipTypeValues, TextContentItem

    return TextContentItem(name=name, value=value, relationship_type=RelationshipTypeValues.CONTAINS)


def _exchange_container(record: ExportRecord) -> Any:
    from highdicom.sr import ContainerContentItem, RelationshipTypeValues

    container = ContainerContentItem(name=_code("126010", "Qualitative Evaluations", "DCM"),
                                     relationship_type=RelationshipTypeValues.CONTAINS)
    container.ContentSequence = [
        _text(_code("TASK", "MedRegA task"), record.task),
        _text(_code("PROMPT", "Prompt sent to MedRegA"), record.prompt),
        _text(_code("ANSWER", "MedRegA answer"), answer_text(record.answer)),
    ]
    return container


def _group(record: ExportRecord, box: _Box, slice_index: int | None, algorithm: Any) -> Any:
    from highdicom.sr import PlanarROIMeasurementsAndQualitativeEvaluations, TrackingIdentifier
    from pydicom.sr.codedict import codes

    group = PlanarROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=TrackingIdentifier(uid=generate_uid(), identifier=box.label),
        referenced_region=_region(record, box.box, slice_index),
        finding_type=_finding(box.name),
        algorithm_id=algorithm if box.from_model else None,
    )
    if box.description:
        group[0].ContentSequence.append(_text(codes.DCM.Comment, box.description))
    return group


def build_report(record: ExportRecord) -> Dataset:
    """The SR of ``record`` as a pydicom dataset, with the source's identifiers (for its own PACS).

    Raises ``ReportSourceError`` when the scan is not DICOM.
    """
    from highdicom.coding_schemes import CodingSchemeIdentificationItem
    from highdicom.sr import (
        AlgorithmIdentification,
        Comprehensive3DSR,
        ComprehensiveSR,
        DeviceObserverIdentifyingAttributes,
        MeasurementReport,
        MeasurementsAndQualitativeEvaluations,
        ObservationContext,
        ObserverContext,
        TrackingIdentifier,
    )
    from pydicom.sr.codedict import codes

    scan = record.scan
    if scan.dicom_header is None or not scan.source_instances:
        raise ReportSourceError(N_("A DICOM report needs a DICOM scan; this one was opened from a {format} file."),
                                format=scan.format)
    model = str(record.engine_info.get("checkpoint") or "MedRegA")
    quantization = str(record.engine_info.get("quantization") or "unknown")
    device = DeviceObserverIdentifyingAttributes(
        uid=generate_uid(entropy_srcs=["MedRegA Workbench", model]), name="MedRegA",
        manufacturer_name="MedRegA Workbench", model_name=model[:64])
    context = ObservationContext(observer_device_context=ObserverContext(codes.DCM.Device, device))
    algorithm = AlgorithmIdentification(name="MedRegA", version=__version__,
                                        parameters=[f"checkpoint={model}", f"quantization={quantization}"])
    slice_index = stored_slice(record.rendering.geometry)
    groups = [_group(record, box, slice_index, algorithm) for box in _boxes(record)]
    groups += [_measurement_group(record, measured, number, slice_index)
               for number, measured in enumerate(record.measured, start=1)]
    if not groups:  # TID 1500 needs one measurement group: an answer without regions gets an empty one
        groups = [MeasurementsAndQualitativeEvaluations(
            TrackingIdentifier(uid=generate_uid(), identifier="MedRegA answer"), algorithm_id=algorithm)]
    report = MeasurementReport(observation_context=context, procedure_reported=codes.SCT.ImagingProcedure,
                               imaging_measurements=groups)
    report[0].ContentSequence.append(_exchange_container(record))
    document_class = ComprehensiveSR if slice_index is not None else Comprehensive3DSR
    now = datetime.datetime.now()
    sr = document_class(
        evidence=_evidence(record), content=report[0], series_instance_uid=generate_uid(),
        series_number=SR_SERIES_NUMBER, sop_instance_uid=generate_uid(), instance_number=1,
        manufacturer="MedRegA Workbench", manufacturer_model_name=model[:64], software_versions=__version__,
        series_description=SR_SERIES_DESCRIPTION, is_complete=True, specific_character_set="ISO_IR 192",
        content_date=now.date(), content_time=now.time(),
        coding_schemes=[CodingSchemeIdentificationItem(SCHEME, name="MedRegA Workbench items")],
    )
    for keyword in PATIENT_MODULE:
        if keyword in scan.dicom_header:
            sr[keyword] = scan.dicom_header[keyword]
    return sr


def _as_read_from_file(dataset: Dataset) -> Dataset:
    """``dataset`` encoded and parsed again: highdicom keeps dates as ``datetime`` objects, which the
    de-identifier (written for datasets read from files) cannot shift."""
    import io

    import pydicom

    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    buffer.seek(0)
    return pydicom.dcmread(buffer)


def write_report(record: ExportRecord, folder: str | Path, file_name: str | None = None) -> Path:
    """Write the SR into ``folder`` (as ``file_name``, default ``medrega-<task>-<time>.sr.dcm``),
    de-identified unless ``record.include_identifiers``; the file's path."""
    from medrega_core.intake.deid import deidentify

    dataset = build_report(record)
    if not record.include_identifiers:
        dataset = deidentify(_as_read_from_file(dataset), record.scan.deid_seed)
        dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    created = datetime.datetime.now(datetime.timezone.utc)
    path = Path(folder) / (file_name or f"medrega-{record.task}-{created:%Y%m%d-%H%M%S}.sr.dcm")
    try:
        dataset.save_as(path, enforce_file_format=True)
    except OSError as error:
        raise ExportError(N_("The export could not be written: {reason}."), reason=error.strerror or str(error))
    return path


def send_report(record: ExportRecord, client: Any) -> Dataset:
    """Store the SR of ``record`` on ``client``'s PACS (STOW-RS), identifiers as in the source; the dataset sent."""
    dataset = build_report(record)
    client.store([dataset])
    return dataset
