"""Geometry and windowing as pure functions, checked on renderings of real volumes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medrega_core.intake import View, Window, open_scan, render
from medrega_core.intake.geometry import VolumeGeometry, axis_code, orientation_letter, picture_plane
from medrega_core.intake.windowing import apply_window, robust_window
from tests.intake_fixtures import itk_file, nibabel_file


@pytest.fixture(scope="module")
def renderings():
    scan = open_scan(nibabel_file("example4d.nii.gz"))  # LAS storage: the x axis is flipped for display
    return {plane: render(scan, View(plane=plane, slice_index=5)) for plane in ("axial", "coronal", "sagittal")}


class TestSliceGeometry:
    @settings(max_examples=60, deadline=None)
    @given(plane=st.sampled_from(["axial", "coronal", "sagittal"]), fx=st.floats(0, 1), fy=st.floats(0, 1))
    def test_picture_stored_round_trip(self, renderings, plane: str, fx: float, fy: float) -> None:
        geometry = renderings[plane].geometry
        x, y = fx * geometry.width, fy * geometry.height
        i, j, k = geometry.picture_to_stored(x, y)
        assert geometry.stored_to_picture(i, j, k) == pytest.approx((x, y), abs=1e-6)

    def test_picture_corners_reach_the_edges_of_the_stored_grid(self, renderings) -> None:
        geometry = renderings["axial"].geometry  # stored grid 128 x 96 x 24
        corners = [geometry.picture_to_stored(x, y) for x in (0, geometry.width) for y in (0, geometry.height)]
        i_values = sorted({round(c[0], 6) for c in corners})
        j_values = sorted({round(c[1], 6) for c in corners})
        assert i_values == [-0.5, 127.5] and j_values == [-0.5, 95.5]
        assert {round(c[2], 6) for c in corners} == {5.0}

    def test_one_picture_pixel_step_moves_the_same_distance_in_mm(self, renderings) -> None:
        for plane, rendering in renderings.items():
            geometry = rendering.geometry
            origin = np.array(geometry.picture_to_patient_mm(10, 10))
            step_x = np.linalg.norm(np.array(geometry.picture_to_patient_mm(11, 10)) - origin)
            step_y = np.linalg.norm(np.array(geometry.picture_to_patient_mm(10, 11)) - origin)
            assert (step_x, step_y) == pytest.approx(geometry.mm_per_picture_pixel, rel=1e-6), plane
            assert step_x == pytest.approx(step_y, rel=0.03), plane

    def test_plain_picture_has_no_patient_mapping(self) -> None:
        geometry = render(open_scan(itk_file("BrainProtonDensitySlice.png"))).geometry
        assert geometry.picture_to_patient_mm(3, 4) is None and geometry.mm_per_picture_pixel is None
        assert geometry.picture_to_stored(3.5, 4.5) == pytest.approx((3.0, 4.0, 0.0))


class TestVolumeGeometry:
    def test_ras_affine_becomes_lps(self) -> None:
        affine = np.array([[-2.0, 0, 0, 90], [0, 2, 0, -126], [0, 0, 2.2, -72], [0, 0, 0, 1]])
        geometry = VolumeGeometry.from_ras_affine(affine)
        assert geometry.spacing == pytest.approx((2.0, 2.0, 2.2))
        assert geometry.origin == pytest.approx((-90.0, 126.0, -72.0))
        assert axis_code(geometry.direction) == "LAS"
        point = geometry.patient_from_index() @ np.array([1.0, 2.0, 3.0, 1.0])
        ras = affine @ np.array([1.0, 2.0, 3.0, 1.0])
        assert point[:3] == pytest.approx([-ras[0], -ras[1], ras[2]])

    def test_orientation_letters(self) -> None:
        assert [orientation_letter(np.array(v, float)) for v in ([1, 0, 0], [0, -1, 0], [0.2, 0.1, -0.9])] == ["L", "A", "I"]


class TestWindowing:
    def test_window_edges_and_padding(self) -> None:
        values = np.array([-1000.0, -160.0, 40.0, 240.0, 3000.0, np.nan], dtype=np.float32)
        assert apply_window(values, Window(40, 400)).tolist() == [0, 0, 128, 255, 255, 0]

    def test_window_does_not_depend_on_layout_or_block_boundaries(self) -> None:
        # Large enough for several processing blocks; views as coronal/sagittal cuts give them.
        values = np.linspace(-1200.0, 1500.0, 700 * 300, dtype=np.float32).reshape(700, 300)
        values[::7, ::5] = np.nan
        window = Window(40, 400)
        whole = apply_window(values, window)
        assert whole.dtype == np.uint8 and whole.shape == values.shape
        np.testing.assert_array_equal(apply_window(values.T, window), whole.T)
        np.testing.assert_array_equal(apply_window(values[::-1, ::3], window), whole[::-1, ::3])
        np.testing.assert_array_equal(apply_window(values.reshape(7, 100, 300), window), whole.reshape(7, 100, 300))
        np.testing.assert_array_equal(apply_window(values.astype(np.float64)[:, 0], window), whole[:, 0])

    def test_robust_window_ignores_outliers_and_nan(self) -> None:
        values = np.concatenate([np.linspace(0, 100, 10_000), [1e6, -1e6], [np.nan] * 50]).astype(np.float32)
        low, high = robust_window(values).bounds
        assert 0 <= low < 1 and 99 < high <= 100

    def test_flat_picture_gets_a_usable_window(self) -> None:
        window = robust_window(np.full((4, 4), 7.0, dtype=np.float32))
        assert window.width > 0 and window.bounds[0] <= 7 <= window.bounds[1]


@pytest.mark.parametrize(("row", "column", "plane"), [
    ((1, 0, 0), (0, 1, 0), "axial"),
    ((0, 1, 0), (0, 0, -1), "sagittal"),
    ((1, 0, 0), (0, 0, -1), "coronal"),
    ((1, 0, 0), (0, 0.9272, -0.3746), "axial"),  # a CT gantry tilted by 22 degrees (pydicom's J2K_pixelrep_mismatch)
    ((0.569486, 0.822001, 0), (0, 0, -1), "oblique"),  # pydicom-data's MR2 shoulder, 35 degrees off sagittal
])
def test_picture_plane_from_the_row_and_column_directions(row, column, plane) -> None:
    assert picture_plane(np.array(row, float), np.array(column, float)) == plane


def test_two_d_pictures_name_their_own_plane() -> None:
    from pydicom.data import get_testdata_file

    assert open_scan(get_testdata_file("MR2_UNCI.dcm")).plane_name() == "oblique"
    assert open_scan(get_testdata_file("RG1_UNCI.dcm")).plane_name() == "projection"  # CR, no plane
    assert open_scan(get_testdata_file("CT_small.dcm")).plane_name() == "axial"
    assert open_scan(itk_file("BrainProtonDensitySlice.png")).plane_name() is None  # a picture without a patient frame
    volume = open_scan(nibabel_file("example4d.nii.gz"))
    assert [volume.plane_name(p) for p in volume.planes] == ["axial", "coronal", "sagittal"]
