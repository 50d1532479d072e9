"""The slow (sentencepiece) tokenization MedRegA was trained with, depending on sentencepiece only.

The transformers 5.x ``AutoTokenizer`` builds a fast tokenizer that splits ``<|im_start|>`` (a
sentencepiece piece of the Yi vocabulary) into several tokens, so its prompt ids differ from the
training ids. :class:`SlowTokenizer` reproduces the slow ``LlamaTokenizer`` (legacy mode): split the
text on the added tokens, give each its id, encode the text between them with the checkpoint's own
sentencepiece model, and put BOS first. The engine (``medrega_core.engine.tokenizer``) and the vLLM
plugin (``medrega_vllm.vllm_tokenizer``) both tokenize through it, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import sentencepiece

SENTENCEPIECE_FILE = "tokenizer.model"
#: Image tokens: part of the prompt, never part of an answer shown to the user.
IMAGE_TOKENS = ("<img>", "</img>", "<IMG_CONTEXT>")


class TokenizerFileError(ValueError):
    """A tokenizer file is missing (``reason`` None) or unreadable."""

    def __init__(self, path: Path, reason: str | None = None) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason or 'missing'}")


@dataclass(frozen=True)
class AddedToken:
    """A token matched verbatim in the text before sentencepiece runs (``<ref>``, ``<IMG_CONTEXT>`` ...)."""

    content: str
    id: int


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TokenizerFileError(path, str(error)) from error


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


class SlowTokenizer:
    """Sentencepiece tokenizer plus verbatim added tokens, matching the slow Llama tokenizer's ids.

    Parameters
    ----------
    model_file:
        The checkpoint's ``tokenizer.model``.
    added_tokens:
        Tokens matched verbatim in text (longest first), each with its id.
    placeholders:
        Texts that also split the text but are encoded by sentencepiece on their own (vLLM's
        ``<image>``, which its InternVL processor finds as ``encode("<image>")`` and replaces by the
        image block). Text without them tokenizes exactly as without this option.
    """

    def __init__(self, model_file: Path, added_tokens: Iterable[AddedToken], placeholders: Sequence[str] = ()) -> None:
        try:
            self._sp = sentencepiece.SentencePieceProcessor(model_file=str(model_file))
        except (OSError, RuntimeError) as error:
            raise TokenizerFileError(model_file, str(error)) from error
        sp_size = self._sp.get_piece_size()
        # Includes <s>, </s>, <unk>: the slow tokenizer also matches its special tokens verbatim.
        self._added = {t.content: t.id for t in added_tokens}
        self._id_to_added = {token_id: content for content, token_id in self._added.items()}
        splitters = sorted({*self._added, *placeholders}, key=len, reverse=True)
        pattern = "|".join(re.escape(c) for c in splitters)
        self._splitter = re.compile(f"({pattern})") if pattern else None
        self.vocab_size = max([sp_size - 1, *self._added.values()]) + 1
        self.bos_id = self._sp.bos_id()
        self.eos_id = self._sp.eos_id()

    @classmethod
    def from_folder(cls, folder: Path, placeholders: Sequence[str] = ()) -> "SlowTokenizer":
        """Load ``tokenizer.model`` and the added tokens of a checkpoint folder.

        Raises
        ------
        TokenizerFileError
            When ``tokenizer.model`` is missing or a tokenizer file cannot be read.
        """
        model_file = folder / SENTENCEPIECE_FILE
        if not model_file.exists():
            raise TokenizerFileError(model_file)
        return cls(model_file, read_added_tokens(folder), placeholders)

    @property
    def added_tokens(self) -> dict[str, int]:
        """Verbatim tokens and their ids."""
        return dict(self._added)

    def piece_count(self) -> int:
        """Pieces in the sentencepiece model (ids below it are pieces unless an added token overrides)."""
        return self._sp.get_piece_size()

    def id_to_token(self, token_id: int) -> str:
        """The added token or sentencepiece piece of ``token_id``."""
        return self._id_to_added.get(token_id) or self._sp.id_to_piece(token_id)

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

    def decode_pieces(self, pieces: Sequence[str]) -> str:
        """Text of token strings (added tokens verbatim, sentencepiece pieces joined by sentencepiece)."""
        parts: list[str] = []
        run: list[str] = []
        for piece in pieces:
            if piece in self._added:
                parts += [self._sp.decode_pieces(run), piece]
                run = []
            else:
                run.append(piece)
        parts.append(self._sp.decode_pieces(run))
        return "".join(parts)

    def answer_skip_ids(self) -> set[int]:
        """Ids never shown in an answer: BOS/EOS/UNK, pad and the image tokens."""
        ids = {self.bos_id, self.eos_id, self._sp.unk_id(), self._sp.pad_id()}
        ids.update(self._added[t] for t in IMAGE_TOKENS if t in self._added)
        return {i for i in ids if i >= 0}
