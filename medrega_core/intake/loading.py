"""Slices decoded one at a time, the shown one first and the rest in a background thread.

A series opened in the background is usable once its headers are read and sorted: its ``Scan`` holds
the whole (empty) volume and a :class:`SliceLoading` that fills it. Whoever needs slices
(:meth:`SliceLoading.wait_for`) gets them decoded now when nobody has started them, or waits for the
thread decoding them; a slice that cannot be decoded raises its ``ScanError`` to whoever needs it and
is kept as :attr:`SliceLoading.failed` (its place in the volume holds padding), while the other slices
go on loading.
"""

from __future__ import annotations

import threading
from typing import Callable, Iterable

__all__ = ["SliceLoading"]


class SliceLoading:
    """Decodes the stored slices ``0 .. count - 1`` with ``decode(slot)`` (which writes the slice into
    the scan's volume and raises a ``ScanError`` when it cannot), each exactly once, thread-safe."""

    def __init__(self, count: int, decode: Callable[[int], None]) -> None:
        self.count = count
        self._decode: Callable[[int], None] | None = decode
        self._done = [False] * count
        self._started = [False] * count
        self._errors: dict[int, Exception] = {}
        self._changed = threading.Condition()
        self._stopped = False

    @property
    def loaded(self) -> int:
        """Slices decoded so far (failed ones included: they are settled)."""
        with self._changed:
            return sum(self._done)

    @property
    def complete(self) -> bool:
        return self.loaded == self.count

    @property
    def failed(self) -> list[Exception]:
        """The errors of the slices that could not be decoded so far, in stored order."""
        with self._changed:
            return [self._errors[slot] for slot in sorted(self._errors)]

    def wait_for(self, slots: Iterable[int] | None = None) -> None:
        """Return once ``slots`` (None: every slice) are decoded, decoding those nobody has started;
        raises the error (a ``ScanError``) of the first that cannot be decoded."""
        for slot in range(self.count) if slots is None else slots:
            self._load(slot)
            error = self._errors.get(slot)
            if error is not None:
                raise error

    def load_all(self) -> list[Exception]:
        """Return once every slice is decoded or has failed (decoding those nobody has started), with the
        failures in stored order; for what needs the whole volume but not every slice (the automatic window)."""
        for slot in range(self.count):
            self._load(slot)
        return self.failed

    def settle(self) -> list[Exception] | None:
        """Wait until every slice is decoded or has failed and return the failures, in stored order;
        None when :meth:`stop` came first."""
        with self._changed:
            self._changed.wait_for(lambda: self._stopped or all(self._done))
            return None if not all(self._done) else [self._errors[slot] for slot in sorted(self._errors)]

    def start(self, first: int) -> threading.Thread:
        """Decode every slice in a daemon thread, from ``first`` outwards (the shown slice and its
        neighbours, which a reader scrolls to first)."""
        order = sorted(range(self.count), key=lambda slot: (abs(slot - first), slot))
        thread = threading.Thread(target=self._load_all, args=(order,), name="medrega-slices", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """The scan is closed: the thread stops after its current slice (slices asked for are still decoded)."""
        with self._changed:
            self._stopped = True
            self._changed.notify_all()

    def _load_all(self, order: list[int]) -> None:
        for slot in order:
            if self._stopped:
                return
            self._load(slot)
        with self._changed:
            self._decode = None  # every slice is in the volume: the encoded data can go

    def _load(self, slot: int) -> None:
        with self._changed:
            while self._started[slot] and not self._done[slot]:
                self._changed.wait()
            if self._done[slot]:
                return
            self._started[slot] = True
            decode = self._decode
        error = None
        try:
            decode(slot)
        except Exception as caught:  # kept for whoever needs this slice; the other slices go on
            error = caught
        finally:
            with self._changed:
                if error is not None:
                    self._errors[slot] = error
                self._done[slot] = True
                self._changed.notify_all()
