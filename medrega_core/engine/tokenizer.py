"""The slow (sentencepiece) tokenization MedRegA was trained with.

The transformers 5.x ``AutoTokenizer`` builds a fast tokenizer that splits ``<|im_start|>`` (a
sentencepiece piece of the Yi vocabulary) into several tokens, so its prompt ids differ from the
training ids. This tokenizer reproduces the slow ``LlamaTokenizer`` (legacy mode): split the text on
the added tokens, give each its id, encode the text between them with the checkpoint's own
sentencepiece model, and put BOS first.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import sentencepiece

from medrega_core.engine.errors import N_, CheckpointFilesError

SENTENCEPIECE_FILE = "tokenizer.model"
#: Image tokens: part of the prompt, never part of an answer shown to the user.
IMAGE_TOKENS = ("<img>", "</img>", "<IMG_CONTEXT>")


@dataclass(frozen=True)
class AddedToken:
    """A token matched verbatim in the text before sentencepiece runs (``<ref>``, ``<IMG_CONTEXT>`` ...)."""

    content: str
    id: int


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CheckpointFilesError(
            N_("The tokenizer file {name} cannot be read: {reason}"), name=path.name, reason=str(error)
        ) from error


def read_added_tokens(folder: Path) -> list[AddedToken]:
    """Added tokens from ``tokenizer_config.json`` (``added_tokens_decoder``) and ``added_tokens.json``."""
    by_content: dict[str, int] = {}
    config_path = folder / "tokenizer_config.json"
    if config_path.exists():
        decoder = _read_json(config_path).get("added_tokens_decoder", {})
        by_content.update({entry["content"]: int(token_id) for token_id, entry in decoder.items()})
    added_path = folder / "added_tokens.json"
    if added_path.exists():
        by_content.update({content: int(token_id) for content, token_id in _read_json(added_path).items()})
    return [AddedToken(content, token_id) for content, token_id in by_content.items()]


class MedRegATokenizer:
    """Sentencepiece tokenizer plus verbatim added tokens, matching the slow Llama tokenizer's ids.

    Parameters
    ----------
    model_file:
        The checkpoint's ``tokenizer.model``.
    added_tokens:
        Tokens matched verbatim in text (longest first), each with its id.
    """

    def __init__(self, model_file: Path, added_tokens: Iterable[AddedToken]) -> None:
        try:
            self._sp = sentencepiece.SentencePieceProcessor(model_file=str(model_file))
        except (OSError, RuntimeError) as error:
            raise CheckpointFilesError(
                N_("The tokenizer file {name} cannot be read: {reason}"), name=model_file.name, reason=str(error)
            ) from error
        sp_size = self._sp.get_piece_size()
        # Includes <s>, </s>, <unk>: the slow tokenizer also matches its special tokens verbatim.
        self._added = {t.content: t.id for t in added_tokens}
        self._id_to_added = {token_id: content for content, token_id in self._added.items()}
        pattern = "|".join(re.escape(c) for c in sorted(self._added, key=len, reverse=True))
        self._splitter = re.compile(f"({pattern})") if pattern else None
        self.vocab_size = max([sp_size - 1, *self._added.values()]) + 1
        self.bos_id = self._sp.bos_id()
        self.eos_id = self._sp.eos_id()

    @classmethod
    def from_folder(cls, folder: Path) -> "MedRegATokenizer":
        """Load ``tokenizer.model`` and the added tokens of a checkpoint folder."""
        model_file = folder / SENTENCEPIECE_FILE
        if not model_file.exists():
            raise CheckpointFilesError(
                N_("The checkpoint folder {folder} has no {name} (the sentencepiece tokenizer MedRegA uses)."),
                folder=str(folder),
                name=SENTENCEPIECE_FILE,
            )
        return cls(model_file, read_added_tokens(folder))

    def token_to_id(self, token: str) -> int | None:
        """Id of an added token or a sentencepiece piece; None when the vocabulary lacks it."""
        if token in self._added:
            return self._added[token]
        piece_id = self._sp.piece_to_id(token)
        return None if piece_id == self._sp.unk_id() and token != self._sp.id_to_piece(piece_id) else piece_id

    def encode(self, text: str, add_bos: bool = True) -> list[int]:
        """Token ids of ``text``: BOS (optional), then added tokens and sentencepiece pieces in order."""
        ids = [self.bos_id] if add_bos else []
        chunks = self._splitter.split(text) if self._splitter else [text]
        for chunk in chunks:
            if not chunk:
                continue
            if chunk in self._added:
                ids.append(self._added[chunk])
            else:
                ids.extend(self._sp.encode(chunk))
        return ids

    def decode(self, ids: Sequence[int], skip: Iterable[int] = ()) -> str:
        """Text of ``ids``; added tokens appear verbatim (so ``<ref>``/``<box>`` survive).

        Parameters
        ----------
        ids:
            Token ids in order.
        skip:
            Ids to leave out (control and image tokens for an answer).
        """
        skipped = set(skip)
        parts: list[str] = []
        run: list[int] = []
        for token_id in ids:
            if token_id in skipped:
                continue
            if token_id in self._id_to_added:
                parts.append(self._sp.decode(run))
                parts.append(self._id_to_added[token_id])
                run = []
            else:
                run.append(token_id)
        parts.append(self._sp.decode(run))
        return "".join(parts)

    def answer_skip_ids(self) -> set[int]:
        """Ids never shown in an answer: BOS/EOS/UNK, pad and the image tokens."""
        ids = {self.bos_id, self.eos_id, self._sp.unk_id(), self._sp.pad_id()}
        ids.update(self._added[t] for t in IMAGE_TOKENS if t in self._added)
        return {i for i in ids if i >= 0}
