"""Click-to-box on a synthetic disc and on a real CT slice windowed here with pydicom."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from medrega_core.render import ClickOutsidePictureError, propose_box
from medrega_core.tasks import PixelBox, iou


def _rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray.astype(np.uint8)[..., None], 3, axis=2)


@pytest.fixture(scope="module")
def disc_picture() -> np.ndarray:
    """A bright noisy disc (centre 200,150, radius 60) on a dark noisy 600x400 background."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[:400, :600]
    inside = (xx - 200) ** 2 + (yy - 150) ** 2 < 60**2
    gray = np.where(inside, rng.normal(180, 10, inside.shape), rng.normal(40, 8, inside.shape))
    return _rgb(gray.clip(0, 255))


@pytest.fixture(scope="module")
def ct_picture() -> np.ndarray:
    """pydicom's CT_small (128x128 axial slice at a vertebra) in a soft-tissue window (40/400 HU)."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    return _rgb(((hu - (40 - 200)) / 400 * 255).clip(0, 255))


def test_click_in_a_disc_gives_its_box(disc_picture) -> None:
    box = propose_box(disc_picture, 210, 160)
    assert iou(box, PixelBox(140, 90, 260, 210)) > 0.85


def test_click_in_the_spinal_canal_of_a_real_ct(ct_picture) -> None:
    # The canal is the dark round hole inside the vertebra, about columns 47-71 and rows 42-61.
    box = propose_box(ct_picture, 59, 51)
    assert iou(box, PixelBox(47, 42, 71, 61)) > 0.6
    assert box.x1 <= 59 <= box.x2 and box.y1 <= 51 <= box.y2


def test_click_on_the_bright_aorta_of_a_real_ct(ct_picture) -> None:
    box = propose_box(ct_picture, 91, 10)
    assert box.x1 <= 91 <= box.x2 and box.y1 <= 10 <= box.y2
    assert box.width < 64 and box.height < 64  # the round vessel, not the whole slice


def test_click_in_the_right_lung_of_a_real_chest_x_ray() -> None:
    path = get_testdata_file("RG1_UNCI.dcm")  # NEMA PA chest X-ray, MONOCHROME1, 1841 x 1955
    if path is None:
        pytest.skip("RG1_UNCI.dcm is not available offline (pydicom-data not installed?)")
    ds = pydicom.dcmread(path)
    center, width = float(ds.WindowCenter), float(ds.WindowWidth)
    picture = _rgb(255 - ((ds.pixel_array - (center - width / 2)) / width * 255).clip(0, 255))
    box = propose_box(picture, 600, 800)  # patient's right lung, on the picture's left
    assert box.x1 <= 600 <= box.x2 and box.y1 <= 800 <= box.y2
    assert box.x1 > 100 and box.x2 < picture.shape[1] / 2  # inside the chest wall, left of the spine


def test_click_on_open_background_is_never_the_whole_picture(disc_picture) -> None:
    box = propose_box(disc_picture, 500, 300)
    assert box.x1 <= 500 <= box.x2 and box.y1 <= 300 <= box.y2
    assert box.width * box.height < 0.5 * 600 * 400


def test_tiny_speck_gets_a_minimum_size() -> None:
    gray = np.zeros((300, 300))
    gray[150:152, 150:152] = 255
    box = propose_box(_rgb(gray), 150, 150)
    assert box.width >= 0.04 * 300 and box.height >= 0.04 * 300
    assert 0 <= box.x1 and box.x2 <= 300


def test_click_outside_the_picture(disc_picture) -> None:
    with pytest.raises(ClickOutsidePictureError):
        propose_box(disc_picture, 700, 10)
