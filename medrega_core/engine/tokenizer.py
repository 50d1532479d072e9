"""The slow (sentencepiece) tokenization MedRegA was trained with, with the engine's translated errors.

The tokenization itself lives in :mod:`medrega_vllm.tokenization` (sentencepiece only), shared with the
vLLM plugin so that a vLLM server and this engine make the same prompt ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from medrega_core.engine.errors import N_, CheckpointFilesError
from medrega_vllm.tokenization import IMAGE_TOKENS, SENTENCEPIECE_FILE, AddedToken, SlowTokenizer, TokenizerFileError

__all__ = ["IMAGE_TOKENS", "SENTENCEPIECE_FILE", "AddedToken", "MedRegATokenizer"]


def _files_error(error: TokenizerFileError) -> CheckpointFilesError:
    if error.reason is None:
        return CheckpointFilesError(
            N_("The checkpoint folder {folder} has no {name} (the sentencepiece tokenizer MedRegA uses)."),
            folder=str(error.path.parent),
            name=error.path.name,
        )
    return CheckpointFilesError(
        N_("The tokenizer file {name} cannot be read: {reason}"), name=error.path.name, reason=error.reason
    )


class MedRegATokenizer(SlowTokenizer):
    """:class:`SlowTokenizer` raising :class:`CheckpointFilesError` (translated) for missing or bad files."""

    def __init__(self, model_file: Path, added_tokens: Iterable[AddedToken], placeholders: Sequence[str] = ()) -> None:
        try:
            super().__init__(model_file, added_tokens, placeholders)
        except TokenizerFileError as error:
            raise _files_error(error) from error

    @classmethod
    def from_folder(cls, folder: Path, placeholders: Sequence[str] = ()) -> "MedRegATokenizer":
        """Load ``tokenizer.model`` and the added tokens of a checkpoint folder."""
        try:
            return super().from_folder(folder, placeholders)
        except TokenizerFileError as error:
            raise _files_error(error) from error
