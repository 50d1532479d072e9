"""Progress of a model load, by bytes of weights: what the status line shows while 80 GB arrive.

The total is read from the safetensors headers of every shard (tensor data only, no weights read).
While ``from_pretrained`` places the weights, a PyTorch parameter-registration hook counts each
loaded parameter's elements at the checkpoint's bytes per element (quantized parameters by their
original shape), so the count follows the real load shard after shard, and the time left is
estimated from the rate so far.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

#: Steps between two weight reports, as a fraction of the total (so at most about 100 reports).
REPORT_STEP = 0.01


@dataclass(frozen=True)
class LoadReport:
    """One progress report of :meth:`MedRegAEngine.load`.

    Attributes
    ----------
    fraction:
        Overall progress in [0, 1].
    message:
        An English msgid (translate with ``medrega_core.i18n``) naming the step.
    loaded_bytes, total_bytes:
        Weight bytes loaded so far and in all shards; both 0 outside the weights step.
    seconds_left:
        Estimated seconds until the weights are loaded, or None before an estimate exists.
    """

    fraction: float
    message: str
    loaded_bytes: int = 0
    total_bytes: int = 0
    seconds_left: float | None = None


#: ``progress(report)``, called as loading advances.
ProgressCallback = Callable[[LoadReport], None]


@dataclass(frozen=True)
class CheckpointSize:
    """Tensor bytes and elements of all shards, from their headers."""

    tensor_bytes: int
    elements: int

    @property
    def bytes_per_element(self) -> float:
        return self.tensor_bytes / self.elements if self.elements else 0.0


def checkpoint_size(shards: Sequence[Path]) -> CheckpointSize:
    """Sum the tensor entries of the safetensors ``shards`` (8-byte header length, then JSON)."""
    total_bytes = elements = 0
    for path in shards:
        with Path(path).open("rb") as handle:
            header = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            start, end = entry["data_offsets"]
            total_bytes += end - start
            elements += math.prod(entry["shape"])
    return CheckpointSize(total_bytes, elements)


def _original_elements(parameter: torch.Tensor) -> int:
    """Elements of the checkpoint tensor behind ``parameter``: a 4-bit parameter packs two per byte
    and keeps its original shape in its quantization state."""
    quant_state = getattr(parameter, "quant_state", None)
    shape = getattr(quant_state, "shape", None)
    return math.prod(shape) if shape is not None else parameter.numel()


class WeightsMeter:
    """Counts weight bytes as ``from_pretrained`` places them and reports every :data:`REPORT_STEP`.

    Parameters
    ----------
    size:
        The checkpoint's size from :func:`checkpoint_size`.
    report:
        Called with ``(loaded_bytes, seconds_left)``.
    """

    def __init__(self, size: CheckpointSize, report: Callable[[int, float | None], None]) -> None:
        self.size = size
        self._report = report
        self._elements = 0
        self._reported = 0
        self._started = time.monotonic()
        self._lock = threading.Lock()

    @property
    def loaded_bytes(self) -> int:
        return min(self.size.tensor_bytes, round(self._elements * self.size.bytes_per_element))

    def _seconds_left(self, loaded: int) -> float | None:
        if loaded <= 0:
            return None
        elapsed = time.monotonic() - self._started
        return max(0.0, elapsed / loaded * (self.size.tensor_bytes - loaded))

    def _on_parameter(self, module: torch.nn.Module, name: str, parameter: torch.Tensor | None) -> None:
        # transformers marks each weight it has read from the checkpoint; freshly built (meta) ones are skipped.
        if parameter is None or parameter.device.type == "meta" or not getattr(parameter, "_is_hf_initialized", False):
            return
        with self._lock:
            self._elements += _original_elements(parameter)
            loaded = self.loaded_bytes
            if loaded - self._reported < REPORT_STEP * self.size.tensor_bytes:
                return
            self._reported = loaded
        self._report(loaded, self._seconds_left(loaded))

    @contextmanager
    def counting(self) -> Iterator["WeightsMeter"]:
        """Count while the block runs; the final report (all bytes, nothing left) comes on success."""
        self._started = time.monotonic()
        self._report(0, None)
        handle = torch.nn.modules.module.register_module_parameter_registration_hook(self._on_parameter)
        try:
            yield self
        finally:
            handle.remove()
        self._report(self.size.tensor_bytes, 0.0)
