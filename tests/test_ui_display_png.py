"""The display PNG (``ui_components.regions.save_png``) is lossless for grey and colour pictures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from medrega_core.intake import open_scan, render
from ui_components.regions import save_png


@pytest.mark.parametrize("name", ["RG1_UNCI.dcm", "CT_small.dcm", "US1_UNCR.dcm", "OBXXXX1A.dcm"])
def test_display_png_gives_back_the_rendered_pixels(name: str, tmp_path: Path) -> None:
    scan = open_scan(get_testdata_file(name))
    rgb = render(scan).rgb
    path = Path(save_png(rgb, tmp_path, gray=not scan.is_colour))
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == ("RGB" if scan.is_colour else "L")
        np.testing.assert_array_equal(np.asarray(image.convert("RGB")), rgb)


def test_every_view_gets_a_fresh_file_name(tmp_path: Path) -> None:
    rgb = np.zeros((4, 5, 3), np.uint8)
    assert save_png(rgb, tmp_path) != save_png(rgb, tmp_path)
