"""PACS connection: DICOMweb search, retrieval and storage, and MedRegA's answers as DICOM SR.

Below the UI (no gradio, no torch). ``PacsClient`` talks to one DICOMweb server;
``build_report``/``write_report`` turn an ``ExportRecord`` into a TID 1500 Comprehensive SR.
"""

from medrega_core.pacs.client import (
    FailedInstance,
    PacsAuthError,
    PacsClient,
    PacsError,
    PacsInstanceError,
    PacsNoImagesError,
    PacsQueryError,
    PacsResponseError,
    PacsSeriesTooLargeError,
    PacsSettings,
    PacsStoreRefusedError,
    PacsUnreachableError,
    SeriesRetrieval,
    SeriesSummary,
    StudyQuery,
    StudySummary,
)
from medrega_core.pacs.sr import SR_SERIES_DESCRIPTION, ReportSourceError, build_report, send_report, write_report

__all__ = [
    "PacsClient", "PacsSettings", "StudyQuery", "StudySummary", "SeriesSummary", "SeriesRetrieval", "FailedInstance",
    "PacsError", "PacsUnreachableError", "PacsAuthError", "PacsNoImagesError", "PacsStoreRefusedError",
    "PacsQueryError", "PacsResponseError", "PacsSeriesTooLargeError", "PacsInstanceError",
    "build_report", "write_report", "send_report", "ReportSourceError", "SR_SERIES_DESCRIPTION",
]
