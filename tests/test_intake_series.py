"""DICOM series from files and zips (built from a real CT slice), reformats and archive safety."""

from __future__ import annotations

import copy
import tempfile
import zipfile

import numpy as np
import pydicom
import pytest

from medrega_core.intake import (
    ArchiveTooLargeError,
    ImageTooLargeError,
    IntakeLimits,
    MultipleSeriesError,
    NoImagesError,
    Plane,
    ScanKind,
    SeriesMismatchError,
    TooManyFilesError,
    UnsafeArchiveError,
    UnsupportedFormatError,
    View,
    Window,
    open_scan,
    render,
)
from tests.intake_fixtures import dataset_bytes, dicom_file, series_datasets, write_series, zip_members

SLICES = 12
SPACING_MM = 4.0


@pytest.fixture(scope="module")
def ct_series(tmp_path_factory) -> list[pydicom.Dataset]:
    return series_datasets(dicom_file("CT_small.dcm"), SLICES, SPACING_MM)


@pytest.fixture(scope="module")
def series_zip(tmp_path_factory, ct_series) -> "Path":
    order = np.random.default_rng(3).permutation(SLICES)
    members = {f"study/img{n:02d}.dcm": dataset_bytes(ct_series[i]) for n, i in enumerate(order)}
    members["study/README.txt"] = b"not an image"
    return zip_members(tmp_path_factory.mktemp("zip") / "series.zip", members)


def _slice_offsets(scan) -> list[int]:
    """Each slice's pixel offset against the template slice (the fixture adds n to slice n)."""
    template = open_scan(dicom_file("CT_small.dcm")).voxels[0, 0]
    return [int(round(float(np.median(scan.voxels[0, k] - template)))) for k in range(scan.voxels.shape[1])]


class TestSeriesSorting:
    def test_shuffled_zip_sorts_along_the_normal(self, series_zip) -> None:
        scan = open_scan(series_zip)
        assert scan.kind is ScanKind.VOLUME and scan.format == "dicom-series"
        assert _slice_offsets(scan) == list(range(SLICES))
        assert scan.geometry.spacing[2] == pytest.approx(SPACING_MM)

    def test_opening_a_zip_leaves_no_temporary_files(self, series_zip, tmp_path, monkeypatch) -> None:
        private_tmp = tmp_path / "tmp"
        private_tmp.mkdir()
        monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
        render(open_scan(series_zip), View(plane="sagittal"))
        assert list(private_tmp.iterdir()) == []

    def test_shuffled_files_sort_by_position_not_by_name(self, tmp_path, ct_series) -> None:
        paths = write_series(ct_series, tmp_path, shuffle_seed=11)
        assert _slice_offsets(open_scan(paths)) == list(range(SLICES))
        (tmp_path / "README.txt").write_text("not an image")  # skipped inside a folder
        assert _slice_offsets(open_scan([tmp_path])) == list(range(SLICES))
        with pytest.raises(UnsupportedFormatError):  # but refused when named explicitly
            open_scan([*paths, tmp_path / "README.txt"])

    def test_position_beats_instance_number(self, tmp_path, ct_series) -> None:
        reversed_numbers = [copy.deepcopy(ds) for ds in ct_series]
        for n, ds in enumerate(reversed_numbers):
            ds.InstanceNumber = SLICES - n
        assert _slice_offsets(open_scan(write_series(reversed_numbers, tmp_path))) == list(range(SLICES))

    def test_mismatched_slice_is_reported(self, tmp_path, ct_series) -> None:
        odd = pydicom.dcmread(dicom_file("MR_small.dcm"))
        odd.SeriesInstanceUID = ct_series[0].SeriesInstanceUID
        paths = write_series(ct_series[:3], tmp_path)
        odd_path = tmp_path / "odd.dcm"
        odd.save_as(odd_path)
        with pytest.raises(SeriesMismatchError):
            open_scan([*paths, odd_path])


    def test_localizer_with_another_orientation_is_reported(self, tmp_path, ct_series) -> None:
        localizer = copy.deepcopy(ct_series[0])
        localizer.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]  # sagittal
        paths = write_series([*ct_series[:3], localizer], tmp_path, shuffle_seed=None)
        with pytest.raises(SeriesMismatchError) as caught:
            open_scan(paths)
        assert caught.value.params["name"] == paths[3].name


class TestSeveralSeries:
    def test_choices_largest_first_then_open_the_chosen(self, tmp_path) -> None:
        source = dicom_file("CT_small.dcm")
        big = series_datasets(source, 5, description="big")
        small = series_datasets(source, 2, description="small")
        path = zip_members(tmp_path / "two.zip", {f"{n}.dcm": dataset_bytes(ds) for n, ds in enumerate(small + big)})
        with pytest.raises(MultipleSeriesError) as caught:
            open_scan(path)
        choices = caught.value.choices
        assert [(c.description, c.count, c.modality) for c in choices] == [("big", 5, "CT"), ("small", 2, "CT")]
        assert "2" in caught.value.localized("zh")
        chosen = open_scan(path, series_uid=choices[1].uid)
        assert chosen.voxels.shape[1] == 2 and chosen.metadata.series_description == "small"
        with pytest.raises(SeriesMismatchError):
            open_scan(path, series_uid="1.2.3.4")


    def test_choices_carry_series_number_and_date_but_no_patient_identifier(self, tmp_path) -> None:
        source = dicom_file("CT_small.dcm")
        first = series_datasets(source, 3, description="")
        second = series_datasets(source, 2, description="")
        for ds in first:
            ds.SeriesNumber, ds.SeriesDate = 7, "20240131"
        for ds in second:
            ds.SeriesNumber, ds.StudyDate = 12, "20231105"
            ds.pop("SeriesDate", None)
        path = zip_members(tmp_path / "two.zip", {f"{n}.dcm": dataset_bytes(ds) for n, ds in enumerate(first + second)})
        with pytest.raises(MultipleSeriesError) as caught:
            open_scan(path)
        assert [(c.number, c.date) for c in caught.value.choices] == [("7", "2024-01-31"), ("12", "2023-11-05")]
        patient = str(first[0].PatientName)
        assert patient and all(patient not in repr(c) for c in caught.value.choices)


class TestReformats:
    @pytest.fixture(scope="class")
    def volume(self, ct_series, tmp_path_factory):
        return open_scan(write_series(ct_series, tmp_path_factory.mktemp("vol")))

    def test_planes_and_middle_default(self, volume) -> None:
        assert volume.planes == (Plane.AXIAL, Plane.CORONAL, Plane.SAGITTAL)
        assert [volume.num_slices(p) for p in volume.planes] == [SLICES, 128, 128]
        assert render(volume).view.slice_index == SLICES // 2

    def test_coronal_has_the_physical_aspect_ratio(self, volume) -> None:
        pixel_mm = volume.geometry.spacing[0]
        rendering = render(volume, View(plane="coronal", window=Window(40, 400)))
        height, width = rendering.rgb.shape[:2]
        assert width == 128
        assert height == round(SLICES * SPACING_MM / pixel_mm)
        sx, sy = rendering.geometry.mm_per_picture_pixel
        assert sx == pytest.approx(pixel_mm) and sy == pytest.approx(SPACING_MM * SLICES / height)
        assert rendering.orientation == {"left": "R", "right": "L", "top": "S", "bottom": "I"}

    def test_sagittal_orientation_and_content(self, volume) -> None:
        rendering = render(volume, View(plane="sagittal", slice_index=64, window=Window(40, 400)))
        assert rendering.orientation == {"left": "A", "right": "P", "top": "S", "bottom": "I"}
        # The top picture row is the most superior slice (highest offset): compare with a direct cut.
        x, y = 10.5, 0.5
        i, j, k = rendering.geometry.picture_to_stored(x, y)
        assert round(k) == SLICES - 1 and round(i) == 64

    def test_picture_to_patient_matches_dicom_formula(self, volume, ct_series) -> None:
        rendering = render(volume, View(plane="axial", slice_index=3))
        ds = ct_series[3]
        row, column = np.array(ds.ImageOrientationPatient[:3]), np.array(ds.ImageOrientationPatient[3:])
        row_mm, column_mm = (float(v) for v in ds.PixelSpacing)
        i, j, k = rendering.geometry.picture_to_stored(20.5, 30.5)
        assert k == pytest.approx(3)
        expected = np.array(ds.ImagePositionPatient, float) + row * column_mm * i + column * row_mm * j
        np.testing.assert_allclose(rendering.geometry.picture_to_patient_mm(20.5, 30.5), expected, atol=1e-4)
        assert rendering.geometry.stored_to_picture(i, j, k) == pytest.approx((20.5, 30.5))


def test_scan_is_immutable_and_limits_apply_before_decoding(tmp_path, ct_series) -> None:
    paths = write_series(ct_series, tmp_path)
    scan = open_scan(paths)
    with pytest.raises(ValueError):
        scan.voxels[0, 0, 0, 0] = 1.0
    with pytest.raises(ValueError):
        render(scan).rgb[0, 0, 0] = 1
    with pytest.raises(ImageTooLargeError):
        open_scan(paths, limits=IntakeLimits(max_voxels=128 * 128 * (SLICES - 1)))


class TestArchiveSafety:
    def test_path_traversal_is_refused(self, tmp_path) -> None:
        data = open(dicom_file("CT_small.dcm"), "rb").read()
        path = zip_members(tmp_path / "evil.zip", {"ok.dcm": data, "../../etc/evil.dcm": data})
        with pytest.raises(UnsafeArchiveError) as caught:
            open_scan(path)
        assert "../../etc/evil.dcm" in str(caught.value)

    def test_too_many_files(self, tmp_path) -> None:
        path = zip_members(tmp_path / "many.zip", {f"{n}.txt": b"x" for n in range(30)})
        with pytest.raises(TooManyFilesError):
            open_scan(path, limits=IntakeLimits(max_files=20))
        folder = tmp_path / "folder"
        folder.mkdir()
        for n in range(30):
            (folder / f"{n}.dcm").write_bytes(b"x")
        with pytest.raises(TooManyFilesError):
            open_scan([folder], limits=IntakeLimits(max_files=20))

    def test_zip_bomb_is_refused_before_inflating(self, tmp_path) -> None:
        path = tmp_path / "bomb.zip"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("zeros.dcm", bytes(50_000_000))
        with pytest.raises(ArchiveTooLargeError):
            open_scan(path)
        with pytest.raises(ArchiveTooLargeError):
            open_scan(path, limits=IntakeLimits(max_uncompressed_bytes=1_000_000, max_compression_ratio=1e9))

    def test_zip_without_dicom(self, tmp_path) -> None:
        with pytest.raises(NoImagesError):
            open_scan(zip_members(tmp_path / "text.zip", {"a.txt": b"hello"}))
