"""Coordinates: picture pixels <-> 0-999 grid <-> scan geometry, and IoU."""

from __future__ import annotations

import math
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tasks_fixtures import AxialGeometry

from medrega_core.tasks import (
    ModelBox,
    PictureSizeError,
    PixelBox,
    box_in_scan,
    iou,
    parse_answer,
    to_model,
    to_pixels,
)

sizes = st.integers(min_value=1, max_value=20000)
grid = st.integers(min_value=0, max_value=999)


@st.composite
def picture_boxes(draw):
    width, height = draw(sizes), draw(sizes)
    xs = sorted(draw(st.floats(0, width, allow_nan=False)) for _ in range(2))
    ys = sorted(draw(st.floats(0, height, allow_nan=False)) for _ in range(2))
    return width, height, PixelBox(xs[0], ys[0], xs[1], ys[1])


class TestRoundTrip:
    @given(width=sizes, height=sizes, values=st.tuples(grid, grid, grid, grid))
    def test_grid_to_pixels_to_grid_is_exact(self, width, height, values) -> None:
        x1, x2 = sorted(values[::2])
        y1, y2 = sorted(values[1::2])
        box = ModelBox(x1, y1, x2, y2)
        assert to_model(to_pixels(box, width, height), width, height) == box

    @given(picture_boxes())
    def test_pixels_to_grid_to_pixels_moves_at_most_half_a_grid_step(self, case) -> None:
        width, height, box = case
        back = to_pixels(to_model(box, width, height), width, height)
        step_x, step_y = width / 999, height / 999
        for original, returned, step in zip(box.as_tuple(), back.as_tuple(), (step_x, step_y, step_x, step_y)):
            assert abs(original - returned) <= step / 2 + 1e-9

    @given(picture_boxes())
    def test_within_one_picture_pixel_up_to_1998_pixels(self, case) -> None:
        width, height, box = case
        width, height = min(width, 1998), min(height, 1998)
        box = PixelBox(min(box.x1, width), min(box.y1, height), min(box.x2, width), min(box.y2, height))
        back = to_pixels(to_model(box, width, height), width, height)
        assert all(abs(a - b) <= 1.0 for a, b in zip(box.as_tuple(), back.as_tuple()))

    def test_very_non_square_picture_scales_each_axis_separately(self) -> None:
        box = to_model(PixelBox(5000, 10, 10000, 20), 20000, 40)
        assert box == ModelBox(250, 250, 500, 500)

    def test_out_of_picture_and_inverted_boxes_are_clamped_and_ordered(self) -> None:
        assert to_model(PixelBox(120, -5, -3, 50), 100, 100) == ModelBox(0, 0, 999, 500)

    @pytest.mark.parametrize(("width", "height"), [(0, 10), (10, -1), (math.nan, 5)])
    def test_bad_picture_size(self, width, height) -> None:
        with pytest.raises(PictureSizeError):
            to_pixels(ModelBox(0, 0, 1, 1), width, height)


class TestDemoBoxesLand:
    def test_right_lung_is_on_the_left_half_of_the_3056x2544_chest_x_ray(self) -> None:
        answer = (
            "<ref>right lung</ref><box>[[102, 106, 481, 910]]</box>, <ref>left lung</ref>"
            "<box>[[535, 128, 923, 889]]</box>: No focal consolidation"
        )
        right, left = parse_answer(answer).regions
        (right_px,), (left_px,) = right.pixel_boxes(3056, 2544), left.pixel_boxes(3056, 2544)
        assert right_px.x2 < 3056 / 2 < left_px.x1  # radiological convention: patient's right on image left
        assert right_px.as_tuple() == pytest.approx((312.02, 269.93, 1471.41, 2317.36), abs=0.01)
        assert right_px.height > 0.75 * 2544 and left_px.height > 0.7 * 2544

    def test_pancreatic_tail_lesion_is_on_the_image_right_of_the_512_ct(self) -> None:
        (region,) = parse_answer("<ref>胰腺癌</ref><box>[[661, 528, 743, 599]]</box>：…").regions
        (box,) = region.pixel_boxes(512, 512)
        # The pancreatic tail lies on the patient's left, i.e. the image's right, below the middle.
        assert box.x1 > 256 and box.y1 > 256
        assert box.as_tuple() == pytest.approx((338.77, 270.61, 380.80, 306.99), abs=0.01)

    def test_carotid_walls_are_two_boxes_either_side_of_the_midline(self) -> None:
        (region,) = parse_answer("<ref>carotid vessel wall</ref><box>[[365, 293, 416, 598], [596, 316, 635, 464]]</box>").regions
        first, second = region.pixel_boxes(432, 432)
        assert first.x2 < 216 < second.x1


class TestContains:
    @pytest.mark.parametrize(
        ("x", "y", "inside"),
        [(15, 25, True), (10, 20, True), (30, 40, True), (10, 40, True), (30, 30, True),  # inside, corners, edges
         (9.99, 25, False), (30.01, 25, False), (15, 19.99, False), (15, 40.01, False), (0, 0, False)],
    )
    def test_edges_count_as_inside(self, x: float, y: float, inside: bool) -> None:
        assert PixelBox(10, 20, 30, 40).contains(x, y) is inside

    def test_an_inverted_box_contains_the_same_points(self) -> None:
        box = PixelBox(10, 20, 30, 40)
        for inverted in (PixelBox(30, 40, 10, 20), PixelBox(30, 20, 10, 40), PixelBox(10, 40, 30, 20)):
            for x, y in ((15, 25), (10, 40), (31, 25), (15, 41)):
                assert inverted.contains(x, y) is box.contains(x, y)

    def test_pixel_box_text_rounds_to_whole_pixels(self) -> None:
        assert PixelBox(10.4, 20.5, 30.6, 40).as_text() == "[10, 20, 31, 40]"  # format rounds half to even

    def test_a_box_without_area_contains_only_its_line(self) -> None:
        line = PixelBox(5, 0, 5, 10)
        assert line.contains(5, 3) and not line.contains(5.5, 3)


class TestIou:
    def test_known_values(self) -> None:
        assert iou(PixelBox(0, 0, 10, 10), PixelBox(5, 0, 15, 10)) == pytest.approx(1 / 3)
        assert iou(PixelBox(0, 0, 10, 10), PixelBox(20, 20, 30, 30)) == 0.0
        assert iou(ModelBox(1, 1, 5, 5), ModelBox(1, 1, 5, 5)) == 1.0
        assert iou(PixelBox(3, 3, 3, 9), PixelBox(3, 3, 3, 9)) == 0.0  # no area, no division by zero

    @given(picture_boxes(), picture_boxes())
    def test_symmetric_and_bounded(self, a, b) -> None:
        value = iou(a[2], b[2])
        assert 0.0 <= value <= 1.0 + 1e-12
        assert value == pytest.approx(iou(b[2], a[2]))

    @given(st.tuples(grid, grid, grid, grid), st.tuples(grid, grid, grid, grid), sizes, sizes)
    def test_same_on_the_grid_and_in_pixels(self, a, b, width, height) -> None:
        box_a = ModelBox(*sorted(a[::2])[:1], *sorted(a[1::2])[:1], *sorted(a[::2])[1:], *sorted(a[1::2])[1:])
        box_b = ModelBox(*sorted(b[::2])[:1], *sorted(b[1::2])[:1], *sorted(b[::2])[1:], *sorted(b[1::2])[1:])
        in_pixels = iou(to_pixels(box_a, width, height), to_pixels(box_b, width, height))
        assert in_pixels == pytest.approx(iou(box_a, box_b), abs=1e-9)


class TestBoxInScan:
    def test_millimetres_and_stored_indices(self) -> None:
        geometry = AxialGeometry(512, 512, (0.7, 0.7), (-180.0, -200.0, 35.0), k=12)
        located = box_in_scan(PixelBox(100, 50, 200, 250), geometry)
        assert located.size_mm == pytest.approx((70.0, 140.0))
        assert located.stored_corners == ((100, 50, 12.0), (200, 250, 12.0))
        assert located.patient_corners_mm[0] == pytest.approx((-110.0, -165.0, 35.0))

    def test_with_the_intake_geometry_of_a_real_ct(self) -> None:
        intake = pytest.importorskip("medrega_core.intake")
        from pydicom.data import get_testdata_file

        scan = intake.open_scan([get_testdata_file("CT_small.dcm")])
        rendering = intake.render(scan, scan.default_view())
        geometry = rendering.geometry
        located = box_in_scan(PixelBox(0, 0, geometry.width, geometry.height), geometry)
        sx, sy = geometry.mm_per_picture_pixel
        assert located.size_mm == pytest.approx((geometry.width * sx, geometry.height * sy))
        assert located.size_mm[0] == pytest.approx(128 * 0.661468, rel=0.01)  # CT_small PixelSpacing
