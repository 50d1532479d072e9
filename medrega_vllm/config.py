"""A config class for ``model_type: internvl_chat`` (the InternVL-Chat-V1.x layout), so vLLM reads
MedRegA's ``config.json`` without running the checkpoint's own Python (no ``--trust-remote-code``)."""

from __future__ import annotations

from typing import Any

from transformers import LlamaConfig, PretrainedConfig


class InternVisionConfig(PretrainedConfig):
    """InternViT's settings as vLLM's ``intern_vit`` reads them. ``norm_type`` defaults to RMSNorm,
    which InternViT-6B's code hard-codes (V1.x configs do not name it)."""

    model_type = "intern_vit_6b"

    def __init__(self, hidden_size: int = 3200, intermediate_size: int = 12800, num_hidden_layers: int = 48,
                 num_attention_heads: int = 25, num_channels: int = 3, image_size: int = 448, patch_size: int = 14,
                 hidden_act: str = "gelu", layer_norm_eps: float = 1e-6, attention_dropout: float = 0.0,
                 drop_path_rate: float = 0.0, qkv_bias: bool = False, qk_normalization: bool = True,
                 norm_type: str = "rms_norm", initializer_range: float = 0.02, initializer_factor: float = 0.1,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_channels = num_channels
        self.image_size = image_size
        self.patch_size = patch_size
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.attention_dropout = attention_dropout
        self.drop_path_rate = drop_path_rate
        self.qkv_bias = qkv_bias
        self.qk_normalization = qk_normalization
        self.norm_type = norm_type
        self.initializer_range = initializer_range
        self.initializer_factor = initializer_factor


class InternVLChatConfig(PretrainedConfig):
    """The top-level ``internvl_chat`` config: vision tower, Llama language model (``llm_config``, also
    exposed as ``text_config``) and the InternVL image settings."""

    model_type = "internvl_chat"

    def __init__(self, vision_config: dict | None = None, llm_config: dict | None = None,
                 downsample_ratio: float = 0.5, dynamic_image_size: bool = False, force_image_size: int | None = None,
                 max_dynamic_patch: int = 6, min_dynamic_patch: int = 1, pad2square: bool = False,
                 ps_version: str = "v1", select_layer: int = -1, template: str = "Hermes-2",
                 use_thumbnail: bool = False, tie_word_embeddings: bool = False, **kwargs: Any) -> None:
        kwargs.pop("text_config", None)  # written by save_pretrained: the same as llm_config
        super().__init__(**kwargs)
        vision = vision_config if isinstance(vision_config, PretrainedConfig) else InternVisionConfig(
            **(vision_config or {}))
        llm = llm_config if isinstance(llm_config, PretrainedConfig) else LlamaConfig(**(llm_config or {}))
        self.vision_config = vision
        self.llm_config = llm
        self.text_config = llm
        self.downsample_ratio = downsample_ratio
        self.dynamic_image_size = dynamic_image_size
        self.force_image_size = force_image_size
        self.max_dynamic_patch = max_dynamic_patch
        self.min_dynamic_patch = min_dynamic_patch
        self.pad2square = pad2square
        self.ps_version = ps_version
        self.select_layer = select_layer
        self.template = template
        self.use_thumbnail = use_thumbnail
        self.tie_word_embeddings = tie_word_embeddings
