"""MedRegA (InternVL-Chat-V1.2 layout) on the native transformers InternVL classes.

The released checkpoint stores the original ``InternVLChatModel`` layout: ``vision_model.*`` with a
fused ``attn.qkv``, ``mlp1.*`` and ``language_model.*``. Instead of converting the 80 GB of weights,
a conversion mapping registered under :class:`MedRegAForConditionalGeneration` renames keys and splits
the fused projection while ``from_pretrained`` reads the safetensors. The only numerical difference from
the native model is the pixel shuffle: MedRegA was trained with ``ps_version`` 'v1', which leaves the
16 x 16 token grid transposed.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import BitsAndBytesConfig, InternVLConfig, InternVLVisionConfig, LlamaConfig
from transformers.conversion_mapping import register_checkpoint_conversion_mapping
from transformers.core_model_loading import Chunk, WeightConverter, WeightRenaming
from transformers.models.internvl.modeling_internvl import (
    InternVLForConditionalGeneration,
    InternVLModel,
    InternVLPreTrainedModel,
)

from medrega_core.engine.checkpoint import num_image_tokens
from medrega_core.engine.errors import N_, UnsupportedCheckpointError

#: ``model_type`` and architecture of the original checkpoint's ``config.json``.
ORIGINAL_MODEL_TYPE = "internvl_chat"
ORIGINAL_ARCHITECTURE = "InternVLChatModel"
SUPPORTED_TEMPLATE = "Hermes-2"
SUPPORTED_PS_VERSIONS = ("v1", "v2")

#: Module prefixes (native names) kept out of quantization in the ``nf4`` and ``int8`` modes.
#: Full prefixes: transformers 5.x matches skip entries from the start or the end of a module name.
VISION_AND_HEAD_MODULES = ("model.vision_tower", "model.multi_modal_projector", "lm_head")
#: ``nf4-all`` still keeps the output head unquantized, as bitsandbytes does by default.
HEAD_ONLY_MODULES = ("lm_head",)

#: User-selectable weight formats. ``bf16`` and ``none`` load unquantized (``none`` keeps the chosen dtype).
QUANT_MODES = ("nf4", "nf4-all", "int8", "bf16", "none")


class InternVLV1Model(InternVLModel):
    """Native InternVL body whose pixel shuffle follows ``ps_version`` (MedRegA: 'v1').

    'v1' skips the final height/width swap of the native (v2) shuffle, so the grid of visual tokens
    reaches the language model column-major, as during MedRegA's training.
    """

    def pixel_shuffle(self, vision_features: torch.Tensor, scale_factor: float = 0.5) -> torch.Tensor:
        """Fold ``scale_factor``-sized neighbourhoods into channels.

        Parameters
        ----------
        vision_features:
            ``(batch, width, height, channels)`` patch features.
        scale_factor:
            Spatial reduction per axis (0.5 halves both axes and multiplies channels by 4).

        Returns
        -------
        torch.Tensor
            ``(batch, height * s, width * s, channels / s**2)`` for 'v1'; the native layout for 'v2'.
        """
        if getattr(self.config, "ps_version", "v1") == "v2":
            return super().pixel_shuffle(vision_features, scale_factor)
        batch, width, height, channels = vision_features.size()
        if height * scale_factor != int(height * scale_factor) or width * scale_factor != int(width * scale_factor):
            raise ValueError("Height and width must be divisible by 1 / scale_factor.")
        folded = vision_features.view(batch, width, int(height * scale_factor), int(channels / scale_factor))
        folded = folded.permute(0, 2, 1, 3).contiguous()
        return folded.view(
            batch, int(height * scale_factor), int(width * scale_factor), int(channels / (scale_factor**2))
        )


class MedRegAForConditionalGeneration(InternVLForConditionalGeneration):
    """``InternVLForConditionalGeneration`` built on :class:`InternVLV1Model`.

    Its class name selects the conversion mapping that reads the original checkpoint layout.
    """

    def __init__(self, config: InternVLConfig) -> None:
        # The parent constructor hard-codes InternVLModel, so rebuild its three lines with the v1 body.
        InternVLPreTrainedModel.__init__(self, config)
        self.model = InternVLV1Model(config)
        self.lm_head = nn.Linear(config.text_config.hidden_size, config.text_config.vocab_size, bias=False)
        self.post_init()


def original_layout_mapping() -> list[WeightRenaming | WeightConverter]:
    """Key transforms from the original ``InternVLChatModel`` state dict to the native one.

    Renamings run in order on each key; the converter splits ``attn.qkv`` rows into q, k, v
    (the original reshapes the fused output as ``(3, heads, head_dim)``, so a row chunk is exact).
    """
    vit = "model.vision_tower"
    return [
        WeightRenaming(r"^language_model\.lm_head\.", "lm_head."),
        WeightRenaming(r"^language_model\.model\.", "model.language_model."),
        WeightRenaming(r"^mlp1\.0\.", "model.multi_modal_projector.layer_norm."),
        WeightRenaming(r"^mlp1\.1\.", "model.multi_modal_projector.linear_1."),
        WeightRenaming(r"^mlp1\.3\.", "model.multi_modal_projector.linear_2."),
        WeightRenaming(r"^vision_model\.embeddings\.class_embedding$", f"{vit}.embeddings.cls_token"),
        WeightRenaming(r"^vision_model\.embeddings\.position_embedding$", f"{vit}.embeddings.position_embeddings"),
        WeightRenaming(r"^vision_model\.embeddings\.patch_embedding\.", f"{vit}.embeddings.patch_embeddings.projection."),
        WeightRenaming(r"^vision_model\.encoder\.layers\.", f"{vit}.encoder.layer."),
        WeightRenaming(r"\.attn\.q_norm\.", ".attention.q_norm."),
        WeightRenaming(r"\.attn\.k_norm\.", ".attention.k_norm."),
        WeightRenaming(r"\.attn\.proj\.", ".attention.projection_layer."),
        WeightRenaming(r"\.norm1\.", ".layernorm_before."),
        WeightRenaming(r"\.norm2\.", ".layernorm_after."),
        WeightRenaming(r"\.ls1$", ".lambda_1"),
        WeightRenaming(r"\.ls2$", ".lambda_2"),
        WeightConverter(
            source_patterns="attn.qkv.weight",
            target_patterns=["attention.q_proj.weight", "attention.k_proj.weight", "attention.v_proj.weight"],
            operations=[Chunk(dim=0)],
        ),
        WeightConverter(
            source_patterns="attn.qkv.bias",
            target_patterns=["attention.q_proj.bias", "attention.k_proj.bias", "attention.v_proj.bias"],
            operations=[Chunk(dim=0)],
        ),
    ]


register_checkpoint_conversion_mapping(
    MedRegAForConditionalGeneration.__name__, original_layout_mapping(), overwrite=True
)


def _unsupported(setting: str, value: object, supported: object) -> UnsupportedCheckpointError:
    return UnsupportedCheckpointError(
        N_("The checkpoint setting {setting} = {value} is not supported (supported: {supported})."),
        setting=setting,
        value=value,
        supported=supported,
    )


def _require(original: dict[str, Any], key: str, supported: tuple[object, ...], default: object = None) -> object:
    value = original.get(key, default)
    if value not in supported:
        raise _unsupported(key, value, ", ".join(str(s) for s in supported))
    return value


def _check_architecture(original: dict[str, Any]) -> None:
    model_type = original.get("model_type")
    architectures = original.get("architectures") or [ORIGINAL_ARCHITECTURE]
    if model_type != ORIGINAL_MODEL_TYPE or ORIGINAL_ARCHITECTURE not in architectures:
        raise UnsupportedCheckpointError(
            N_(
                "The checkpoint's architecture ({architecture}, model_type {model_type}) is not MedRegA "
                "(expected {expected}, model_type {expected_type})."
            ),
            architecture=", ".join(str(a) for a in architectures),
            model_type=model_type,
            expected=ORIGINAL_ARCHITECTURE,
            expected_type=ORIGINAL_MODEL_TYPE,
        )
    llm = original.get("llm_config")
    vision = original.get("vision_config")
    if not isinstance(llm, dict) or not isinstance(vision, dict):
        raise UnsupportedCheckpointError(
            N_("The checkpoint's config.json lacks the nested vision_config and llm_config sections.")
        )
    llm_architectures = llm.get("architectures") or []
    if llm.get("model_type") != "llama" and "LlamaForCausalLM" not in llm_architectures:
        raise _unsupported("llm_config.architectures", ", ".join(llm_architectures) or llm.get("model_type"),
                           "LlamaForCausalLM")


def _check_inference_settings(original: dict[str, Any]) -> None:
    _require(original, "template", (SUPPORTED_TEMPLATE,))
    _require(original, "ps_version", SUPPORTED_PS_VERSIONS, default="v1")
    _require(original, "select_layer", (-1,), default=-1)
    _require(original, "dynamic_image_size", (False, None))
    _require(original, "use_thumbnail", (False, None))
    _require(original, "pad2square", (False, None))
    _require(original, "use_backbone_lora", (0, None, False))
    _require(original, "use_llm_lora", (0, None, False))
    vision = original["vision_config"]
    forced = original.get("force_image_size")
    if forced is not None and forced != vision.get("image_size"):
        raise _unsupported("force_image_size", forced, vision.get("image_size"))
    if original["llm_config"].get("rope_scaling"):
        raise _unsupported("llm_config.rope_scaling", original["llm_config"]["rope_scaling"], "null")


def _vision_config(vision: dict[str, Any]) -> InternVLVisionConfig:
    # InternViT-6B's original code hard-codes RMSNorm; later towers carry an explicit norm_type.
    norm_type = vision.get("norm_type", "rms_norm")
    if norm_type not in ("rms_norm", "layer_norm"):
        raise _unsupported("vision_config.norm_type", norm_type, "rms_norm, layer_norm")
    return InternVLVisionConfig(
        hidden_size=vision["hidden_size"],
        num_hidden_layers=vision["num_hidden_layers"],
        num_attention_heads=vision["num_attention_heads"],
        intermediate_size=vision["intermediate_size"],
        hidden_act=vision.get("hidden_act", "gelu"),
        attention_bias=bool(vision.get("qkv_bias", False)),
        use_qk_norm=bool(vision.get("qk_normalization", False)),
        norm_type=norm_type,
        layer_norm_eps=vision.get("layer_norm_eps", 1e-6),
        image_size=vision["image_size"],
        patch_size=vision["patch_size"],
        num_channels=vision.get("num_channels", 3),
        layer_scale_init_value=vision.get("initializer_factor", 0.1),
        use_mean_pooling=True,
        use_absolute_position_embeddings=True,
    )


def _text_config(llm: dict[str, Any]) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=llm["vocab_size"],
        hidden_size=llm["hidden_size"],
        intermediate_size=llm["intermediate_size"],
        num_hidden_layers=llm["num_hidden_layers"],
        num_attention_heads=llm["num_attention_heads"],
        num_key_value_heads=llm.get("num_key_value_heads") or llm["num_attention_heads"],
        hidden_act=llm.get("hidden_act", "silu"),
        max_position_embeddings=llm.get("max_position_embeddings", 4096),
        rms_norm_eps=llm.get("rms_norm_eps", 1e-6),
        rope_parameters={"rope_type": "default", "rope_theta": float(llm.get("rope_theta", 10000.0))},
        attention_bias=bool(llm.get("attention_bias", False)),
        bos_token_id=llm.get("bos_token_id", 1),
        eos_token_id=llm.get("eos_token_id", 2),
        pad_token_id=llm.get("pad_token_id"),
        tie_word_embeddings=bool(llm.get("tie_word_embeddings", False)),
    )


def native_config_from_original(original: dict[str, Any], image_token_id: int | None = None) -> InternVLConfig:
    """Translate an original ``internvl_chat`` ``config.json`` into a native :class:`InternVLConfig`.

    Parameters
    ----------
    original:
        The parsed ``config.json`` of the released checkpoint (nested ``vision_config``/``llm_config``).
    image_token_id:
        Id of ``<IMG_CONTEXT>`` in the checkpoint's tokenizer. ``None`` (random-weight models without a
        tokenizer only) takes the last id of the language model's vocabulary.

    Raises
    ------
    UnsupportedCheckpointError
        For another architecture, or settings MedRegA inference does not use (dynamic tiling, LoRA
        adapters, a template other than Hermes-2, ``ps_version`` other than v1/v2, ...).
    """
    _check_architecture(original)
    _check_inference_settings(original)
    llm = original["llm_config"]
    config = InternVLConfig(
        vision_config=_vision_config(original["vision_config"]).to_dict(),
        text_config=_text_config(llm).to_dict(),
        image_token_id=llm["vocab_size"] - 1 if image_token_id is None else image_token_id,
        image_seq_length=num_image_tokens(original),
        downsample_ratio=original.get("downsample_ratio", 0.5),
        projector_hidden_act="gelu",
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
        # InternVLConfig defaults to True, which would silently tie Yi's separate lm_head to the embeddings.
        tie_word_embeddings=False,
    )
    config.ps_version = original.get("ps_version", "v1")
    return config


def quantization_config(mode: str, compute_dtype: torch.dtype = torch.bfloat16) -> BitsAndBytesConfig | None:
    """bitsandbytes settings for a weight format in :data:`QUANT_MODES`.

    ``nf4``: language model NF4 with double quantization; vision tower, projector and lm_head stay in
    ``compute_dtype``. ``nf4-all``: everything but lm_head NF4 (24 GB cards; lower image understanding).
    ``int8``: language model LLM.int8. ``bf16`` / ``none``: no quantization (returns None).

    Raises
    ------
    UnsupportedCheckpointError
        For a mode outside :data:`QUANT_MODES`.
    """
    if mode == "nf4" or mode == "nf4-all":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute_dtype,
            llm_int8_skip_modules=list(VISION_AND_HEAD_MODULES if mode == "nf4" else HEAD_ONLY_MODULES),
        )
    if mode == "int8":
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=list(VISION_AND_HEAD_MODULES))
    if mode in ("bf16", "none"):
        return None
    raise _unsupported("quantization", mode, ", ".join(QUANT_MODES))
