"""Let a torchvision whose compiled operators cannot load (a CUDA build beside a CPU torch) import.

vLLM's InternVL code only uses ``torchvision.transforms``, but importing torchvision registers fake
kernels for ``torchvision::nms`` and ``torchvision::qnms``, which fails when their schemas were never
declared. When torchvision's own extension does not load, declare the two schemas (no kernels) first.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor",
)
_declared: list[object] = []  # keeps the library alive for the life of the process


def _extension_loads(torch_module) -> bool:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return True  # no torchvision: nothing to fix
    for folder in spec.submodule_search_locations:
        for library in Path(folder).glob("_C*.so"):
            try:
                torch_module.ops.load_library(str(library))
                return True
            except (OSError, RuntimeError):
                return False
    return False


def declare_missing_torchvision_ops() -> bool:
    """Declare the schemas torchvision's import needs when its extension cannot provide them.

    Returns True when they were declared (now or earlier in this process).
    """
    import torch

    if _declared:
        return True
    if _extension_loads(torch):
        return False
    library = torch.library.Library("torchvision", "DEF")
    for schema in _SCHEMAS:
        library.define(schema)
    _declared.append(library)
    return True
