"""The ``vllm.general_plugins`` entry point: vLLM calls :func:`register` in each of its processes."""

from __future__ import annotations

from medrega_vllm import TOKENIZER_MODE


def register() -> None:
    """Register the ``internvl_chat`` config class and the ``medrega`` tokenizer mode (with vLLM's
    default renderer, which applies the chat template through the tokenizer)."""
    from medrega_vllm.torchvision_ops import declare_missing_torchvision_ops

    declare_missing_torchvision_ops()  # before anything in vLLM imports torchvision

    from vllm.renderers.registry import RENDERER_REGISTRY
    from vllm.tokenizers.registry import TokenizerRegistry
    from vllm.transformers_utils.config import _CONFIG_REGISTRY

    from medrega_vllm.config import InternVLChatConfig

    _CONFIG_REGISTRY[InternVLChatConfig.model_type] = InternVLChatConfig
    if TOKENIZER_MODE not in TokenizerRegistry.tokenizers:
        TokenizerRegistry.register(TOKENIZER_MODE, "medrega_vllm.vllm_tokenizer", "MedRegAVllmTokenizer")
    if TOKENIZER_MODE not in RENDERER_REGISTRY.renderers:
        RENDERER_REGISTRY.register(TOKENIZER_MODE, "vllm.renderers.hf", "HfRenderer")
