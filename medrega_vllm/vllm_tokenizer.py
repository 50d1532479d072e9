"""vLLM's ``--tokenizer-mode medrega``: MedRegA's slow sentencepiece tokenization behind vLLM's
``TokenizerLike`` protocol, and the chat template rendered with it.

``<image>`` splits the text like an added token but keeps its sentencepiece ids, because vLLM's
InternVL processor looks for ``encode("<image>")`` in the prompt ids and puts the image block
(``<img>``, ``<IMG_CONTEXT>`` x N, ``</img>``) in its place: the result equals the engine's ids.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from medrega_vllm import CHAT_TEMPLATE_FILE
from medrega_vllm.tokenization import SlowTokenizer

IMAGE_PLACEHOLDER = "<image>"
PAD_TOKEN = "<unk>"


def default_chat_template() -> str:
    """The shipped Hermes-2 template (``Answer the questions.``, no separators between turns)."""
    return (Path(__file__).with_name(CHAT_TEMPLATE_FILE)).read_text(encoding="utf-8")


class MedRegAVllmTokenizer:
    """What vLLM asks of a tokenizer, answered by :class:`SlowTokenizer`."""

    def __init__(self, folder: Path, truncation_side: str = "left") -> None:
        self._slow = SlowTokenizer.from_folder(folder, placeholders=(IMAGE_PLACEHOLDER,))
        self.name_or_path = str(folder)
        self._truncation_side = truncation_side
        self._added = self._slow.added_tokens
        self._special = {token: self._added[token] for token in ("<s>", "</s>", "<unk>") if token in self._added}
        self._vocab: dict[str, int] | None = None
        self.chat_template = default_chat_template()

    @classmethod
    def from_pretrained(cls, path_or_repo_id: str | Path, *args: Any, revision: str | None = None,
                        download_dir: str | None = None, truncation_side: str = "left",
                        **kwargs: Any) -> "MedRegAVllmTokenizer":
        folder = Path(path_or_repo_id)
        if not folder.is_dir():
            from huggingface_hub import snapshot_download

            folder = Path(snapshot_download(str(path_or_repo_id), revision=revision, cache_dir=download_dir,
                                            allow_patterns=["*.json", "tokenizer.model"]))
        return cls(folder, truncation_side=truncation_side)

    # Sizes and special tokens.
    def num_special_tokens_to_add(self) -> int:
        return 1  # BOS

    @property
    def all_special_tokens(self) -> list[str]:
        return list(self._special)

    @property
    def all_special_ids(self) -> list[int]:
        return list(self._special.values())

    @property
    def bos_token_id(self) -> int:
        return self._slow.bos_id

    @property
    def eos_token_id(self) -> int:
        return self._slow.eos_id

    @property
    def pad_token_id(self) -> int:
        return self._added.get(PAD_TOKEN, 0)

    @property
    def bos_token(self) -> str:
        return self._slow.id_to_token(self._slow.bos_id)

    @property
    def eos_token(self) -> str:
        return self._slow.id_to_token(self._slow.eos_id)

    @property
    def is_fast(self) -> bool:
        return False

    @property
    def vocab_size(self) -> int:
        return self._slow.vocab_size

    @property
    def max_token_id(self) -> int:
        return self._slow.vocab_size - 1

    @property
    def max_chars_per_token(self) -> int:
        return max(len(token) for token in self.get_vocab())

    @property
    def truncation_side(self) -> str:
        return self._truncation_side

    def __len__(self) -> int:
        return self.vocab_size

    def __hash__(self) -> int:
        return hash(id(self))

    # Vocabulary.
    def get_vocab(self) -> dict[str, int]:
        if self._vocab is None:
            vocab = {self._slow.id_to_token(i): i for i in range(self._slow.piece_count())}
            vocab.update(self._added)
            self._vocab = vocab
        return dict(self._vocab)

    def get_added_vocab(self) -> dict[str, int]:
        return dict(self._added)

    def convert_tokens_to_ids(self, tokens: str | list[str]) -> int | list[int]:
        if isinstance(tokens, str):
            found = self._slow.token_to_id(tokens)
            return self.pad_token_id if found is None else found
        return [self.convert_tokens_to_ids(token) for token in tokens]

    def convert_ids_to_tokens(self, ids: Sequence[int], skip_special_tokens: bool = False) -> list[str]:
        skip = set(self._special.values()) if skip_special_tokens else set()
        return [self._slow.id_to_token(int(i)) for i in ids if int(i) not in skip]

    def convert_tokens_to_string(self, tokens: list[str]) -> str:
        return self._slow.decode_pieces(tokens)

    # Encoding and decoding.
    def encode(self, text: str, truncation: bool | None = None, max_length: int | None = None,
               add_special_tokens: bool = True, **kwargs: Any) -> list[int]:
        ids = self._slow.encode(text, add_bos=add_special_tokens)
        if truncation and max_length is not None and len(ids) > max_length:
            ids = ids[-max_length:] if self._truncation_side == "left" else ids[:max_length]
        return ids

    def __call__(self, text: str | list[str], text_pair: str | None = None, add_special_tokens: bool = True,
                 truncation: bool = False, max_length: int | None = None, return_tensors: str | None = None,
                 **kwargs: Any):
        from transformers import BatchEncoding

        def one(item: str) -> list[int]:
            return self.encode(item, truncation=truncation, max_length=max_length,
                               add_special_tokens=add_special_tokens)

        ids: Any = [one(item) for item in text] if isinstance(text, list) else one(text)
        mask = [[1] * len(row) for row in ids] if isinstance(text, list) else [1] * len(ids)
        return BatchEncoding({"input_ids": ids, "attention_mask": mask}, tensor_type=return_tensors)

    def decode(self, ids: Sequence[int] | int, skip_special_tokens: bool = False, **kwargs: Any) -> str:
        ids = [ids] if isinstance(ids, int) else [int(i) for i in ids]
        return self._slow.decode(ids, skip=self._special.values() if skip_special_tokens else ())

    # Chat template.
    def get_chat_template(self, chat_template: str | None = None, tools: Any = None) -> str:
        return chat_template or self.chat_template

    def apply_chat_template(self, conversation: list[dict[str, Any]] | None = None, tools: Any = None,
                            chat_template: str | None = None, tokenize: bool = True,
                            add_generation_prompt: bool = False, continue_final_message: bool = False,
                            return_dict: bool = False, messages: list[dict[str, Any]] | None = None,
                            **kwargs: Any) -> str | list[int]:
        import jinja2.sandbox

        environment = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        template = environment.from_string(self.get_chat_template(chat_template))
        text = template.render(messages=conversation if conversation is not None else messages or [],
                               add_generation_prompt=add_generation_prompt, bos_token=self.bos_token,
                               eos_token=self.eos_token, **kwargs)
        # The template writes BOS itself.
        return self.encode(text, add_special_tokens=False) if tokenize else text
