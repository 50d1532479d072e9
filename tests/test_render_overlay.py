"""Overlays checked by their pixels: box edges, dashes, scaled lines, Chinese labels, label placement."""

from __future__ import annotations

import math
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from medrega_core.render import (
    OKABE_ITO,
    FontNotFoundError,
    OverlayError,
    OverlayRegion,
    OverlayStyle,
    draw_overlay,
    find_cjk_font,
    model_overlay_regions,
    palette_color,
    palette_hex,
    place_labels,
    text_color_on,
)
from medrega_core.render.fonts import load_font
from medrega_core.render.overlay import box_pixel_rect
from medrega_core.tasks import PixelBox, parse_answer

GREY = 90
NO_LABELS = OverlayStyle(show_labels=False)


def _picture(width: int, height: int) -> np.ndarray:
    return np.full((height, width, 3), GREY, np.uint8)


def _color_at(image: np.ndarray, x: int, y: int) -> tuple[int, int, int]:
    return tuple(int(v) for v in image[y, x])


class TestBoxes:
    def test_edges_are_where_the_box_is(self) -> None:
        color = palette_color(0)
        image = draw_overlay(_picture(300, 200), [OverlayRegion("", [PixelBox(50, 40, 150, 120)], color)], NO_LABELS)
        assert _color_at(image, 50, 80) == color  # left edge column
        assert _color_at(image, 149, 80) == color  # right edge: last covered column
        assert _color_at(image, 100, 40) == color and _color_at(image, 100, 119) == color
        assert _color_at(image, 49, 80) == (0, 0, 0)  # dark halo just outside
        assert _color_at(image, 47, 80) == (GREY,) * 3  # untouched beyond the halo
        assert _color_at(image, 100, 80) == (GREY,) * 3  # inside stays visible

    def test_input_is_not_modified(self) -> None:
        picture = _picture(64, 64)
        before = picture.copy()
        out = draw_overlay(picture, [OverlayRegion("liver", [PixelBox(5, 5, 40, 40)], palette_color(1), tag=1)])
        assert np.array_equal(picture, before) and not np.array_equal(out, before)

    def test_line_width_scales_with_the_picture(self) -> None:
        color = palette_color(2)
        small = draw_overlay(_picture(256, 256), [OverlayRegion("", [PixelBox(20, 20, 200, 200)], color)], NO_LABELS)
        large = draw_overlay(_picture(3056, 2544), [OverlayRegion("", [PixelBox(300, 300, 2000, 2000)], color)], NO_LABELS)

        def stroke(image: np.ndarray, x: int, y: int) -> int:
            row = image[y, x : x + 40]
            return int(np.all(row == color, axis=1).sum())

        assert stroke(small, 20, 100) == OverlayStyle().line_width(256, 256) == 1
        assert stroke(large, 300, 1000) == OverlayStyle().line_width(3056, 2544) == 8

    def test_user_boxes_are_dashed_and_model_boxes_solid(self) -> None:
        color = palette_color(3)
        box = [PixelBox(20, 20, 180, 180)]
        model = draw_overlay(_picture(200, 200), [OverlayRegion("", box, color, "model")], NO_LABELS)
        user = draw_overlay(_picture(200, 200), [OverlayRegion("", box, color, "user")], NO_LABELS)
        model_top = np.all(model[20, 20:180] == color, axis=1)
        user_top = np.all(user[20, 20:180] == color, axis=1)
        assert model_top.all()
        assert 0.3 < user_top.mean() < 0.7  # dashes and gaps

    def test_box_reaching_outside_is_clipped(self) -> None:
        image = draw_overlay(_picture(100, 80), [OverlayRegion("", [PixelBox(-10, -5, 120, 90)], (255, 0, 0))], NO_LABELS)
        assert _color_at(image, 0, 40) == (255, 0, 0) and _color_at(image, 99, 40) == (255, 0, 0)

    def test_demo_answer_lands_on_the_lungs_halves(self) -> None:
        answer = "<ref>right lung</ref><box>[[102, 106, 481, 910]]</box>, <ref>left lung</ref><box>[[535, 128, 923, 889]]</box>"
        regions = model_overlay_regions(parse_answer(answer), 3056, 2544)
        assert [(r.label, r.tag, r.color) for r in regions] == [
            ("right lung", 1, palette_color(0)), ("left lung", 2, palette_color(1))
        ]
        image = draw_overlay(_picture(3056, 2544), regions, NO_LABELS)
        right_col = round(102 / 999 * 3056)
        assert _color_at(image, right_col + 1, 1500) == palette_color(0)
        assert _color_at(image, round(923 / 999 * 3056) - 2, 1500) == palette_color(1)


class TestLabels:
    def _labelled(self, label: str, tag=1) -> np.ndarray:
        region = OverlayRegion(label, [PixelBox(60, 80, 200, 220)], palette_color(0), tag=tag)
        return draw_overlay(_picture(320, 320), [region])

    def test_chinese_label_pixels_are_drawn(self) -> None:
        with_label, without = self._labelled("胰腺癌"), self._labelled("", tag=None)
        changed = np.any(with_label != without, axis=2)
        ys, xs = np.nonzero(changed)
        assert changed.sum() > 200
        assert ys.max() < 80 + 5  # above (or at) the box top: the label sits on the box
        # Glyphs differ: a missing-glyph box would draw the same shapes for different characters.
        assert not np.array_equal(self._labelled("胰腺癌"), self._labelled("胰腺炎"))
        text_pixels = with_label[changed]
        assert (np.all(text_pixels == (0, 0, 0), axis=1)).sum() > 20  # black text on the orange tag

    def test_tag_number_alone_on_extra_boxes(self) -> None:
        region = OverlayRegion("carotid", [PixelBox(20, 100, 60, 200), PixelBox(200, 100, 240, 200)], palette_color(1), tag=2)
        labelled = draw_overlay(_picture(320, 320), [region])
        bare = draw_overlay(_picture(320, 320), [region], NO_LABELS)
        changed = np.any(labelled != bare, axis=2)
        assert changed[:, :120].sum() > changed[:, 160:].sum() > 20  # name + number beside box 1, number beside box 2

    def test_labels_stay_inside_and_apart(self) -> None:
        anchors = [(0, 0, 30, 30), (290, 290, 320, 320), *[(100, 100, 180, 180)] * 6]
        sizes = [(90, 24)] * len(anchors)
        rects = place_labels(sizes, anchors, 320, 320)
        for x1, y1, x2, y2 in rects:
            assert 0 <= x1 < x2 <= 320 and 0 <= y1 < y2 <= 320
        for a, b in combinations(rects, 2):
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)

    @given(st.data())
    def test_random_labels_stay_inside_and_apart(self, data) -> None:
        width, height = data.draw(st.integers(120, 3000)), data.draw(st.integers(120, 3000))
        count = data.draw(st.integers(1, 6))
        sizes = [(data.draw(st.integers(8, width // 6)), data.draw(st.integers(8, height // 6))) for _ in range(count)]
        anchors = []
        for _ in range(count):
            x1, y1 = data.draw(st.integers(0, width - 2)), data.draw(st.integers(0, height - 2))
            anchors.append((x1, y1, data.draw(st.integers(x1 + 1, width)), data.draw(st.integers(y1 + 1, height))))
        rects = place_labels(sizes, anchors, width, height)
        for (x1, y1, x2, y2), (w, h) in zip(rects, sizes):
            assert 0 <= x1 and 0 <= y1 and x2 <= width and y2 <= height and (x2 - x1, y2 - y1) == (w, h)
        for a, b in combinations(rects, 2):
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)

    def test_many_overlapping_regions_render_with_separate_labels(self) -> None:
        regions = [OverlayRegion(f"结节 {i}", [PixelBox(150, 150, 200, 200)], palette_color(i), tag=i + 1) for i in range(5)]
        image = draw_overlay(_picture(400, 400), regions)
        for i in range(5):
            assert np.all(image == palette_color(i), axis=2).sum() > 100  # every tag's background shows

    def test_labels_come_out_as_drawn_on_the_whole_picture(self) -> None:
        """Labels are drawn through small patches; glyphs reaching past their tag (descenders, accents,
        the picture's edges, tags stacked on each other) must match Pillow drawing on the whole picture."""
        width, height = 420, 300
        picture = (np.random.default_rng(3).random((height, width, 3)) * 255).astype(np.uint8)
        boxes = [PixelBox(5, 5, 120, 90), PixelBox(300, 250, 419, 299), *[PixelBox(150, 150, 200, 200)] * 4]
        names = ["Ågÿ 胰腺癌", "jqgy", "结节", "Ä", "gj", "右肺"]
        regions = [OverlayRegion(name, [box], palette_color(i), "user" if i == 1 else "model", tag=i + 1)
                   for i, (name, box) in enumerate(zip(names, boxes))]
        style = OverlayStyle()
        font = load_font(find_cjk_font(), style.font_size(width, height))
        ascent, descent = font.getmetrics()
        pad = max(2, (ascent + descent) // 6)
        texts = [f"{i + 1} {name}" for i, name in enumerate(names)]
        sizes = [(math.ceil(font.getlength(text)) + 2 * pad, ascent + descent + 2 * pad) for text in texts]
        rects = place_labels(sizes, [box_pixel_rect(box, width, height) for box in boxes], width, height)
        expected = Image.fromarray(draw_overlay(picture, regions, NO_LABELS))
        draw = ImageDraw.Draw(expected)
        for text, rect, region in zip(texts, rects, regions):
            draw.rectangle((rect[0], rect[1], rect[2] - 1, rect[3] - 1), fill=region.color, outline=(0, 0, 0))
            draw.text((rect[0] + pad, rect[1] + pad), text, font=font, fill=text_color_on(region.color))
        np.testing.assert_array_equal(draw_overlay(picture, regions, style), np.asarray(expected))

    def test_label_size_scales(self) -> None:
        style = OverlayStyle()
        assert style.font_size(256, 256) < style.font_size(2048, 2048) <= style.max_font


class TestErrorsAndPalette:
    def test_missing_font_is_a_clear_error(self) -> None:
        with pytest.raises(FontNotFoundError) as caught:
            find_cjk_font([Path("/nonexistent/font.otf")])
        assert "fonts-wqy-microhei" in str(caught.value) and caught.value.localized("zh") != str(caught.value)

    def test_bundled_font_is_found(self) -> None:
        assert find_cjk_font().is_file()

    def test_falls_back_to_wenquanyi(self) -> None:
        from medrega_core.render.fonts import WQY_MICROHEI

        if not WQY_MICROHEI.is_file():
            pytest.skip("fonts-wqy-microhei is not installed")
        font = find_cjk_font([Path("/nonexistent/font.otf"), WQY_MICROHEI])
        region = OverlayRegion("胰腺", [PixelBox(40, 60, 120, 140)], palette_color(4), tag=1)
        labelled = draw_overlay(_picture(200, 200), [region], OverlayStyle(font_path=font))
        bare = draw_overlay(_picture(200, 200), [region], NO_LABELS)
        assert np.any(labelled != bare, axis=2).sum() > 100

    @pytest.mark.parametrize("bad", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32), np.zeros((0, 4, 3), np.uint8)])
    def test_bad_picture(self, bad) -> None:
        with pytest.raises(OverlayError):
            draw_overlay(bad, [])

    def test_palette_is_distinct_and_repeats(self) -> None:
        assert len(set(OKABE_ITO)) == len(OKABE_ITO) == 7
        assert palette_color(7) == palette_color(0)
        assert palette_hex(0) == "#e69f00"
