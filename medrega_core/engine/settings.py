"""Engine and generation settings (pure Python: the command line parses these without torch)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from medrega_core.engine.errors import N_, EngineError

#: Weight formats; "auto" = ``nf4`` on CUDA, unquantized on CPU. Mirrors ``modeling.QUANT_MODES``.
QUANT_CHOICES = ("auto", "nf4", "nf4-all", "int8", "bf16", "none")
DTYPE_CHOICES = ("float32", "bfloat16", "float16")
#: Quantized modes and ``bf16`` compute in bfloat16 unless a dtype is given.
BF16_MODES = ("nf4", "nf4-all", "int8", "bf16")
#: Greedy decoding paths: ``generate`` with a growing cache, a static cache, or a static cache with each
#: step replayed as a CUDA graph (about 4-6x faster on an H200, but in bfloat16 its greedy tokens drift
#: from ``generate``'s at near ties; docs/PERFORMANCE.md). Sampling always uses ``generate``.
DECODE_CHOICES = ("auto", "eager", "static", "cuda-graph")
#: LLM.int8 asks on the host whether activations have outliers (`outliers.any()`) on every call: not capturable.
GRAPH_INCAPABLE_QUANTS = ("int8",)


class SettingsError(EngineError):
    """An engine or generation setting is out of range."""


@dataclass(frozen=True)
class GenerationOptions:
    """Decoding settings for one answer.

    Attributes
    ----------
    max_new_tokens:
        Upper bound on generated tokens (the stop token included).
    temperature:
        0 = greedy (MedRegA's setting); above 0 samples with this temperature.
    top_p:
        Nucleus-sampling mass, used only when sampling.
    """

    max_new_tokens: int = 400
    temperature: float = 0.0
    top_p: float = 1.0

    def __post_init__(self) -> None:
        if not 1 <= self.max_new_tokens <= 4096:
            raise SettingsError(
                N_("The number of new tokens must be between 1 and 4096; got {value}."), value=self.max_new_tokens
            )
        if not 0.0 <= self.temperature <= 5.0:
            raise SettingsError(N_("The temperature must be between 0 and 5; got {value}."), value=self.temperature)
        if not 0.0 < self.top_p <= 1.0:
            raise SettingsError(N_("Top-p must be above 0 and at most 1; got {value}."), value=self.top_p)

    def with_overrides(
        self, max_new_tokens: int | None = None, temperature: float | None = None, top_p: float | None = None
    ) -> "GenerationOptions":
        """A copy with the given values replaced (None keeps the current one)."""
        changes = {"max_new_tokens": max_new_tokens, "temperature": temperature, "top_p": top_p}
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


@dataclass(frozen=True)
class EngineSettings:
    """How to load the model.

    Attributes
    ----------
    checkpoint:
        A local folder in the original MedRegA layout, or a Hugging Face id (``Luxuriant16/medrega``).
    device:
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    quant:
        One of :data:`QUANT_CHOICES`.
    dtype:
        Compute dtype name, or None: bfloat16 on CUDA and for quantized modes, float32 on CPU.
    max_new_tokens, temperature, top_p:
        Default :class:`GenerationOptions` for each answer.
    feature_cache_size:
        Images whose vision features are kept (least recently used are dropped).
    decode:
        One of :data:`DECODE_CHOICES` for greedy answers. ``auto`` is ``cuda-graph`` on CUDA when the
        weight format can be captured (about 4-6x faster decoding, docs/PERFORMANCE.md) and ``eager``
        otherwise. In bfloat16 the static cache can flip near-tied tokens relative to ``eager``; in
        float32 both give the reference's tokens.
    context_tokens:
        The most tokens a conversation (prompt plus new tokens) may hold, or None for the checkpoint's
        ``max_position_embeddings``; a smaller value caps the context (memory, tests).
    """

    checkpoint: str
    device: str = "auto"
    quant: str = "auto"
    dtype: str | None = None
    max_new_tokens: int = 400
    temperature: float = 0.0
    top_p: float = 1.0
    feature_cache_size: int = 16
    decode: str = "auto"
    context_tokens: int | None = None

    def __post_init__(self) -> None:
        if not str(self.checkpoint).strip():
            raise SettingsError(N_("No checkpoint was given: pass a folder or a Hugging Face id."))
        if self.quant not in QUANT_CHOICES:
            raise SettingsError(
                N_("Unknown quantization {value}; choose one of {choices}."),
                value=self.quant,
                choices=", ".join(QUANT_CHOICES),
            )
        if self.dtype is not None and self.dtype not in DTYPE_CHOICES:
            raise SettingsError(
                N_("Unknown dtype {value}; choose one of {choices}."), value=self.dtype, choices=", ".join(DTYPE_CHOICES)
            )
        if self.quant == "bf16" and self.dtype not in (None, "bfloat16"):
            raise SettingsError(N_("Quantization bf16 runs in bfloat16; it cannot use dtype {value}."), value=self.dtype)
        device = self.device
        if not (device in ("auto", "cpu", "cuda") or (device.startswith("cuda:") and device[5:].isdigit())):
            raise SettingsError(N_("Unknown device {value}; use auto, cpu, cuda or cuda:N."), value=device)
        if self.feature_cache_size < 0:
            raise SettingsError(
                N_("The feature cache size must be 0 or more; got {value}."), value=self.feature_cache_size
            )
        if self.decode not in DECODE_CHOICES:
            raise SettingsError(
                N_("Unknown decoding path {value}; choose one of {choices}."),
                value=self.decode,
                choices=", ".join(DECODE_CHOICES),
            )
        if self.context_tokens is not None and self.context_tokens < 1:
            raise SettingsError(N_("The context length must be at least 1 token; got {value}."), value=self.context_tokens)
        self.generation()

    def generation(self) -> GenerationOptions:
        """The default decoding settings."""
        return GenerationOptions(self.max_new_tokens, self.temperature, self.top_p)

    def resolved_quant(self, on_cuda: bool) -> str:
        """The quantization actually used: ``auto`` -> ``nf4`` on CUDA, ``none`` on CPU."""
        if self.quant != "auto":
            return self.quant
        return "nf4" if on_cuda else "none"

    def resolved_dtype(self, on_cuda: bool) -> str:
        """The compute dtype name actually used."""
        if self.dtype is not None:
            return self.dtype
        return "bfloat16" if on_cuda or self.resolved_quant(on_cuda) in BF16_MODES else "float32"

    def resolved_decode(self, on_cuda: bool, quant: str) -> str:
        """The greedy decoding path actually used: ``auto`` -> ``cuda-graph`` where it can run, else ``eager``."""
        if self.decode != "auto":
            return self.decode
        return "cuda-graph" if on_cuda and quant not in GRAPH_INCAPABLE_QUANTS else "eager"

    def check_decode(self, on_cuda: bool, quant: str) -> None:
        """Refuse a greedy decoding path the device or the (resolved) weight format cannot run.

        Raises
        ------
        SettingsError
            ``cuda-graph`` without CUDA, or with a weight format that cannot be captured.
        """
        if self.decode == "cuda-graph" and not on_cuda:
            raise SettingsError(N_("CUDA-graph decoding needs a CUDA GPU; use decode static or eager."))
        if self.decode == "cuda-graph" and quant in GRAPH_INCAPABLE_QUANTS:
            raise SettingsError(N_("CUDA-graph decoding does not work with quantization {quant}."), quant=quant)
