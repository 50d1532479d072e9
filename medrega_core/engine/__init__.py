"""Inference engine: MedRegA checkpoint loading, tokenizer, preprocessing, streaming generation.

Names are resolved lazily so that ``import medrega_core.engine`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "EngineSettings": "medrega_core.engine.settings",
    "MedRegAEngine": "medrega_core.engine.engine",
    "GenerationResult": "medrega_core.engine.results",
    "HistoryFit": "medrega_core.engine.base",
    "Engine": "medrega_core.engine.base",
    "stream_answer": "medrega_core.engine.base",
    "LoadReport": "medrega_core.engine.load_progress",
    "ServerEngine": "medrega_core.engine.remote",
    "ServerSettings": "medrega_core.engine.remote",
    "GenerationOptions": "medrega_core.engine.settings",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
