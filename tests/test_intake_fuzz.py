"""Fuzz: mutated real files and random bytes either open or fail with a clean ``ScanError``.

Seeded loops with a fixed number of mutations, so every failure reproduces. Seed 9 once made
GDCM abort the interpreter on damaged JPEG 2000 data (since then GDCM is not the first decoder).
"""

from __future__ import annotations

import random
from pathlib import Path

import pydicom
import pytest
import SimpleITK as sitk
from pydicom.uid import generate_uid

from medrega_core.intake import ScanError, View, open_scan, render
from medrega_core.intake.readers.dicom import parse_dicom
from tests.intake_fixtures import dicom_file, itk_file, nibabel_file, zip_members

#: Mutations per source and seed.
MUTATIONS = 40


def _sources(tmp_path: Path) -> list[tuple[str, bytes]]:
    zipped = zip_members(tmp_path / "series.zip", {"a.dcm": Path(dicom_file("CT_small.dcm")).read_bytes()})
    nrrd = tmp_path / "volume.nrrd"
    sitk.WriteImage(sitk.ReadImage(str(itk_file("BrainProtonDensity3Slices.mha"))), str(nrrd))
    return [
        (".dcm", Path(dicom_file("CT_small.dcm")).read_bytes()),
        (".dcm", Path(dicom_file("MR_small_RLE.dcm")).read_bytes()),
        (".dcm", Path(dicom_file("MR_small_jp2klossless.dcm")).read_bytes()),
        (".dcm", Path(dicom_file("emri_small_jpeg_ls_lossless.dcm")).read_bytes()),
        (".png", itk_file("BrainProtonDensitySlice.png").read_bytes()),
        (".nii", nibabel_file("anatomical.nii").read_bytes()),
        (".zip", zipped.read_bytes()),
        (".nrrd", nrrd.read_bytes()),
    ]


def _mutate(data: bytes, rng: random.Random) -> bytes:
    buffer = bytearray(data)
    action = rng.randrange(4)
    if action == 0:  # truncate
        return bytes(buffer[: rng.randrange(len(buffer))])
    if action == 1:  # flip bytes, mostly in the header where parsing decisions are made
        for _ in range(rng.randint(1, 8)):
            position = rng.randrange(min(len(buffer), 2048) if rng.random() < 0.8 else len(buffer))
            buffer[position] = rng.randrange(256)
        return bytes(buffer)
    if action == 2:  # overwrite a run with random bytes
        start = rng.randrange(len(buffer))
        length = rng.randint(1, 64)
        buffer[start : start + length] = rng.randbytes(length)
        return bytes(buffer)
    return rng.randbytes(rng.randint(0, 4096))  # pure noise


def _open_and_render(path: Path) -> None:
    try:
        scan = open_scan(path)
        render(scan)
        scan.dataset_for_export()
    except ScanError as error:
        assert error.localized("en") and error.localized("zh")


@pytest.mark.parametrize("seed", [0, 9])
def test_mutated_real_files_fail_cleanly(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    for index, (suffix, data) in enumerate(_sources(tmp_path)):
        for attempt in range(MUTATIONS):
            path = tmp_path / f"fuzz_{index}_{attempt}{suffix}"
            path.write_bytes(_mutate(data, rng))
            _open_and_render(path)  # anything but a ScanError propagates and fails the test
            path.unlink()


@pytest.mark.parametrize("suffix", [".dcm", ".png", ".jpg", ".nii.gz", ".mha", ".zip", ""])
def test_random_bytes_with_any_extension(tmp_path: Path, suffix: str) -> None:
    rng = random.Random(suffix)
    for n in range(15):
        path = tmp_path / f"noise{n}{suffix}"
        path.write_bytes(rng.randbytes(rng.choice([0, 1, 131, 132, 2000])))
        with pytest.raises(ScanError):
            open_scan(path)


def _series(folder: Path, count: int = 3) -> list[Path]:
    """``count`` slices of CT_small.dcm, 5 mm apart, as one series."""
    folder.mkdir()
    paths = []
    for index in range(count):
        ds = pydicom.dcmread(dicom_file("CT_small.dcm"))
        ds.ImagePositionPatient = [*ds.ImagePositionPatient[:2], float(ds.ImagePositionPatient[2]) + 5 * index]
        ds.InstanceNumber, ds.SOPInstanceUID = index + 1, generate_uid()
        paths.append(folder / f"slice{index}.dcm")
        ds.save_as(paths[-1])
    return paths


@pytest.mark.parametrize("seed", [0, 9])
def test_a_series_opened_in_the_background_with_a_mutated_file_fails_cleanly(tmp_path: Path, seed: int) -> None:
    """Its files' elements are checked as their slices are decoded: a file that a full check refuses is
    refused at opening or reported for its slice (a ScanError naming it), never shown or another error."""
    rng = random.Random(seed)
    paths = _series(tmp_path / "series")
    originals = [path.read_bytes() for path in paths]
    refused_files = 0
    for attempt in range(MUTATIONS):
        damaged = attempt % len(paths)
        paths[damaged].write_bytes(_mutate(originals[damaged], rng))
        try:
            parse_dicom(str(paths[damaged]), paths[damaged].name)
            refused = False
        except ScanError:
            refused, refused_files = True, refused_files + 1
        try:
            scan = open_scan(paths, background=True)
        except ScanError as error:
            assert error.localized("en") and error.localized("zh")
        else:
            failures = scan.loading.settle() if scan.loading is not None else []
            assert all(isinstance(error, ScanError) for error in failures), failures
            assert not refused or any(paths[damaged].name in error.localized("en") for error in failures)
            for index in range(scan.num_slices("axial")):
                try:
                    render(scan, View(slice_index=index))
                except ScanError as error:
                    assert error.localized("en") and error.localized("zh")
            scan.dataset_for_export()
        paths[damaged].write_bytes(originals[damaged])
    assert refused_files  # the seeds damage some files: the checks above ran on them
