"""Engine-specific errors: each carries an English msgid (marked ``N_``) and its parameters."""

from __future__ import annotations

from medrega_core.errors import EngineError, N_


class CheckpointNotFoundError(EngineError):
    """The checkpoint folder or Hugging Face id cannot be reached."""


class CheckpointFilesError(EngineError):
    """The checkpoint folder lacks files the engine needs."""


class UnsupportedCheckpointError(EngineError):
    """The checkpoint is readable but its architecture or configuration is not supported."""


class GenerationInputError(EngineError):
    """A request to the loaded model is malformed (image, text or settings)."""


__all__ = [
    "N_",
    "EngineError",
    "CheckpointNotFoundError",
    "CheckpointFilesError",
    "UnsupportedCheckpointError",
    "GenerationInputError",
]
