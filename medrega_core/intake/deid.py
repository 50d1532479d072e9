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

from medrega_core.intake.scan import Scan

__all__ = ["export_metadata", "deidentify"]

#: Value representations of dates, times and ages.
_TEMPORAL_VRS = {"DA", "DT", "TM", "AS"}
#: Value representations of binary bulk data, left out of exported metadata.
_BULK_VRS = {"OB", "OW", "OF", "OD", "OL", "OV", "UN"}


def deidentify(dataset: Dataset) -> Dataset:
    """A de-identified copy of ``dataset`` (PS3.15 basic profile, private tags removed)."""
    from dicognito.anonymizer import Anonymizer

    cleaned = copy.deepcopy(dataset)
    cleaned.remove_private_tags()
    try:
        Anonymizer().anonymize(cleaned)
    except ValueError:
        # dicognito shifts dates and cannot parse malformed ones; emptying every date, time and
        # age is the profile's stricter option, and the rest is anonymized on the second pass.
        cleaned.walk(_empty_temporal)
        Anonymizer().anonymize(cleaned)
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


def export_metadata(scan: Scan, include_identifiers: bool = False) -> dict[str, Any]:
    """Scan information and DICOM header for an export bundle.

    Parameters
    ----------
    scan:
        The opened scan.
    include_identifiers:
        Keep patient identifiers in the DICOM header (only when the user asks for it).

    Returns
    -------
    dict
        ``{"info": ScanInfo dict, "dicom": header dict or None, "identifiers_removed": bool}``.
    """
    header = scan.dicom_header
    dicom = None
    if header is not None:
        dicom = _plain(header if include_identifiers else deidentify(header))
    return {"info": scan.info.to_dict(), "dicom": dicom, "identifiers_removed": not include_identifiers}
