"""A DICOM series opened in the background: headers first, the shown slice first, the rest in a thread.

Real files (pydicom's CT slices written uncompressed as series, one with truncated image data), the real
reader, renderer and ``Session``; every value is compared with the series opened the usual way (every
slice decoded before ``open_scan`` returns). Where a test must see slices not yet decoded, the loading
thread is kept from starting (``paused``): a picture then has only the slices it decodes itself.
"""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import pytest
from PIL import Image

from medrega_core.intake import CorruptFileError, View, Window, open_scan, picture_values, render, resolve_window
from medrega_core.intake.loading import SliceLoading
from medrega_core.session import Session
from medrega_core.tasks import Task
from intake_fixtures import dicom_file, series_datasets, write_series
from ui_components.viewer_data import encode_values
from viewer_fixtures import ct_series_512

SLICES = 24
THREAD = "medrega-slices"


@pytest.fixture(scope="module")
def series(tmp_path_factory) -> list:
    """A 24-slice 512 x 512 CT series with pixel padding (shown as each picture's lowest value)."""
    return ct_series_512(tmp_path_factory.mktemp("ct"), count=SLICES)


@pytest.fixture(scope="module")
def unpadded(tmp_path_factory) -> list:
    """The same series without a Pixel Padding Value: a picture needs its own slice only."""
    return ct_series_512(tmp_path_factory.mktemp("ct-unpadded"), count=SLICES, padding=False)


@pytest.fixture(scope="module")
def damaged(tmp_path_factory) -> tuple[list, str]:
    """A 12-slice uncompressed CT series (no header window) whose fourth slice in stored order has
    truncated image data; its file name."""
    datasets = series_datasets(dicom_file("CT_small.dcm"), 12, 4.0)
    datasets[3].PixelData = datasets[3].PixelData[:100]
    paths = write_series(datasets, tmp_path_factory.mktemp("damaged"), shuffle_seed=None)
    return paths, paths[3].name


@pytest.fixture
def paused(monkeypatch) -> None:
    """Series opened in the background get no loading thread: only the slices asked for are decoded."""
    monkeypatch.setattr(SliceLoading, "start", lambda self, first: None)


def png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def assert_same_picture(lazy, eager, view: View) -> None:
    """Values (what the viewer is sent, byte for byte), rendered PNG and window are the same."""
    lazy_values, eager_values = picture_values(lazy, view), picture_values(eager, view)
    np.testing.assert_array_equal(lazy_values.values, eager_values.values)
    assert encode_values(lazy_values.values) == encode_values(eager_values.values)
    lazy_picture, eager_picture = render(lazy, view), render(eager, view)
    assert png(lazy_picture.rgb) == png(eager_picture.rgb)
    assert lazy_picture.window == eager_picture.window


def test_every_picture_equals_the_series_decoded_at_once(series) -> None:
    eager = open_scan(series)
    lazy = open_scan(series, background=True)
    assert lazy.loading is not None and eager.loading is None
    assert lazy.num_slices("axial") == SLICES and lazy.info.size == eager.info.size
    # Asked for at once, while the thread may still be decoding.
    for index in range(SLICES):
        assert_same_picture(lazy, eager, View(slice_index=index))
    for plane in ("coronal", "sagittal"):
        assert_same_picture(lazy, eager, View(plane=plane))
    # Padding shows as the picture's own lowest value (slice n holds the template's values plus n, so
    # each slice's lowest value is another), known as soon as that slice is decoded.
    for index in (0, SLICES // 2, SLICES - 1):
        later = open_scan(series, background=True)
        values = picture_values(later, View(slice_index=index)).values
        padding = np.isnan(eager.voxels[0, index])
        assert padding.any() and (values[padding] == np.nanmin(eager.voxels[0, index])).all()
    assert lazy.loading.settle() == [] and lazy.loading.complete
    np.testing.assert_array_equal(lazy.voxels, eager.voxels)
    assert lazy.default_window == eager.default_window and lazy.auto_window == eager.auto_window
    assert lazy.presets == eager.presets
    assert [resolve_window(lazy, name) for name in lazy.presets] == [resolve_window(eager, name) for name in eager.presets]
    for name in lazy.presets:
        assert_same_picture(lazy, eager, View(slice_index=3, window=name))


def test_a_picture_decodes_only_its_own_slice(unpadded, series, paused) -> None:
    for files in (unpadded, series):  # padding too: it shows as the picture's own lowest value
        lazy = open_scan(files, background=True)
        assert lazy.loading.loaded == 1  # the middle slice, shown first
        assert_same_picture(lazy, open_scan(files), View(slice_index=0))
        assert lazy.loading.loaded == 2
        assert_same_picture(lazy, open_scan(files), View(plane="coronal"))  # cut across every slice
        assert lazy.loading.complete


def test_a_damaged_slice_is_reported_in_the_users_language_and_the_others_stay_viewable(damaged) -> None:
    paths, name = damaged
    with pytest.raises(CorruptFileError) as opened_at_once:
        open_scan(paths)
    assert name in opened_at_once.value.localized("en")
    scan = open_scan(paths, background=True)  # the middle slice (6) decodes: the scan opens
    failed = scan.loading.settle()
    assert [type(error) for error in failed] == [CorruptFileError] and name in failed[0].localized("en")
    assert failed[0].localized("zh") != failed[0].localized("en") and name in failed[0].localized("zh")
    with pytest.raises(CorruptFileError):
        render(scan, View(plane="coronal"))
    refused = []
    for index in range(12):  # the default window (automatic: no header window) skips the damaged slice
        try:
            rendering = render(scan, View(slice_index=index))
        except CorruptFileError:
            refused.append(index)
        else:
            assert rendering.rgb.std() > 10  # a real picture, not an empty one
    assert len(refused) == 1  # only the damaged slice; the other eleven render
    assert np.isnan(scan.voxels[0]).all(axis=(1, 2)).sum() == 1  # its place holds padding


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


def test_stopping_ends_the_thread_after_its_current_slice() -> None:
    decoded, busy, release = [], threading.Event(), threading.Event()

    def decode(slot: int) -> None:
        busy.set()
        release.wait(10)
        decoded.append(slot)

    loading = SliceLoading(50, decode)
    thread = loading.start(first=25)
    assert busy.wait(10)
    loading.stop()
    release.set()
    thread.join(10)
    assert not thread.is_alive() and decoded == [25]
    assert loading.settle() is None  # stopped before every slice was decoded


def wait_for_no_loading_thread() -> bool:
    deadline = time.monotonic() + 10
    while any(t.name == THREAD for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return not any(t.name == THREAD for t in threading.enumerate())


@pytest.mark.parametrize("then", ["close", "open another"])
def test_closing_the_case_or_opening_another_stops_the_thread(series, unpadded, then) -> None:
    session = Session()
    session.open(series, background=True)
    first = session.scan.loading
    if then == "close":
        session.close()
    else:
        session.open(unpadded, background=True)
        session.scan.loading.settle()
    assert wait_for_no_loading_thread()
    assert first.settle() is None or first.complete  # stopped, unless it had already finished
    assert all(path.exists() for path in series)  # the uploaded files are the session's to remove


def test_a_question_asked_while_slices_arrive_is_about_exactly_the_picture_shown(unpadded, tiny_engine, paused) -> None:
    eager = open_scan(unpadded)
    session = Session(engine=tiny_engine)
    session.open(unpadded, background=True)
    for view in (View(slice_index=2, window="soft_tissue"), View(plane="sagittal", window=Window(40, 400))):
        session.set_view(view)
        for _ in session.ask(Task.VQA, question="What is shown?", variant="plain"):
            pass
        sent = session.exchanges[-1].rendering
        expected = render(eager, view)
        assert png(sent.rgb) == png(expected.rgb) and sent.geometry.width == expected.geometry.width
        session.new_conversation()


def _with_unknown_vr(path, tag: int) -> None:
    """Rewrite ``path`` so element ``tag`` has a VR pydicom does not know: it parses, and fails only
    when the element is converted (read, or checked)."""
    data = bytearray(path.read_bytes())
    group, element = divmod(tag, 0x10000)
    at = bytes(data).index(group.to_bytes(2, "little") + element.to_bytes(2, "little"), 132)
    data[at + 4 : at + 6] = b"S\x84"
    path.write_bytes(bytes(data))


def test_a_damaged_element_is_reported_with_its_file_when_read_or_when_its_slice_is_decoded(tmp_path) -> None:
    datasets = series_datasets(dicom_file("CT_small.dcm"), 6, 4.0)
    paths = write_series(datasets, tmp_path, shuffle_seed=None)
    _with_unknown_vr(paths[1], 0x00200013)  # Instance Number: read while the series is sorted
    with pytest.raises(CorruptFileError) as at_opening:
        open_scan(paths, background=True)
    assert paths[1].name in at_opening.value.localized("en")
    paths = write_series(datasets, tmp_path / "again", shuffle_seed=None)
    _with_unknown_vr(paths[1], 0x00080070)  # Manufacturer: never read, so found by the slice's check
    scan = open_scan(paths, background=True)
    failed = scan.loading.settle()
    assert len(failed) == 1 and paths[1].name in failed[0].localized("en")
