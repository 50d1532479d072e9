"""A DICOM series opened in the background: headers first, the shown slice first, the rest in a thread.

Real files (pydicom's CT slices written as series), the real reader and renderer; every value is
compared with the series opened the usual way (every slice decoded before ``open_scan`` returns).
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from medrega_core.intake import CorruptFileError, View, Window, open_scan, picture_values, render
from medrega_core.intake.loading import SliceLoading
from medrega_core.session import Session
from medrega_core.tasks import Task
from tests.intake_fixtures import dicom_file, series_datasets, write_series
from viewer_fixtures import ct_series_512

SLICES = 24


@pytest.fixture(scope="module")
def series(tmp_path_factory) -> list:
    """A 24-slice 512 x 512 CT series (pydicom's 693_J2KI slice; its padding included)."""
    return ct_series_512(tmp_path_factory.mktemp("ct"), count=SLICES)


@pytest.fixture(scope="module")
def damaged(tmp_path_factory) -> tuple[list, str]:
    """A 12-slice series whose fourth slice (stored order) has truncated image data; its file name."""
    datasets = series_datasets(dicom_file("CT_small.dcm"), 12, 4.0)
    datasets[3].PixelData = datasets[3].PixelData[:100]
    paths = write_series(datasets, tmp_path_factory.mktemp("damaged"), shuffle_seed=None)
    return paths, paths[3].name


def test_every_slice_and_plane_equals_the_series_decoded_at_once(series) -> None:
    eager = open_scan(series)
    lazy = open_scan(series, background=True)
    assert lazy.loading is not None and eager.loading is None
    assert lazy.num_slices("axial") == SLICES and lazy.info.size == eager.info.size
    # Asked for at once, while the thread may still be decoding: each picture waits for its own slice.
    for index in range(SLICES):
        view = View(slice_index=index, window=Window(40, 400))
        np.testing.assert_array_equal(picture_values(lazy, view).values, picture_values(eager, view).values)
        np.testing.assert_array_equal(render(lazy, view).rgb, render(eager, view).rgb)
    for plane in ("coronal", "sagittal"):  # cut across the slices: they wait for all of them
        np.testing.assert_array_equal(render(lazy, View(plane=plane)).rgb, render(eager, View(plane=plane)).rgb)
    assert lazy.loading.settle() == [] and lazy.loading.complete
    np.testing.assert_array_equal(lazy.voxels, eager.voxels)
    assert lazy.default_window == eager.default_window and lazy.auto_window == eager.auto_window


def test_padding_shows_as_the_pictures_lowest_value(series) -> None:
    scan = open_scan(series, background=True)
    values = picture_values(scan, View(slice_index=0)).values
    stored = scan.voxels[0, 0]  # decoded for the picture
    assert np.isnan(stored).any() and not np.isnan(values).any()
    assert values.min() == np.nanmin(stored)


def test_a_damaged_slice_in_the_middle_is_reported_and_the_others_stay_viewable(damaged) -> None:
    paths, name = damaged
    with pytest.raises(CorruptFileError) as opened_at_once:
        open_scan(paths)
    assert name in opened_at_once.value.localized("en")
    scan = open_scan(paths, background=True)  # the middle slice (6) decodes: the scan opens
    failed = scan.loading.settle()
    assert [type(error) for error in failed] == [CorruptFileError] and name in failed[0].localized("en")
    assert failed[0].localized("zh") != failed[0].localized("en")
    with pytest.raises(CorruptFileError):
        render(scan, View(plane="coronal"))
    refused = []
    for index in range(12):
        try:
            render(scan, View(slice_index=index, window=Window(40, 400)))
        except CorruptFileError:
            refused.append(index)
    assert len(refused) == 1  # only the damaged slice; the other eleven render


def test_a_slice_asked_for_is_decoded_at_once_while_the_thread_is_busy() -> None:
    decoded, release = [], threading.Event()

    def decode(slot: int) -> None:
        if slot == 5:  # the thread's first slice takes until the test lets it go
            release.wait(10)
        decoded.append(slot)

    loading = SliceLoading(8, decode)
    thread = loading.start(first=5)
    loading.wait_for([0])
    assert decoded == [0] and not loading.complete
    release.set()
    assert loading.settle() == [] and sorted(decoded) == list(range(8))
    thread.join(5)
    assert decoded.count(0) == 1 and not thread.is_alive()


def test_closing_the_case_stops_the_thread(series) -> None:
    session = Session()
    session.open(series, background=True)
    loading = session.scan.loading
    session.close()
    deadline = time.monotonic() + 10
    while any(t.name == "medrega-slices" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(t.name == "medrega-slices" for t in threading.enumerate())
    assert loading.settle() is None or loading.complete  # stopped, unless it had already finished


def test_a_question_asked_while_slices_arrive_is_about_exactly_the_picture_shown(series, tiny_engine) -> None:
    session = Session(engine=tiny_engine)
    session.open(series, background=True)
    session.set_view(View(slice_index=2, window="soft_tissue"))  # far from the middle, decoded first
    for _ in session.ask(Task.VQA, question="What is shown?", variant="plain"):
        pass
    eager = render(open_scan(series), View(slice_index=2, window="soft_tissue"))
    np.testing.assert_array_equal(session.exchanges[-1].rendering.rgb, eager.rgb)
    assert session.exchanges[-1].rendering.geometry.width == eager.geometry.width
