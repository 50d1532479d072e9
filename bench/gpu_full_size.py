"""Full-size MedRegA benchmark from random weights: memory, image encode, prefill and decode per weight format.

Builds the real MedRegA dimensions (InternViT-6B, 45 layers + MLP projector + Yi-34B) with the project's
own model code (:mod:`medrega_core.engine.modeling`) on the meta device, replaces its Linears the way
``from_pretrained`` does for the chosen quantization mode, then materialises one Linear at a time
(random bf16 weight on the device -> bitsandbytes NF4 / LLM.int8 or kept in bf16), so that peak memory
stays near the quantized size. Nothing is downloaded.

Each mode runs in its own subprocess (clean GPU memory); its record is appended to ``--out`` as one JSON
line as soon as it ends, so a time-out still leaves the finished modes. A table and the project's goals
(met or missed) are printed last.

Usage::

    python bench/gpu_full_size.py --out results.jsonl                       # full size, CUDA
    python bench/gpu_full_size.py --scale tiny --device cpu --out tiny.jsonl # same code path, small dims

Units in the records: bytes, seconds, tokens per second, GiB (2**30 bytes), TB/s (1e12 bytes/s).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a plain script from anywhere: import the project's code
    sys.path.insert(0, str(REPO_ROOT))

GIB = 2**30
#: Modes in order of importance: a time-out loses the last ones first.
DEFAULT_MODES = ("nf4", "nf4-all", "bf16", "int8")
#: Decode implementations: ``eager`` = the model's forward with a growing (dynamic) KV cache, as
#: ``generate`` runs it; ``static`` = :class:`StaticGreedyDecoder` with eager steps; ``graph`` = the same
#: with each step replayed as a CUDA graph (CUDA only). The first one measured is the baseline of the ratios.
DECODE_IMPLS = ("eager", "static", "graph")
DEFAULT_DECODE_IMPLS = {"cuda": ("eager", "graph"), "cpu": ("eager", "static")}
#: Steps of the graph-against-static check: same prompt, same forced tokens, ids must be equal.
GRAPH_CHECK_STEPS = 16
#: Module name prefixes of the model's four parts, for the per-part module census.
PARTS = {
    "vision_tower": "model.vision_tower.",
    "projector": "model.multi_modal_projector.",
    "language_model": "model.language_model.",
    "lm_head": "lm_head",
}
#: Vendor datasheet memory bandwidth (TB/s) by a substring of ``torch.cuda.get_device_name``;
#: first match wins, so more specific names come first.
DATASHEET_BANDWIDTH_TBS = (
    ("H200", 4.8),
    ("H100 NVL", 3.9),
    ("H100 PCIe", 2.0),
    ("H100", 3.35),
    ("A100-SXM4-80GB", 2.039),
    ("A100 80GB PCIe", 1.935),
    ("A100", 1.555),
    ("L40S", 0.864),
    ("L4", 0.3),
    ("A10G", 0.6),
)


@dataclasses.dataclass(frozen=True)
class Goal:
    """A target from issue 3, checked against one field of a mode's record (``modes`` empty: every mode).

    Goals are about the real model on a GPU: they are judged on full-scale CUDA runs only.
    """

    name: str
    field: str
    limit: float
    at_most: bool
    modes: tuple[str, ...] = ()


GOALS = (
    Goal("nf4 peak GPU memory at a 2k-token context < 31 GiB", "device_used_long_gib", 31.0, True, ("nf4",)),
    Goal("nf4-all peak GPU memory at a 2k-token context < 22 GiB", "device_used_long_gib", 22.0, True, ("nf4-all",)),
    Goal("decode >= 15 % of the bandwidth-bound limit", "bound_fraction", 0.15, False),
    Goal("image encode + prefill < 0.5 s (H100)", "encode_plus_prefill_s", 0.5, True),
)


@dataclasses.dataclass(frozen=True)
class Scale:
    """Model dimensions and workload sizes of one benchmark scale (token counts are sequence lengths).

    ``timing_repeats`` runs of the image encode and of the prefill are timed (median) after a warm-up.
    """

    name: str
    vision_layers: int
    vision_hidden: int
    vision_heads: int
    vision_mlp: int
    llm_layers: int
    llm_hidden: int
    llm_heads: int
    llm_kv_heads: int
    llm_mlp: int
    vocab: int
    prompt_text_tokens: int = 100
    long_context_tokens: int = 2048
    copy_probe_bytes: int = GIB
    timing_repeats: int = 3


FULL = Scale("full", 45, 3200, 25, 12800, 60, 7168, 56, 8, 20480, 64000)
#: CPU scale for tests: bitsandbytes on the CPU dequantizes on every call, so the long context is shorter.
TINY = Scale("tiny", 2, 64, 4, 256, 2, 128, 4, 2, 256, 1000, long_context_tokens=512,
             copy_probe_bytes=16 * 2**20, timing_repeats=1)  # fmt: skip
SCALES = {s.name: s for s in (FULL, TINY)}


def original_config(scale: Scale) -> dict[str, Any]:
    """An original-layout (``internvl_chat``) ``config.json`` dict with ``scale``'s dimensions.

    The fixed values are MedRegA's (InternVL-Chat-V1.2: 448 px, patch 14, ps_version v1, Hermes-2).
    """
    return {
        "architectures": ["InternVLChatModel"],
        "model_type": "internvl_chat",
        "template": "Hermes-2",
        "ps_version": "v1",
        "select_layer": -1,
        "downsample_ratio": 0.5,
        "force_image_size": 448,
        "dynamic_image_size": False,
        "use_thumbnail": False,
        "vision_config": {
            "model_type": "intern_vit_6b",
            "hidden_size": scale.vision_hidden,
            "num_hidden_layers": scale.vision_layers,
            "num_attention_heads": scale.vision_heads,
            "intermediate_size": scale.vision_mlp,
            "hidden_act": "gelu",
            "qkv_bias": False,
            "qk_normalization": True,
            "norm_type": "rms_norm",
            "layer_norm_eps": 1e-6,
            "initializer_factor": 0.1,
            "image_size": 448,
            "patch_size": 14,
        },
        "llm_config": {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_size": scale.llm_hidden,
            "num_hidden_layers": scale.llm_layers,
            "num_attention_heads": scale.llm_heads,
            "num_key_value_heads": scale.llm_kv_heads,
            "intermediate_size": scale.llm_mlp,
            "vocab_size": scale.vocab,
            "max_position_embeddings": 4096,
            "rms_norm_eps": 1e-5,
            "rope_theta": 5000000.0,
            "tie_word_embeddings": False,
        },
    }


def datasheet_bandwidth_tbs(device_name: str) -> float | None:
    """Datasheet memory bandwidth of a CUDA card from its name, or None for an unknown card."""
    for fragment, tbs in DATASHEET_BANDWIDTH_TBS:
        if fragment in device_name:
            return tbs
    return None


def judge_goals(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The goals that apply to ``record``'s mode, each with its value and whether it was met.

    ``met`` is None when the value is missing (stage not reached) or the run is not full-scale CUDA.
    """
    judged_here = record["device"] == "cuda" and record["scale"] == FULL.name
    judged = []
    for goal in GOALS:
        if goal.modes and record["mode"] not in goal.modes:
            continue
        value = record.get(goal.field)
        met = None
        if value is not None and judged_here:
            met = value < goal.limit if goal.at_most else value >= goal.limit
        judged.append({"goal": goal.name, "field": goal.field, "limit": goal.limit, "value": value, "met": met})
    return judged


# --------------------------------------------------------------------------------------------------
# Worker: one mode in this process.
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class WorkerSettings:
    """What one worker measures: ``decode_tokens`` forced decode steps with each of ``decode_impls`` (in
    order, the first is the baseline); ``deadline`` is a ``time.time()``."""

    mode: str
    scale: Scale
    device: str
    decode_tokens: int
    deadline: float
    decode_impls: tuple[str, ...] = ("eager",)


class Snapshots:
    """Writes the growing record of a worker to a file after each stage (whole file replaced atomically)."""

    def __init__(self, path: Path | None, record: dict[str, Any]) -> None:
        self.path = path
        self.record = record

    def update(self, **fields: Any) -> None:
        self.record.update(fields)
        if self.path is not None:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.record), encoding="utf-8")
            os.replace(tmp, self.path)


def _synchronize(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def _timed(device: str, action: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds that ``action`` takes, device work included, and its result."""
    _synchronize(device)
    start = time.perf_counter()
    result = action()
    _synchronize(device)
    return time.perf_counter() - start, result


def _median_time(device: str, action: Callable[[], Any], repeats: int) -> float:
    """Median seconds over ``repeats`` runs after one warm-up run."""
    _timed(device, action)
    return statistics.median(_timed(device, action)[0] for _ in range(repeats))


def measure_copy_bandwidth_tbs(device: str, nbytes: int) -> float:
    """Device-to-device copy bandwidth (read + written bytes per second, in TB/s): a measured ceiling."""
    import torch

    source = torch.empty(nbytes // 2, dtype=torch.bfloat16, device=device).normal_()
    target = torch.empty_like(source)
    seconds = _median_time(device, lambda: target.copy_(source), repeats=5)
    return 2 * nbytes / seconds / 1e12


def build_meta_model(scale: Scale, mode: str):
    """The project's MedRegA model on the meta device, Linears replaced as ``from_pretrained`` would for ``mode``.

    Returns the model and the transformers quantizer (None for bf16).
    """
    import torch
    from transformers.quantizers import AutoHfQuantizer

    from medrega_core.engine.modeling import (
        MedRegAForConditionalGeneration,
        native_config_from_original,
        quantization_config,
    )

    config = native_config_from_original(original_config(scale))
    with torch.device("meta"):
        model = MedRegAForConditionalGeneration._from_config(config, dtype=torch.bfloat16, attn_implementation="sdpa")
    bnb_config = quantization_config(mode, torch.bfloat16)
    quantizer = None
    if bnb_config is not None:
        quantizer = AutoHfQuantizer.from_config(bnb_config, pre_quantized=False)
        quantizer.preprocess_model(model, device_map=None)
    return model.eval(), quantizer


def _init_owners(model) -> dict[str, Any]:
    """Module name -> the innermost ``PreTrainedModel`` around it, whose ``_init_weights`` initialises it."""
    from transformers import PreTrainedModel

    owners: dict[str, Any] = {}
    for name, module in model.named_modules():
        parent = name.rpartition(".")[0] if name else None
        owners[name] = module if isinstance(module, PreTrainedModel) else owners.get(parent, model)
    return owners


def _random_weight(module, device: str, std: float, dtype) -> Any:
    import torch

    return torch.empty(module.out_features, module.in_features, dtype=dtype, device=device).normal_(0.0, std)


def _fill_bias(module, device: str) -> None:
    import torch

    if module.bias is not None:
        bias = torch.empty(module.out_features, dtype=torch.bfloat16, device=device).normal_(0.0, 0.02)
        module.bias = torch.nn.Parameter(bias, requires_grad=False)


def materialise(model, device: str, std: float = 0.02) -> None:
    """Give every meta parameter and buffer a value on ``device``, one module at a time.

    bitsandbytes Linears get a random bf16 weight that is quantized at once (as ``from_pretrained`` does
    with checkpoint tensors), so only one full-precision Linear exists at a time. Everything else is
    initialised by the model's own ``_init_weights`` (norms to one, layer scale, rotary frequencies).
    """
    import bitsandbytes as bnb
    import torch

    owners = _init_owners(model)
    for name, module in model.named_modules():
        if isinstance(module, bnb.nn.Linear4bit):
            old = module.weight
            weight = _random_weight(module, device, std, torch.bfloat16)
            module.weight = bnb.nn.Params4bit(weight, requires_grad=False, **old.__dict__).to(device)
            _fill_bias(module, device)
        elif isinstance(module, bnb.nn.Linear8bitLt):
            weight = _random_weight(module, device, std, torch.float16)
            int8_rows, row_scales, _ = bnb.functional.int8_vectorwise_quant(weight)
            del weight
            module.weight = bnb.nn.Int8Params(
                int8_rows, requires_grad=False, has_fp16_weights=False, CB=int8_rows, SCB=row_scales
            )
            _fill_bias(module, device)
        elif any(t.is_meta for t in (*module.parameters(recurse=False), *module.buffers(recurse=False))):
            module.to_empty(device=device, recurse=False)
            owners[name]._init_weights(module)


def module_census(model) -> dict[str, dict[str, int]]:
    """Per model part, how many Linear-like modules of each class it holds (shows what stayed unquantized)."""
    census: dict[str, Counter] = {part: Counter() for part in PARTS}
    for name, module in model.named_modules():
        if not hasattr(module, "in_features"):
            continue
        for part, prefix in PARTS.items():
            if name.startswith(prefix):
                census[part][type(module).__name__] += 1
    return {part: dict(counts) for part, counts in census.items()}


def _tensor_bytes(tensor) -> int:
    return tensor.numel() * tensor.element_size()


def _quant_state_bytes(state) -> int:
    """Bytes of a bitsandbytes 4-bit quant state (absmax, code; nested state when double-quantized)."""
    if state is None:
        return 0
    total = sum(_tensor_bytes(t) for t in (state.absmax, state.code) if t is not None)
    return total + _quant_state_bytes(getattr(state, "state2", None))


def _parameter_bytes(parameter) -> int:
    """Stored bytes of a parameter, quantization statistics included."""
    extra = _quant_state_bytes(getattr(parameter, "quant_state", None))
    scales = getattr(parameter, "SCB", None)
    return _tensor_bytes(parameter) + extra + (_tensor_bytes(scales) if scales is not None else 0)


def weight_bytes(model) -> dict[str, int]:
    """Stored weight bytes: the whole model, and what the language model reads per decoded token.

    Per token the language model reads every decoder weight and the output head, but one row only
    of the input embedding (which is therefore left out).
    """
    total = 0
    per_token = 0
    for name, parameter in model.named_parameters():
        size = _parameter_bytes(parameter)
        total += size
        in_llm = name.startswith(PARTS["language_model"]) or name.startswith(PARTS["lm_head"])
        if in_llm and "embed_tokens" not in name:
            per_token += size
    return {"weight_bytes": total, "llm_bytes_per_token": per_token}


def estimated_weight_bytes(model) -> int:
    """Weight bytes after quantization, estimated on the meta model (NF4 ~0.52 B, int8 ~1 B per weight)."""
    import bitsandbytes as bnb

    total = 0
    for module in model.modules():
        for parameter in module.parameters(recurse=False):
            if isinstance(module, bnb.nn.Linear4bit) and parameter is module.weight:
                total += math.ceil(parameter.numel() * 0.52)
            elif isinstance(module, bnb.nn.Linear8bitLt) and parameter is module.weight:
                total += parameter.numel() + 4 * module.out_features
            else:
                total += _tensor_bytes(parameter)
    return total


def prompt_ids(scale: Scale, image_token_id: int, image_tokens: int, text_tokens: int, device: str):
    """``(1, seq)`` token ids: a few text tokens, the image placeholders, then the rest of the text.

    Text ids are fixed pseudo-random ids that avoid the image placeholder id.
    """
    import torch

    generator = torch.Generator().manual_seed(text_tokens)
    text = torch.randint(10, scale.vocab - 10, (text_tokens,), generator=generator)
    text[text == image_token_id] = 11
    lead = min(20, text_tokens)
    image = torch.full((image_tokens,), image_token_id)
    return torch.cat([text[:lead], image, text[lead:]]).unsqueeze(0).to(device)


class Workload:
    """The model calls the benchmark times: encode an image, prefill a prompt, decode forced tokens."""

    def __init__(self, model, scale: Scale, device: str) -> None:
        import torch

        self.model = model
        self.device = device
        config = model.config
        self.image_tokens = config.image_seq_length
        generator = torch.Generator().manual_seed(0)
        size = config.vision_config.image_size
        self.pixels = torch.randn((1, 3, *size), generator=generator).to(device, torch.bfloat16)
        self.prompt = prompt_ids(scale, config.image_token_id, self.image_tokens, scale.prompt_text_tokens, device)
        long_text = scale.long_context_tokens - self.image_tokens
        self.long_prompt = prompt_ids(scale, config.image_token_id, self.image_tokens, long_text, device)
        self.forced = torch.randint(10, scale.vocab - 10, (1, 4096), generator=generator).to(device)

    def encode(self):
        """Vision tower + pixel shuffle + projector on the image; the engine caches this output per image."""
        import torch

        with torch.inference_mode():
            return self.model.get_image_features(pixel_values=self.pixels, return_dict=True)

    def prefill(self, features, ids):
        """Forward over the whole prompt with cached image features; returns (KV cache, last logits)."""
        import torch

        with torch.inference_mode():
            out = self.model(input_ids=ids, mm_encoder_outputs={"image": features}, use_cache=True, logits_to_keep=1)
        return out.past_key_values, out.logits

    def prompt_embeddings(self, features):
        """``(1, prompt, hidden)`` embeddings of ``self.prompt`` with the image features scattered in."""
        import torch

        with torch.inference_mode():
            embeddings = self.model.get_input_embeddings()(self.prompt)
            mask = (self.prompt == self.model.config.image_token_id).unsqueeze(-1)
            return embeddings.masked_scatter(mask, features.pooler_output.to(embeddings.dtype))

    def eager_step(self, cache) -> Callable[[Any], Any]:
        """A decode step through the model's forward and a growing KV cache: token ``(1, 1)`` -> greedy id."""

        def step(token):
            out = self.model(input_ids=token, past_key_values=cache, use_cache=True, logits_to_keep=1)
            return out.logits[0, -1].argmax()

        return step

    def decode(self, step: Callable[[Any], Any], steps: int, stop_at: float, ids: list[int] | None = None) -> int:
        """Feed ``steps`` forced tokens one at a time through ``step``; returns the steps done.

        Each step reads its greedy choice back to the host (appended to ``ids``), as streaming does.
        Stops early once ``time.time()`` passes ``stop_at``.
        """
        import torch

        done = 0
        with torch.inference_mode():
            for done in range(1, steps + 1):
                choice = int(step(self.forced[:, done - 1 : done]).item())
                if ids is not None:
                    ids.append(choice)
                if time.time() > stop_at:
                    break
        return done


def _memory_fields(device: str, suffix: str) -> dict[str, float | None]:
    import torch

    if device != "cuda":
        return {f"peak_allocated{suffix}_gib": None, f"peak_reserved{suffix}_gib": None}
    return {
        f"peak_allocated{suffix}_gib": torch.cuda.max_memory_allocated() / GIB,
        f"peak_reserved{suffix}_gib": torch.cuda.max_memory_reserved() / GIB,
    }


def _device_used_gib(device: str) -> float | None:
    """GPU memory in use on the card (CUDA context and allocator cache included), in GiB."""
    import torch

    if device != "cuda":
        return None
    free, total = torch.cuda.mem_get_info()
    return (total - free) / GIB


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB


def _device_identity(device: str) -> dict[str, Any]:
    import bitsandbytes
    import torch
    import transformers

    identity = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "bitsandbytes": bitsandbytes.__version__,
        "device_name": "cpu",
        "device_memory_gib": None,
    }
    if device == "cuda":
        properties = torch.cuda.get_device_properties(0)
        identity.update(
            device_name=properties.name, device_memory_gib=properties.total_memory / GIB, cuda=torch.version.cuda
        )
    return identity


def run_worker(settings: WorkerSettings, snapshots: Snapshots) -> dict[str, Any]:
    """Measure one mode; every stage's numbers land in ``snapshots`` as soon as they exist."""
    import torch

    # LLM.int8 casts bf16 activations to fp16 and logs a warning on every call: expected here, and
    # writing hundreds of lines per token would be timed with the decode.
    logging.getLogger("bitsandbytes.autograd._functions").addFilter(
        lambda entry: not entry.getMessage().startswith("MatMul8bitLt: inputs will be cast")
    )
    device = settings.device
    margin = 5.0  # seconds kept for writing the record before the deadline
    snapshots.update(**_device_identity(device))
    datasheet = datasheet_bandwidth_tbs(snapshots.record["device_name"]) if device == "cuda" else None
    copy_tbs = measure_copy_bandwidth_tbs(device, settings.scale.copy_probe_bytes)
    bandwidth = datasheet if datasheet is not None else copy_tbs
    snapshots.update(
        datasheet_bandwidth_tbs=datasheet,
        copy_bandwidth_tbs=copy_tbs,
        bandwidth_tbs=bandwidth,
        bandwidth_source="datasheet" if datasheet is not None else "measured copy",
    )
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()

    model, quantizer = build_meta_model(settings.scale, settings.mode)
    estimate = estimated_weight_bytes(model)
    snapshots.update(estimated_weight_bytes=estimate)
    if device == "cuda":
        free = torch.cuda.mem_get_info()[0]
        headroom = 3 * GIB  # CUDA context, cuBLAS/bitsandbytes scratch, 2k KV cache and activations
        if estimate + headroom > free:
            snapshots.update(
                skipped=f"needs about {(estimate + headroom) / GIB:.1f} GiB, card has {free / GIB:.1f} GiB free"
            )
            return snapshots.record

    load_s, _ = _timed(device, lambda: materialise(model, device))
    if quantizer is not None:
        quantizer.postprocess_model(model)
    sizes = weight_bytes(model)
    bound_tok_s = bandwidth * 1e12 / sizes["llm_bytes_per_token"]
    snapshots.update(
        load_s=load_s,
        census=module_census(model),
        allocated_after_load_gib=torch.cuda.memory_allocated() / GIB if device == "cuda" else None,
        bound_tok_s=bound_tok_s,
        **sizes,
    )

    work = Workload(model, settings.scale, device)
    encode_s = _median_time(device, work.encode, settings.scale.timing_repeats)
    features = work.encode()
    prefill_s = _median_time(device, lambda: work.prefill(features, work.prompt), settings.scale.timing_repeats)
    cache, logits = work.prefill(features, work.prompt)
    snapshots.update(
        image_encode_s=encode_s,
        prefill_tokens=work.prompt.shape[1],
        prefill_s=prefill_s,
        encode_plus_prefill_s=encode_s + prefill_s,
        logits_finite=bool(torch.isfinite(logits).all()),
    )

    del cache, logits
    measure_decodes(work, settings, snapshots, features, stop_at=settings.deadline - margin)
    if "graph" in settings.decode_impls and time.time() < settings.deadline - margin:
        snapshots.update(graph_matches_static=graph_matches_static(work, features, GRAPH_CHECK_STEPS))
    snapshots.update(peak_rss_gib=_peak_rss_gib(), **_memory_fields(device, ""))

    if time.time() < settings.deadline - margin:
        if device == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        long_cache, _ = work.prefill(work.encode(), work.long_prompt)
        work.decode(work.eager_step(long_cache), 8, stop_at=settings.deadline - margin)
        snapshots.update(
            long_context_tokens=work.long_prompt.shape[1] + 8,
            device_used_long_gib=_device_used_gib(device),
            peak_rss_gib=_peak_rss_gib(),
            **_memory_fields(device, "_long"),
        )
    decoded_all = all(snapshots.record.get(f"decode_{impl}_tokens") == settings.decode_tokens
                      for impl in settings.decode_impls)  # fmt: skip
    snapshots.update(complete=decoded_all and "long_context_tokens" in snapshots.record)
    return snapshots.record


def _decode_step(work: Workload, impl: str, features, max_length: int) -> Callable[[Any], Any]:
    """A fresh prefill of ``work.prompt`` and the decode step of ``impl`` that continues it."""
    from medrega_core.engine.static_decode import StaticGreedyDecoder

    if impl == "eager":
        cache, _ = work.prefill(features, work.prompt)
        return work.eager_step(cache)
    import torch

    decoder = StaticGreedyDecoder(work.model, max_length, use_graph=impl == "graph")
    with torch.inference_mode():
        decoder.prefill(work.prompt_embeddings(features))
    return decoder.step


def measure_decodes(work: Workload, settings: WorkerSettings, snapshots: Snapshots, features, stop_at: float) -> None:
    """Time ``settings.decode_tokens`` forced steps per decode implementation, in one process.

    Each implementation gets its own prefill, 4 warm-up steps (a CUDA graph is captured during
    them), then the timed steps. Fields per implementation: ``decode_<impl>_tokens``, ``_s``,
    ``_tok_s``, ``greedy_ids_<impl>`` (the greedy choice after every timed step); then
    ``speedup_<impl>`` and ``greedy_match_<impl>`` (fraction of equal choices) against the first
    implementation. ``decode_tok_s`` and ``bound_fraction`` are the fastest implementation's
    (``decode_impl``), the one the engine would pick.
    """
    warmup_steps = 4
    max_length = work.prompt.shape[1] + warmup_steps + settings.decode_tokens
    speeds: dict[str, float] = {}
    for impl in settings.decode_impls:
        if speeds and time.time() > stop_at:  # the baseline always decodes at least one step
            break
        step = _decode_step(work, impl, features, max_length)
        work.decode(step, warmup_steps, stop_at=stop_at)
        ids: list[int] = []
        decode_s, decoded = _timed(settings.device, lambda: work.decode(step, settings.decode_tokens, stop_at, ids))
        del step
        speeds[impl] = decoded / decode_s
        baseline = settings.decode_impls[0]
        reference = snapshots.record.get(f"greedy_ids_{baseline}", ids)
        compared = min(len(ids), len(reference))
        snapshots.update(**{
            f"decode_{impl}_tokens": decoded, f"decode_{impl}_s": decode_s, f"decode_{impl}_tok_s": speeds[impl],
            f"greedy_ids_{impl}": ids, f"speedup_{impl}": speeds[impl] / speeds[baseline],
            f"greedy_match_{impl}": sum(a == b for a, b in zip(ids, reference)) / max(compared, 1),
        })  # fmt: skip
        fastest = max(speeds, key=speeds.__getitem__)
        snapshots.update(
            decode_impl=fastest,
            decode_tokens=snapshots.record[f"decode_{fastest}_tokens"],
            decode_context_tokens=work.prompt.shape[1] + warmup_steps,
            decode_s=snapshots.record[f"decode_{fastest}_s"],
            decode_tok_s=speeds[fastest],
            bound_fraction=speeds[fastest] / snapshots.record["bound_tok_s"],
        )


def graph_matches_static(work: Workload, features, steps: int) -> bool:
    """Whether ``steps`` graph-replayed steps choose exactly the tokens the same static steps choose eagerly."""
    choices = {}
    for impl in ("static", "graph"):
        ids: list[int] = []
        work.decode(_decode_step(work, impl, features, work.prompt.shape[1] + steps), steps, math.inf, ids)
        choices[impl] = ids
    return choices["static"] == choices["graph"]


# --------------------------------------------------------------------------------------------------
# Driver: one subprocess per mode, JSON lines, the table and the goals.
# --------------------------------------------------------------------------------------------------


def _new_record(mode: str, scale: Scale, device: str) -> dict[str, Any]:
    return {"mode": mode, "scale": scale.name, "device": device, "complete": False, "error": None, "skipped": None}


def run_mode_subprocess(args: argparse.Namespace, mode: str, deadline: float) -> dict[str, Any]:
    """Run one mode in a fresh Python process; returns its last snapshot, marked with any failure."""
    scale = SCALES[args.scale]
    record = _new_record(mode, scale, args.device)
    decode_tokens = args.int8_decode_tokens if mode == "int8" else args.decode_tokens
    with tempfile.TemporaryDirectory() as folder:
        snapshot = Path(folder) / "record.json"
        command = [
            sys.executable, str(Path(__file__).resolve()), "--worker", mode, "--snapshot", str(snapshot),
            "--scale", args.scale, "--device", args.device, "--decode-tokens", str(decode_tokens),
            "--deadline", repr(deadline), "--decode-impls", ",".join(_mode_decode_impls(args.decode_impls, mode)),
        ]  # fmt: skip
        grace = 20.0  # the worker stops its own stages at the deadline; this is the hard stop
        try:
            result = subprocess.run(command, cwd=REPO_ROOT, timeout=max(deadline - time.time() + grace, 1.0),
                                    capture_output=True, text=True)  # fmt: skip
            failure = None if result.returncode == 0 else f"exit {result.returncode}: {result.stderr.strip()[-1500:]}"
        except subprocess.TimeoutExpired:
            failure = "timed out"
        if snapshot.exists():
            record.update(json.loads(snapshot.read_text(encoding="utf-8")))
    if failure is not None:
        record.update(error=failure, complete=False)
    record["goals"] = judge_goals(record)
    return record


def _mode_decode_impls(impls: tuple[str, ...], mode: str) -> tuple[str, ...]:
    """The implementations ``mode`` can run: LLM.int8 syncs with the host on every call (not capturable)."""
    return ("eager",) if mode == "int8" else impls


def _format(value: Any, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _decode_lines(record: dict[str, Any]) -> list[str]:
    """One line per measured decode implementation: speed, ratio and greedy agreement with the baseline."""
    lines = []
    for impl in DECODE_IMPLS:
        if f"decode_{impl}_tok_s" in record:
            lines.append(
                f"decode [{record['mode']}] {impl}: {record[f'decode_{impl}_tok_s']:.2f} tok/s, "
                f"x{record[f'speedup_{impl}']:.2f}, greedy ids equal to the baseline's: "
                f"{record[f'greedy_match_{impl}']:.3f}"
            )
    if "graph_matches_static" in record:
        lines.append(f"decode [{record['mode']}] graph chooses the static path's tokens: {record['graph_matches_static']}")
    return lines


def format_table(records: list[dict[str, Any]]) -> str:
    """A plain-text table of the records, then one line per goal."""
    columns = (
        ("mode", None, 8), ("weights GiB", "weight_bytes", 11), ("peak GiB", "peak_reserved_gib", 9),
        ("long used GiB", "device_used_long_gib", 13), ("encode s", "image_encode_s", 9),
        ("prefill s", "prefill_s", 9), ("decode tok/s", "decode_tok_s", 12), ("bound tok/s", "bound_tok_s", 11),
        ("fraction", "bound_fraction", 8),
    )  # fmt: skip
    lines = ["  ".join(title.rjust(width) for title, _, width in columns)]
    for record in records:
        cells = []
        for title, field, width in columns:
            if field is None:
                cells.append(record["mode"].rjust(width))
            elif field == "weight_bytes":
                value = record.get(field)
                cells.append(_format(None if value is None else value / GIB, 2).rjust(width))
            else:
                cells.append(_format(record.get(field), 3).rjust(width))
        status = record.get("skipped") or record.get("error") or ("" if record.get("complete") else "incomplete")
        lines.append("  ".join(cells) + (f"  [{status[:80]}]" if status else ""))
    for record in records:
        lines.extend(_decode_lines(record))
    for record in records:
        for goal in record.get("goals", ()):
            verdict = {True: "MET", False: "MISSED", None: "not judged"}[goal["met"]]
            lines.append(f"goal [{record['mode']}] {goal['goal']}: {_format(goal['value'], 3)} -> {verdict}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--device", choices=("cuda", "cpu"), default=None, help="default: cuda for full, cpu for tiny")
    parser.add_argument("--modes", default=",".join(DEFAULT_MODES), help="comma-separated, in run order")
    parser.add_argument("--out", type=Path, help="JSON lines file the records are appended to")
    parser.add_argument("--decode-tokens", type=int, default=256)
    parser.add_argument("--int8-decode-tokens", type=int, default=64, help="LLM.int8 decodes slowly")
    parser.add_argument("--decode-impls", default=None,
                        help=f"comma-separated, some of {', '.join(DECODE_IMPLS)}; the first is the baseline of "
                             "the ratios (default: eager,graph on CUDA, eager,static on the CPU; int8: eager)")  # fmt: skip
    parser.add_argument("--time-budget-s", type=float, default=3600.0, help="all modes together")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--snapshot", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.device = args.device or ("cuda" if args.scale == "full" else "cpu")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = sorted(set(modes) - set(DEFAULT_MODES))
    if unknown or not modes:
        parser.error(f"--modes takes some of {', '.join(DEFAULT_MODES)}; got {args.modes!r}")
    args.modes = modes
    impls = args.decode_impls.split(",") if args.decode_impls else DEFAULT_DECODE_IMPLS[args.device]
    impls = [impl.strip() for impl in impls if impl.strip()]
    if not impls or set(impls) - set(DECODE_IMPLS) or ("graph" in impls and args.device != "cuda"):
        parser.error(f"--decode-impls takes some of {', '.join(DECODE_IMPLS)} (graph on CUDA only); "
                     f"got {args.decode_impls!r}")  # fmt: skip
    args.decode_impls = tuple(impls)
    if not args.worker and args.out is None:
        parser.error("--out is required")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scale = SCALES[args.scale]
    if args.worker:
        settings = WorkerSettings(
            args.worker, scale, args.device, args.decode_tokens, args.deadline, args.decode_impls
        )
        run_worker(settings, Snapshots(args.snapshot, _new_record(args.worker, scale, args.device)))
        return 0

    start = time.time()
    min_mode_s = 60.0 if args.scale == "full" else 5.0  # too little left to load the model: skip the mode
    args.out.parent.mkdir(parents=True, exist_ok=True)
    records = []
    for mode in args.modes:
        deadline = start + args.time_budget_s
        if deadline - time.time() < min_mode_s:
            record = _new_record(mode, scale, args.device)
            record.update(skipped="time budget spent", goals=[])
        else:
            record = run_mode_subprocess(args, mode, deadline)
        records.append(record)
        with args.out.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps(record) + "\n")
        outcome = record["skipped"] or record["error"] or ("complete" if record["complete"] else "incomplete")
        print(f"[{time.time() - start:6.1f} s] {mode}: {outcome}", flush=True)
    print(format_table(records), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
