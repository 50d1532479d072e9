"""Metadata for exports, de-identified with the DICOM PS3.15 basic profile by default.

De-identification uses dicognito (MIT), which applies the basic confidentiality profile: names,
IDs, dates, institutions and physicians are replaced by consistent dummy values, UIDs are remapped;
private tags are removed here as well. Bulk data (pixel data, LUTs, overlays) is never exported.
"""

from __future__ import annotations

import copy
from typing import Any

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

__all__ = ["export_metadata", "deidentify"]

#: Value representations of dates, times and ages.
_TEMPORAL_VRS = {"DA", "DT", "TM", "AS"}
#: Value representations of binary bulk data, left out of exported metadata.
_BULK_VRS = {"OB", "OW", "OF", "OD", "OL", "OV", "UN"}


def deidentify(dataset: Dataset, seed: str) -> Dataset:
    """A de-identified copy of ``dataset`` (PS3.15 basic profile, private tags removed).

    The same ``seed`` gives the same substitutes (patient, dates, UIDs): one per case (``Scan.deid_seed``),
    so the JSON and the SR of a case agree and the files of one series still form one series."""
    from dicognito.anonymizer import Anonymizer

    cleaned = copy.deepcopy(dataset)
    cleaned.remove_private_tags()
    try:
        Anonymizer(seed=seed).anonymize(cleaned)
    except ValueError:
        # dicognito shifts dates and cannot parse malformed ones; emptying every date, time and
        # age is the profile's stricter option, and the rest is anonymized on the second pass.
        cleaned.walk(_empty_temporal)
        Anonymizer(seed=seed).anonymize(cleaned)
    cleaned.PatientIdentityRemoved = "YES"
    return cleaned


def _empty_temporal(dataset: Dataset, element) -> None:
    if element.VR in _TEMPORAL_VRS:
        dataset[element.tag].value = ""


def _plain(dataset: Dataset) -> dict[str, Any]:
    """Header elements as ``{keyword: value}``, JSON-ready; sequences become lists of dicts."""
    result: dict[str, Any] = {}
    for element in dataset:
        if element.VR in _BULK_VRS or not element.keyword or element.tag == 0x7FE00010:
            continue
        value = element.value
        if isinstance(value, Sequence):
            result[element.keyword] = [_plain(item) for item in value]
        elif value is None or isinstance(value, (int, float, str)):
            result[element.keyword] = value
        elif isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
            result[element.keyword] = [v if isinstance(v, (int, float)) else str(v) for v in value]
        else:
            result[element.keyword] = str(value)
    return result


#: Explains the marker of replaced values in a de-identified export (English: the JSON is a data record).
SUBSTITUTE_NOTE = (
    'Identifiers were removed (DICOM PS3.15 basic profile). Every value that differs from the original header is '
    'written as {"replaced": true, "substitute": ...}: the substitute is a dummy value (names, IDs, dates, UIDs), '
    "never the patient's data."
)


def _marked(cleaned: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    """``cleaned`` with each value that differs from ``original`` wrapped as a replaced substitute;
    sequences are compared item by item. Values the de-identifier invented where the source had none
    (an institution address) are left out: they would say nothing about this scan."""
    marked: dict[str, Any] = {}
    for keyword, value in cleaned.items():
        if keyword not in original:
            if keyword in _ADDED_BY_PROFILE:
                marked[keyword] = value
            continue
        before = original[keyword]
        if value == before:
            marked[keyword] = value
        elif _is_sequence(value) and _is_sequence(before) and len(value) == len(before):
            marked[keyword] = [_marked(item, old) for item, old in zip(value, before)]
        else:
            marked[keyword] = {"replaced": True, "substitute": value}
    return marked


#: What de-identification adds by itself, to say it was done (kept in the export).
_ADDED_BY_PROFILE = {"PatientIdentityRemoved", "DeidentificationMethod", "DeidentificationMethodCodeSequence"}


def _is_sequence(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def export_metadata(info: dict[str, Any], header: Dataset | None, seed: str,
                    include_identifiers: bool = False) -> dict[str, Any]:
    """Scan information and DICOM header for an export bundle (``Scan.dataset_for_export``).

    Parameters
    ----------
    info:
        The scan's ``ScanInfo.to_dict()``.
    header:
        The scan's first DICOM dataset without pixel data (``Scan.dicom_header``), or None.
    seed:
        The case's de-identification seed (``Scan.deid_seed``): the same substitutes as its SR.
    include_identifiers:
        Keep patient identifiers in the DICOM header (only when the user asks for it).

    Returns
    -------
    dict
        ``{"info": ScanInfo dict, "dicom": header dict or None, "identifiers_removed": bool}``; when
        identifiers are removed, every replaced header value is ``{"replaced": true, "substitute": value}``
        and ``"note"`` (:data:`SUBSTITUTE_NOTE`) says so.
    """
    result: dict[str, Any] = {"info": info, "dicom": None, "identifiers_removed": not include_identifiers}
    if header is None:
        return result
    if include_identifiers:
        result["dicom"] = _plain(header)
    else:
        result["dicom"] = _marked(_plain(deidentify(header, seed)), _plain(header))
        result["note"] = SUBSTITUTE_NOTE
    return result
