"""Real test files for the scan-intake tests, located through the installed packages.

Nothing is copied into the repository: DICOM files come from pydicom and pydicom-data
(``get_testdata_file``, which returns None for files not shipped offline), NIfTI from nibabel's
test data, MetaImage/NRRD from Debian's insighttoolkit5-examples. Derived files (series, zips,
NRRD) are written into pytest's temporary folders.
"""

from __future__ import annotations

import copy
import io
import random
import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

ITK_DATA = Path("/usr/share/doc/insighttoolkit5-examples/examples/Data")


def dicom_file(name: str) -> str:
    """Path of a pydicom / pydicom-data test file, or skip the test when it is not installed."""
    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"{name} is not available offline (pydicom-data not installed?)")
    return str(path)


def nibabel_file(name: str) -> Path:
    import nibabel

    path = Path(nibabel.__file__).parent / "tests" / "data" / name
    if not path.exists():
        pytest.skip(f"nibabel test data {name} not installed")
    return path


def itk_file(name: str) -> Path:
    path = ITK_DATA / name
    if not path.exists():
        pytest.skip(f"{path} not installed (Debian package insighttoolkit5-examples)")
    return path


def series_datasets(source: str, count: int, spacing_mm: float = 2.5, series_uid: str | None = None,
                    description: str = "derived series") -> list[pydicom.Dataset]:
    """``count`` copies of a real slice forming one series along its normal.

    Slice ``n`` sits ``n * spacing_mm`` along the normal, has InstanceNumber ``n + 1`` and its
    pixels offset by ``n`` stored units, so the order can be checked from the values.
    """
    template = pydicom.dcmread(source)
    row = np.array(template.ImageOrientationPatient[:3], float)
    column = np.array(template.ImageOrientationPatient[3:], float)
    normal = np.cross(row, column)
    origin = np.array(template.ImagePositionPatient, float)
    series_uid = series_uid or generate_uid()
    pixels = template.pixel_array
    datasets = []
    for n in range(count):
        ds = copy.deepcopy(template)
        ds.SeriesInstanceUID = series_uid
        ds.SeriesDescription = description
        ds.SOPInstanceUID = generate_uid()
        ds.InstanceNumber = n + 1
        ds.ImagePositionPatient = [float(v) for v in origin + n * spacing_mm * normal]
        ds.PixelData = (pixels + n).astype(pixels.dtype).tobytes()
        datasets.append(ds)
    return datasets


def write_series(datasets: list[pydicom.Dataset], folder: Path, shuffle_seed: int | None = 0) -> list[Path]:
    """Write datasets as ``slice_XXX.dcm`` files; names are shuffled so file order says nothing."""
    folder.mkdir(parents=True, exist_ok=True)
    order = list(range(len(datasets)))
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(order)
    paths = []
    for name_index, n in enumerate(order):
        path = folder / f"slice_{name_index:03d}.dcm"
        datasets[n].save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def zip_members(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def dataset_bytes(dataset: pydicom.Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()
