"""Volume files (NIfTI 3-D/4-D, NRRD, MetaImage) and plain pictures, on real files."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image

from medrega_core.intake import (
    CorruptFileError,
    ImageTooLargeError,
    IntakeLimits,
    InvalidViewError,
    MissingDataFileError,
    ScanKind,
    UnsupportedFormatError,
    View,
    Window,
    open_scan,
    render,
)
from tests.intake_fixtures import itk_file, nibabel_file


class TestNifti:
    def test_4d_epi_time_points(self) -> None:
        import nibabel

        path = nibabel_file("example4d.nii.gz")
        scan = open_scan(path)
        data = np.asarray(nibabel.load(path).dataobj, dtype=np.float32)  # [x, y, z, t], RAS
        assert scan.kind is ScanKind.VOLUME and scan.num_timepoints == 2
        assert scan.voxels.shape == (2, 24, 96, 128)
        np.testing.assert_array_equal(scan.voxels[1, 5], data[:, :, 5, 1].T)
        window = Window(float(data.mean()), float(data.std() * 4))
        t0 = render(scan, View(timepoint=0, window=window)).rgb
        t1 = render(scan, View(timepoint=1, window=window)).rgb
        assert not np.array_equal(t0, t1)
        with pytest.raises(InvalidViewError):
            render(scan, View(timepoint=2))
        coronal = render(scan, View(plane="coronal", timepoint=1, window=window))
        assert coronal.rgb.shape[:2] == (round(24 * 2.2 / 2.0), 128)  # 24 slices of 2.2 mm at 2 mm pixels
        assert scan.num_slices("coronal") == 96 and scan.num_slices("sagittal") == 128

    def test_display_range_is_the_header_window(self) -> None:
        import nibabel

        header = nibabel.load(nibabel_file("example4d.nii.gz")).header
        scan = open_scan(nibabel_file("example4d.nii.gz"))
        low, high = float(header["cal_min"]), float(header["cal_max"])
        assert scan.header_window == Window((low + high) / 2, high - low) and "header" in scan.presets
        assert render(scan).view.window == "header"
        assert open_scan(nibabel_file("anatomical.nii")).header_window is None  # cal_max = cal_min = 0

    def test_nifti_geometry_matches_nibabel_affine_in_lps(self) -> None:
        import nibabel

        path = nibabel_file("example4d.nii.gz")
        affine = nibabel.load(path).affine
        rendering = render(open_scan(path), View(plane="axial", slice_index=7))
        i, j, k = rendering.geometry.picture_to_stored(40.5, 30.5)
        ras = affine @ np.array([i, j, k, 1.0])
        expected_lps = (-ras[0], -ras[1], ras[2])
        np.testing.assert_allclose(rendering.geometry.picture_to_patient_mm(40.5, 30.5), expected_lps, atol=1e-3)
        assert rendering.orientation == {"left": "R", "right": "L", "top": "A", "bottom": "P"}

    def test_radiological_axial_puts_patient_right_on_the_left(self) -> None:
        rendering = render(open_scan(nibabel_file("anatomical.nii")))
        left_mm = rendering.geometry.picture_to_patient_mm(0.5, 10.5)
        right_mm = rendering.geometry.picture_to_patient_mm(rendering.geometry.width - 0.5, 10.5)
        assert left_mm[0] < right_mm[0]  # LPS x grows towards the patient's left

    def test_non_orthonormal_nifti_falls_back_to_nibabel(self, tmp_path) -> None:
        import nibabel

        source = nibabel.load(nibabel_file("anatomical.nii"))
        sheared = source.affine.copy()
        sheared[0, 1] = 0.8  # a shear: SimpleITK refuses non-orthonormal direction cosines
        path = tmp_path / "sheared.nii.gz"
        nibabel.save(nibabel.Nifti1Image(np.asarray(source.dataobj), sheared), path)
        with pytest.raises(RuntimeError):
            sitk.ReadImage(str(path))
        scan = open_scan(path)
        np.testing.assert_array_equal(scan.voxels[0], np.asarray(source.dataobj, dtype=np.float32).T)


class TestWrittenVolumesReadBack:
    @pytest.mark.parametrize("suffix", [".nrrd", ".mha", ".nii.gz"])
    def test_volume_written_from_real_nifti_reads_back_identically(self, tmp_path, suffix: str) -> None:
        source = sitk.ReadImage(str(itk_file("KmeansTest_T1UCharRaw.nii.gz")))
        path = tmp_path / f"volume{suffix}"
        sitk.WriteImage(source, str(path))
        scan = open_scan(path)
        original = open_scan(itk_file("KmeansTest_T1UCharRaw.nii.gz"))
        np.testing.assert_array_equal(scan.voxels, original.voxels)
        assert scan.geometry.spacing == pytest.approx(original.geometry.spacing)
        np.testing.assert_allclose(scan.geometry.direction, original.geometry.direction, atol=1e-6)
        for plane in ("axial", "coronal", "sagittal"):
            assert np.array_equal(render(scan, View(plane=plane)).rgb, render(original, View(plane=plane)).rgb)

    def test_anisotropic_volume_reformat_aspect(self) -> None:
        scan = open_scan(itk_file("KmeansTest_T1UCharRaw.nii.gz"))  # 2 x 2 x 3 mm
        for plane in ("coronal", "sagittal"):
            rendering = render(scan, View(plane=plane))
            sx, sy = rendering.geometry.mm_per_picture_pixel
            assert sx == pytest.approx(sy, rel=0.02), plane

    def test_detached_metaimage_and_nrrd_headers(self) -> None:
        mha = open_scan(itk_file("BrainProtonDensity3Slices.mha"))
        assert mha.kind is ScanKind.VOLUME and mha.voxels.shape == (1, 3, 217, 181)
        nrrd = open_scan(itk_file("BrainProtonDensitySliceBorder20.nhdr"))
        mhd = open_scan(itk_file("BrainProtonDensitySliceBorder20.mhd"))
        np.testing.assert_array_equal(nrrd.voxels, mhd.voxels)
        assert nrrd.format == "nrrd" and mhd.format == "metaimage"

    def test_missing_data_file_names_the_file_to_add(self, tmp_path) -> None:
        header = itk_file("BrainProtonDensitySliceBorder20.mhd").read_text()
        path = tmp_path / "lonely.mhd"
        path.write_text(header)  # the .raw it names is not beside it
        with pytest.raises(MissingDataFileError) as raised:
            open_scan(path)
        for lang in ("en", "zh"):
            message = raised.value.localized(lang)
            assert "BrainProtonDensitySliceBorder20.raw" in message and "lonely.mhd" in message
        assert "损坏" not in raised.value.localized("zh")

    @pytest.mark.parametrize(("header", "data"), [("BrainProtonDensity3Slices.mha", "BrainProtonDensity3Slices.raw"),
                                                  ("BrainProtonDensitySliceBorder20.mhd", "BrainProtonDensitySliceBorder20.raw"),
                                                  ("BrainProtonDensitySliceBorder20.nhdr", "BrainProtonDensitySliceBorder20.raw")])
    def test_header_and_data_file_from_different_folders_open_together(self, tmp_path, header, data) -> None:
        # A browser upload stores each file in a folder of its own.
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        header_copy = tmp_path / "a" / header
        header_copy.write_bytes(itk_file(header).read_bytes())
        data_copy = tmp_path / "b" / data
        data_copy.write_bytes(itk_file(data).read_bytes())
        together = open_scan([str(data_copy), str(header_copy)])
        np.testing.assert_array_equal(together.voxels, open_scan(itk_file(header)).voxels)

    def test_a_header_pointing_outside_its_folder_is_refused(self, tmp_path) -> None:
        header = itk_file("BrainProtonDensitySliceBorder20.mhd").read_text()
        path = tmp_path / "escape.mhd"
        path.write_text(header.replace("ElementDataFile = BrainProtonDensitySliceBorder20.raw",
                                       "ElementDataFile = /etc/passwd"))
        with pytest.raises(UnsupportedFormatError):
            open_scan(path)


class TestPictures:
    def test_eight_bit_grey_png_is_shown_as_stored(self) -> None:
        path = itk_file("BrainProtonDensitySlice.png")
        stored = np.asarray(Image.open(path).convert("L"))
        rendering = render(open_scan(path))
        assert np.array_equal(rendering.rgb[..., 0], stored) and rendering.geometry.mm_per_picture_pixel is None
        assert rendering.orientation == {}

    def test_sixteen_bit_grey_png_gets_an_auto_window(self, tmp_path) -> None:
        source = np.asarray(Image.open(itk_file("BrainProtonDensitySlice.png")).convert("L")).astype(np.uint16) * 200
        path = tmp_path / "grey16.png"
        Image.fromarray(source).save(path)
        scan = open_scan(path)
        np.testing.assert_array_equal(scan.voxels[0, 0], source)
        assert scan.header_window is None and scan.presets == ["auto"]
        assert render(scan).rgb.std() > 20

    @pytest.mark.parametrize("suffix", [".jpg", ".bmp", ".tif"])
    def test_rgb_formats(self, tmp_path, suffix: str) -> None:
        grey = np.asarray(Image.open(itk_file("BrainProtonDensitySlice.png")).convert("L"))
        colour = np.stack([grey, grey[::-1], 255 - grey], axis=2)
        path = tmp_path / f"colour{suffix}"
        Image.fromarray(colour).save(path, quality=95) if suffix == ".jpg" else Image.fromarray(colour).save(path)
        rgb = render(open_scan(path)).rgb
        tolerance = 40 if suffix == ".jpg" else 0
        assert np.abs(rgb.astype(int) - colour).mean() <= tolerance / 4 and rgb.shape == colour.shape

    def test_text_with_an_image_extension(self, tmp_path) -> None:
        path = tmp_path / "notes.png"
        path.write_text("this is not a picture")
        with pytest.raises(CorruptFileError) as caught:
            open_scan(path)
        assert "notes.png" in caught.value.localized("zh")

    def test_decompression_bomb_is_refused(self, tmp_path) -> None:
        path = tmp_path / "bomb.png"
        Image.new("L", (12000, 12000)).save(path)  # ~140 kB on disk, 144 M pixels
        with pytest.raises(ImageTooLargeError):
            open_scan(path)
        with pytest.raises(ImageTooLargeError):
            open_scan(itk_file("BrainProtonDensitySlice.png"), limits=IntakeLimits(max_pixels=1000))
