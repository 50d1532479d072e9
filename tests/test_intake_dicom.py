"""Single DICOM files: values, colour, frames, windows and every installed decoder, on real files."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from medrega_core.intake import (
    CT_PRESETS,
    CorruptFileError,
    InvalidViewError,
    MissingDecoderError,
    NoPixelDataError,
    ScanKind,
    View,
    Window,
    WindowPreset,
    open_scan,
    render,
)
from tests.intake_fixtures import dicom_file


def _grey(rendering) -> np.ndarray:
    rgb = rendering.rgb
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.flags.c_contiguous
    assert np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])
    return rgb[..., 0].astype(float)


class TestModalityValues:
    def test_ct_values_are_hounsfield_units(self) -> None:
        path = dicom_file("CT_small.dcm")
        ds = pydicom.dcmread(path)
        scan = open_scan(path)
        expected = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        np.testing.assert_allclose(scan.voxels[0, 0], expected)
        assert scan.info.value_unit == "HU" and scan.info.modality == "CT"

    def test_rescaled_head_ct_has_air_and_brain_in_hu_ranges(self) -> None:
        scan = open_scan(dicom_file("693_J2KI.dcm"))
        values = scan.voxels[0, 0]
        assert np.count_nonzero((values > -1100) & (values < -900)) > 5000  # air around the head
        assert 0 < np.median(values[200:300, 200:300]) < 80  # brain parenchyma

    def test_preset_window_maps_hu_linearly(self) -> None:
        scan = open_scan(dicom_file("CT_small.dcm"))
        rendering = render(scan, View(window=WindowPreset.SOFT_TISSUE.value))
        grey = _grey(rendering)
        values = scan.voxels[0, 0]
        low, high = CT_PRESETS[WindowPreset.SOFT_TISSUE].bounds
        expected = np.clip((values - low) / (high - low) * 255, 0, 255)
        assert np.abs(grey - expected).max() <= 1
        assert rendering.window == Window(40, 400)
        assert rendering.view.window == "soft_tissue" and rendering.view.slice_index == 0
        assert np.array_equal(render(scan, rendering.view).rgb, rendering.rgb)

    def test_resolved_default_view_names_the_window_and_reproduces_the_picture(self) -> None:
        scan = open_scan(dicom_file("MR_small.dcm"))
        rendering = render(scan)
        assert rendering.view.window == "header" and str(rendering.view.plane) == "axial"
        assert rendering.window == scan.header_window
        assert np.array_equal(render(scan, rendering.view).rgb, rendering.rgb)

    def test_manual_window_and_invalid_window(self) -> None:
        scan = open_scan(dicom_file("CT_small.dcm"))
        grey = _grey(render(scan, View(window=Window(0, 2))))
        assert set(np.unique(grey)) <= {0.0, 128.0, 255.0}
        with pytest.raises(InvalidViewError):
            Window(0, 0)
        with pytest.raises(InvalidViewError):
            render(scan, View(window="header"))  # CT_small has no header window


class TestPhotometric:
    def test_monochrome1_chest_xray_has_dark_lungs(self) -> None:
        scan = open_scan(dicom_file("RG1_UNCI.dcm"))
        assert scan.invert and scan.header_window == Window(15000, 30000)
        grey = _grey(render(scan))
        height, width = grey.shape
        def patch(fy: float, fx: float) -> float:
            y, x = int(fy * height), int(fx * width)
            return grey[y - 60 : y + 60, x - 60 : x + 60].mean()
        lungs = (patch(0.4, 0.3) + patch(0.4, 0.7)) / 2
        mediastinum = patch(0.4, 0.5)
        assert lungs < mediastinum - 40

    def test_ybr_jpeg_cine_is_rgb_with_frame_selection(self) -> None:
        path = dicom_file("examples_ybr_color.dcm")
        scan = open_scan(path)
        assert scan.kind is ScanKind.FRAMES and scan.num_frames == 30 and scan.presets == []
        first, last = render(scan, View(frame=0)), render(scan, View(frame=29))
        assert first.window is None
        reference = pydicom.dcmread(path).pixel_array  # pydicom converts YBR to RGB
        assert np.abs(last.rgb.astype(int) - reference[29]).max() <= 1
        assert not np.array_equal(first.rgb, last.rgb)
        with pytest.raises(InvalidViewError):
            render(scan, View(frame=30))
        with pytest.raises(InvalidViewError):
            render(scan, View(frame=2.5))
        assert np.array_equal(render(scan, View(frame=29.0)).rgb, last.rgb)  # slider values arrive as floats

    def test_palette_colour_is_expanded_to_rgb(self) -> None:
        path = dicom_file("OBXXXX1A.dcm")
        ds = pydicom.dcmread(path)
        rgb = render(open_scan(path)).rgb
        expected = pydicom.pixels.apply_color_lut(ds.pixel_array, ds)
        expected = (expected >> 8) if expected.max() > 255 else expected
        assert np.array_equal(rgb, expected.astype(np.uint8))
        assert np.any(rgb[..., 0] != rgb[..., 1])  # really colour

    def test_ybr_ict_jpeg2000_ultrasound_is_colour(self) -> None:
        rgb = render(open_scan(dicom_file("US1_J2KI.dcm"))).rgb
        assert rgb.shape == (480, 640, 3) and np.any(rgb[..., 0] != rgb[..., 2])


# Colour encodings of one RGB test picture, with the largest difference allowed against the
# uncompressed RGB original (0 = lossless; YBR 4:2:2 and lossy JPEG / JPEG-LS differ slightly).
COLOUR_CASES = [
    ("SC_rgb_rle.dcm", 0),
    ("SC_rgb_rle_16bit.dcm", 0),
    ("SC_rgb_rle_32bit.dcm", 0),
    ("SC_rgb_gdcm_KY.dcm", 0),
    ("SC_rgb_jpeg_gdcm.dcm", 0),
    ("SC_ybr_full_422_uncompressed.dcm", 8),
    ("SC_rgb_dcmtk_+eb+cr.dcm", 8),
    ("SC_rgb_jls_lossy_line.dcm", 8),
]


@pytest.mark.parametrize(("name", "tolerance"), COLOUR_CASES)
def test_colour_encodings_match_the_uncompressed_original(name: str, tolerance: int) -> None:
    original = render(open_scan(dicom_file("SC_rgb.dcm"))).rgb.astype(int)
    rgb = render(open_scan(dicom_file(name))).rgb.astype(int)
    assert rgb.shape == original.shape and np.abs(rgb - original).max() <= tolerance


def _reference_levels(modality: np.ndarray, window: Window, invert: bool) -> np.ndarray:
    """The window written plainly: float32 ``(v - low) * 255 / width``, clipped, NaN black, half up."""
    low = np.float32(window.center - window.width / 2.0)
    scaled = (modality.astype(np.float32) - low) * np.float32(255.0 / window.width)
    scaled = np.where(np.isnan(scaled), np.float32(0), np.clip(scaled, 0, 255))
    levels = np.floor(scaled + np.float32(0.5)).astype(np.uint8)
    return 255 - levels if invert else levels


@pytest.mark.parametrize(("name", "preset"), [
    ("CT_small.dcm", "soft_tissue"),  # rescale intercept -1024
    ("CT_small.dcm", "lung"),
    ("MR2_UNCI.dcm", "header"),  # rescale slope 3.77
    ("RG1_UNCI.dcm", "auto"),  # MONOCHROME1, 15 of 16 bits stored
    ("RG1_UNCI.dcm", "header"),
])
def test_rendered_levels_equal_the_window_formula_pixel_for_pixel(name: str, preset: str) -> None:
    scan = open_scan(dicom_file(name))
    rendering = render(scan, View(window=preset))
    modality = scan.voxels[0, 0]
    assert rendering.rgb.shape[:2] == modality.shape  # square pixels: no resampling in between
    expected = _reference_levels(modality, rendering.window, scan.invert)
    np.testing.assert_array_equal(_grey(rendering), expected)


class TestWindowsFromHeader:
    def test_voi_lut_is_applied_for_the_header_window(self) -> None:
        path = dicom_file("vlut_04.dcm")
        ds = pydicom.dcmread(path)
        scan = open_scan(path)
        assert "header" in scan.presets
        lut = ds.VOILUTSequence[0]
        entries, first, bits = (int(v) for v in lut.LUTDescriptor)
        table = np.asarray(lut.LUTData, float)
        index = np.clip(ds.pixel_array.astype(int) - first, 0, entries - 1)
        expected = table[index] * 255 / (2**bits - 1)
        assert np.abs(_grey(render(scan)) - expected).max() <= 1

    def test_zero_width_header_window_falls_back_to_percentiles(self, tmp_path) -> None:
        ds = pydicom.dcmread(dicom_file("MR_small.dcm"))
        ds.WindowCenter, ds.WindowWidth = 600, 0
        path = tmp_path / "zero_width.dcm"
        ds.save_as(path)
        scan = open_scan(path)
        assert scan.header_window is None and "header" not in scan.presets
        window = render(scan).window
        values = scan.voxels.ravel()
        assert window.bounds[0] == pytest.approx(np.percentile(values, 0.5))
        assert window.bounds[1] == pytest.approx(np.percentile(values, 99.5))

    def test_pixel_padding_is_ignored(self) -> None:
        path = dicom_file("693_J2KI.dcm")
        ds = pydicom.dcmread(path)
        scan = open_scan(path)
        padded = ds.pixel_array == int(ds.PixelPaddingValue)
        assert padded.any()
        assert np.isnan(scan.voxels[0, 0][padded]).all() and not np.isnan(scan.voxels[0, 0][~padded]).any()
        assert _grey(render(scan, View(window=Window(-2000, 10)))) [padded].max() == 0


# (file, expected transfer syntax) for every decoder path the installed packages cover.
DECODER_CASES = [
    ("MR_small.dcm", "Explicit VR Little Endian"),
    ("MR_small_implicit.dcm", "Implicit VR Little Endian"),
    ("MR_small_bigendian.dcm", "Explicit VR Big Endian"),
    ("MR_small_RLE.dcm", "RLE Lossless"),
    ("MR_small_jp2klossless.dcm", "JPEG 2000 Image Compression (Lossless Only)"),
    ("MR_small_jpeg_ls_lossless.dcm", "JPEG-LS Lossless Image Compression"),
    ("image_dfl.dcm", "Deflated Explicit VR Little Endian"),
    ("JPGLosslessP14SV1_1s_1f_8b.dcm", "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])"),
    ("SC_rgb_jpeg_dcmtk.dcm", "JPEG Baseline (Process 1)"),
    ("emri_small_jpeg_ls_lossless.dcm", "JPEG-LS Lossless Image Compression"),
    ("RG1_J2KR.dcm", "JPEG 2000 Image Compression (Lossless Only)"),
]


@pytest.mark.parametrize(("name", "syntax"), DECODER_CASES)
def test_every_installed_decoder_path(name: str, syntax: str) -> None:
    path = dicom_file(name)
    scan = open_scan(path)
    assert scan.info.transfer_syntax == syntax
    rgb = render(scan).rgb
    assert rgb.std() > 5  # a real picture, not a flat field


def test_lossless_encodings_decode_to_identical_values() -> None:
    reference = open_scan(dicom_file("MR_small.dcm")).voxels
    for name in ("MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm",
                 "MR_small_bigendian.dcm", "MR_small_implicit.dcm"):
        np.testing.assert_array_equal(open_scan(dicom_file(name)).voxels, reference, err_msg=name)


class TestMultiFrame:
    def test_multiframe_mr_frames_are_selectable(self) -> None:
        path = dicom_file("emri_small.dcm")
        stored = pydicom.dcmread(path).pixel_array
        scan = open_scan(path)
        assert scan.kind is ScanKind.FRAMES and scan.num_frames == 10
        for frame in (0, 7):
            np.testing.assert_array_equal(scan.voxels[frame, 0], stored[frame])
        window = Window(float(stored.mean()), float(stored.max()))
        assert not np.array_equal(render(scan, View(frame=0, window=window)).rgb,
                                  render(scan, View(frame=7, window=window)).rgb)

    def test_enhanced_ct_frames_form_a_volume_with_functional_group_values(self) -> None:
        path = dicom_file("eCT_Supplemental.dcm")
        ds = pydicom.dcmread(path)
        scan = open_scan(path)
        assert scan.kind is ScanKind.VOLUME and scan.num_slices("axial") == 2
        transform = ds.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence[0]
        positions = [f.PlanePositionSequence[0].ImagePositionPatient for f in ds.PerFrameFunctionalGroupsSequence]
        first = [np.allclose(p, scan.geometry.origin) for p in positions].index(True)  # lowest along the normal
        expected = ds.pixel_array[first] * float(transform.RescaleSlope) + float(transform.RescaleIntercept)
        np.testing.assert_allclose(scan.voxels[0, 0], expected)
        # Axial slice 0 is the most inferior one; its top-left picture pixel is the patient's
        # right-anterior corner, found here with the DICOM formula from the header.
        shared = ds.SharedFunctionalGroupsSequence[0]
        cosines = np.array(shared.PlaneOrientationSequence[0].ImageOrientationPatient, float)
        row_mm, column_mm = (float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing)
        inferior = np.array(min(positions, key=lambda p: p[2]), float)
        corners = [inferior + cosines[:3] * column_mm * i + cosines[3:] * row_mm * j for i in (0, 511) for j in (0, 511)]
        right_anterior = min(corners, key=lambda c: (c[0], c[1]))
        rendering = render(scan, View(slice_index=0, window=Window(0, 100)))
        assert rendering.orientation == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
        np.testing.assert_allclose(rendering.geometry.picture_to_patient_mm(0.5, 0.5), right_anterior, atol=1e-3)
        assert scan.geometry.spacing[2] == pytest.approx(10.0)
        assert "header" in scan.presets


class TestBadDicom:
    def test_truncated_file_is_a_clean_error(self, tmp_path) -> None:
        data = open(dicom_file("CT_small.dcm"), "rb").read()
        path = tmp_path / "truncated.dcm"
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(CorruptFileError) as caught:
            open_scan(path)
        assert "truncated.dcm" in str(caught.value) and "truncated" in caught.value.localized("en")
        assert caught.value.localized("zh") != caught.value.localized("en")

    def test_dicom_without_pixel_data(self, tmp_path) -> None:
        ds = pydicom.dcmread(dicom_file("CT_small.dcm"))
        del ds.PixelData
        path = tmp_path / "no_pixels.dcm"
        ds.save_as(path)
        with pytest.raises(NoPixelDataError):
            open_scan(path)

    def test_transfer_syntax_without_decoder_names_the_problem(self, tmp_path) -> None:
        ds = pydicom.dcmread(dicom_file("CT_small.dcm"))
        ds.file_meta.TransferSyntaxUID = pydicom.uid.MPEG2MPML
        ds.PixelData = pydicom.encaps.encapsulate([ds.PixelData])
        path = tmp_path / "video.dcm"
        ds.save_as(path)
        with pytest.raises(MissingDecoderError) as caught:
            open_scan(path)
        assert "MPEG2" in str(caught.value) and "no Python package" in str(caught.value)

    def test_twelve_bit_jpeg_without_permissive_decoder_names_the_package(self) -> None:
        # python-gdcm and Pillow decline 12-bit JPEG Extended; only GPL pylibjpeg-libjpeg decodes it.
        with pytest.raises(MissingDecoderError) as caught:
            open_scan(dicom_file("JPEG-lossy.dcm"))
        assert "pylibjpeg-libjpeg" in str(caught.value) and "JPEG Extended" in str(caught.value)

    def test_decoder_message_names_the_package(self) -> None:
        from medrega_core.intake.readers.dicom import DECODER_PACKAGES

        assert "pyjpegls" in DECODER_PACKAGES[pydicom.uid.JPEGLSLossless]
        assert "pylibjpeg-openjpeg" in DECODER_PACKAGES[pydicom.uid.JPEG2000]

    def test_missing_transfer_syntax_is_inferred(self, tmp_path) -> None:
        ds = pydicom.dcmread(dicom_file("CT_small.dcm"))
        del ds.file_meta.TransferSyntaxUID
        path = tmp_path / "no_syntax.dcm"
        ds.save_as(path, enforce_file_format=False)
        scan = open_scan(path)
        np.testing.assert_allclose(scan.voxels, open_scan(dicom_file("CT_small.dcm")).voxels)
