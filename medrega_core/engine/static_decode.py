"""Greedy batch-1 decoding with a static KV cache; on CUDA each decode step replays a captured CUDA graph.

Eager decoding of the 60-layer language model spends most of each token launching kernels from Python
(see ``docs/PERFORMANCE.md``). Here the KV cache, the input token, its position and the attention mask
live in fixed buffers, so one decode step always touches the same memory and can be recorded once as a
CUDA graph and replayed per token: one launch instead of thousands.
"""

from __future__ import annotations

import functools

import torch
from transformers import StaticCache

from medrega_core.engine.errors import N_, EngineError

#: Eager steps run before the capture: they load kernels and create library handles, which a
#: capture may not do.
WARMUP_STEPS = 2


class DecodeLengthError(EngineError):
    """More tokens were fed than the static cache was sized for."""


@functools.cache
def _side_stream(device: torch.device) -> torch.cuda.Stream:
    """The one stream per device that warm-up steps and captures run on.

    cuBLAS keeps a workspace (32 MiB on Hopper) for every stream it has run on, for the life of the
    process: a new stream per answer would leave one more workspace behind each time (seen on an H200).
    """
    return torch.cuda.Stream(device)


class StaticGreedyDecoder:
    """One sequence decoded greedily through a fixed-size KV cache, with or without a CUDA graph.

    Call :meth:`prefill` once, then :meth:`step` per token. Must be used under ``torch.inference_mode()``
    (the cache tensors are inference tensors).

    Parameters
    ----------
    model:
        A :class:`~medrega_core.engine.modeling.MedRegAForConditionalGeneration` (any weight format
        whose Linears launch no host synchronisation; bitsandbytes 4-bit and plain Linears qualify).
    max_length:
        Tokens the cache holds: prompt plus every token fed to :meth:`step`.
    use_graph:
        Capture the decode step as a CUDA graph after :data:`WARMUP_STEPS` eager steps (CUDA only).
        Without it every step runs eagerly on the same static buffers, which gives the same tokens.
    """

    def __init__(self, model, max_length: int, use_graph: bool) -> None:
        self.language_model = model.model.language_model
        self.embed = model.get_input_embeddings()
        self.lm_head = model.lm_head
        self.device = model.lm_head.weight.device
        if use_graph and self.device.type != "cuda":
            raise ValueError("CUDA graphs need the model on a CUDA device")
        self.use_graph = use_graph
        self.max_length = max_length
        self.cache = StaticCache(config=model.config, max_cache_len=max_length)
        self.length = 0
        self.steps_run = 0
        self.graph: torch.cuda.CUDAGraph | None = None
        self.token = torch.zeros((1, 1), dtype=torch.long, device=self.device)
        self.position = torch.zeros((1, 1), dtype=torch.long, device=self.device)
        # True where a cache slot holds a token the new one may attend to; (batch, head, query, key).
        self.mask = torch.zeros((1, 1, 1, max_length), dtype=torch.bool, device=self.device)
        self.next_token = torch.zeros((1,), dtype=torch.long, device=self.device)

    def prefill(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Run the prompt through the model (eagerly) and fill the cache.

        Parameters
        ----------
        embeddings:
            ``(1, prompt_length, hidden)`` prompt embeddings, image features scattered in.

        Returns
        -------
        torch.Tensor
            ``(1, vocab)`` logits for the token after the prompt.
        """
        prompt_length = embeddings.shape[1]
        self._check_room(prompt_length)
        positions = torch.arange(prompt_length, device=self.device).unsqueeze(0)
        out = self.language_model(
            inputs_embeds=embeddings, position_ids=positions, past_key_values=self.cache, use_cache=True
        )
        self.mask[..., :prompt_length] = True
        self.length = prompt_length
        return self.lm_head(out.last_hidden_state[:, -1])

    def step(self, token: torch.Tensor) -> torch.Tensor:
        """Feed one token; returns the greedy next token.

        Parameters
        ----------
        token:
            ``(1, 1)`` or ``(1,)`` token id on the model's device.

        Returns
        -------
        torch.Tensor
            ``(1,)`` next-token id. It is a reused buffer: read or copy it before the next step.
        """
        self._check_room(self.length + 1)
        self.token.copy_(token.view(1, 1))
        self.position.fill_(self.length)
        self.mask[..., self.length] = True
        if self.graph is not None:
            self.graph.replay()
        elif self.use_graph and self.steps_run >= WARMUP_STEPS:
            self.graph = self._capture()
            self.graph.replay()
        elif self.use_graph:
            self._run_on_side_stream()
        else:
            self._decode_step()
        self.length += 1
        self.steps_run += 1
        return self.next_token

    def _check_room(self, length: int) -> None:
        if length > self.max_length:
            raise DecodeLengthError(
                N_("The static KV cache holds {limit} tokens; {length} were needed."),
                limit=self.max_length,
                length=length,
            )

    def _decode_step(self) -> None:
        """One token through the model, reading and writing only the fixed buffers and the cache."""
        hidden = self.language_model(
            inputs_embeds=self.embed(self.token),
            attention_mask=self.mask,
            position_ids=self.position,
            past_key_values=self.cache,
            use_cache=True,
        ).last_hidden_state
        self.next_token.copy_(self.lm_head(hidden[:, -1]).argmax(-1))

    def _run_on_side_stream(self) -> None:
        # Warm-up before a capture belongs on a side stream (PyTorch's CUDA graph rules).
        side = _side_stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            self._decode_step()
        torch.cuda.current_stream(self.device).wait_stream(side)

    def _capture(self) -> torch.cuda.CUDAGraph:
        """Record one decode step; recording runs no kernels, so the cache is untouched until replay."""
        graph = torch.cuda.CUDAGraph()
        # thread_local: other threads (the UI's status panel) may query the device during the capture.
        with torch.cuda.graph(graph, stream=_side_stream(self.device), capture_error_mode="thread_local"):
            self._decode_step()
        return graph
