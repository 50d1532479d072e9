"""A tiny random MedRegA checkpoint in the ORIGINAL on-disk layout, built in seconds.

Same format as the released model: ``config.json`` with ``model_type: internvl_chat`` and nested
``vision_config``/``llm_config``; safetensors with the original key names (fused ``attn.qkv``,
``mlp1.*``, ``language_model.*``); a real sentencepiece ``tokenizer.model`` (trained here on a small
bilingual text, with ``<|im_start|>``, ``<|im_end|>``, ``<|im_sep|>`` as pieces 3-5) plus the added
tokens in ``tokenizer_config.json`` / ``added_tokens.json``. Dimensions are tiny (112 px images,
16 image tokens) so that CPU tests and the app start fast.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import sentencepiece
import torch
from safetensors.torch import save_file

#: Added tokens in the order of the released tokenizer; ids follow the sentencepiece vocabulary.
ADDED_TOKENS = ("<img>", "</img>", "<IMG_CONTEXT>", "<quad>", "</quad>", "<ref>", "</ref>", "<box>", "</box>")
CHAT_PIECES = ("<|im_start|>", "<|im_end|>", "<|im_sep|>")
IMAGE_SIZE = 112
PATCH_SIZE = 14
VISION_HIDDEN = 32
VISION_LAYERS = 2
VISION_HEADS = 2
TEXT_HIDDEN = 64
TEXT_LAYERS = 2
TEXT_HEADS = 4
TEXT_KV_HEADS = 2
SEED = 1234

_CORPUS = """\
Answer the questions.
You are a helpful medical assistant. You are required to answer the question based on the medical image.
What does this image show? Answer the question using a single word or phrase.
What is the modality of this image? Is there any abnormality in the chest?
Please locate the left lung and the right lung in the image and output the bounding boxes.
The heart is enlarged. No pleural effusion is seen. The lungs are clear.
Findings: the cardiomediastinal silhouette is within normal limits. Impression: no acute disease.
Identify the region in the box and describe it. The liver, the kidney and the spleen are visible.
A computed tomography scan of the abdomen, a magnetic resonance image of the brain, an X-ray of the knee.
Coordinates are integers from 0 to 999: 12, 345, 678, 901.
你是一个医疗助手，你需要根据医学图像回答问题。
这张图片的成像方式是什么?请用词或短语回答问题。
图像里包含的区域属于身体哪个部分?
双肺纹理清晰，心影大小正常，未见明显异常。
肝脏形态大小正常，胆囊未见结石，胰腺与脾脏未见异常。
请定位图像中的病灶并给出边界框，然后描述所见。
胸腔、腹部、头颅、脊柱、四肢、心脏、肺部、肝脏、肾脏。
影像诊断：右肺下叶结节，建议随访复查。
"""


def _train_tokenizer(folder: Path, extra_corpus: str = "") -> int:
    """Train ``tokenizer.model`` on the corpus (plus ``extra_corpus``); returns the sentencepiece vocabulary size."""
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter((_CORPUS + extra_corpus).splitlines() * 4),
        model_writer=model,
        model_type="bpe",
        vocab_size=600,
        hard_vocab_limit=False,
        character_coverage=1.0,
        byte_fallback=True,
        split_digits=True,
        user_defined_symbols=list(CHAT_PIECES),
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        num_threads=1,
        minloglevel=2,
    )
    (folder / "tokenizer.model").write_bytes(model.getvalue())
    return sentencepiece.SentencePieceProcessor(model_proto=model.getvalue()).get_piece_size()


def _write_tokenizer_files(folder: Path, sp_size: int) -> None:
    special = {"<unk>": 0, "<s>": 1, "</s>": 2}
    added = {token: sp_size + index for index, token in enumerate(ADDED_TOKENS)}
    entry = {"lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True}
    decoder = {str(i): {"content": t, **entry} for t, i in {**special, **added}.items()}
    tokenizer_config = {
        "add_bos_token": True,
        "add_eos_token": False,
        "added_tokens_decoder": decoder,
        "additional_special_tokens": list(ADDED_TOKENS),
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": None,
        "legacy": True,
        "tokenizer_class": "LlamaTokenizer",
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2), encoding="utf-8")
    (folder / "added_tokens.json").write_text(json.dumps(added, indent=2), encoding="utf-8")
    special_map = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                   "additional_special_tokens": list(ADDED_TOKENS)}
    (folder / "special_tokens_map.json").write_text(json.dumps(special_map, indent=2), encoding="utf-8")


def original_config(vocab_size: int, text_heads: int = TEXT_HEADS) -> dict:
    """The ``config.json`` of the tiny checkpoint, in the original InternVL-Chat layout (``text_heads``:
    attention heads of the language model, of ``TEXT_HIDDEN // text_heads`` dimensions each)."""
    return {
        "architectures": ["InternVLChatModel"],
        "model_type": "internvl_chat",
        "template": "Hermes-2",
        "ps_version": "v1",
        "select_layer": -1,
        "downsample_ratio": 0.5,
        "force_image_size": IMAGE_SIZE,
        "dynamic_image_size": False,
        "use_thumbnail": False,
        "pad2square": False,
        "use_backbone_lora": 0,
        "use_llm_lora": 0,
        "torch_dtype": "float32",
        # Like the InternViT-6B V1.x configs: no norm_type (the original code hard-codes RMSNorm).
        "vision_config": {
            "model_type": "intern_vit_6b",
            "image_size": IMAGE_SIZE,
            "patch_size": PATCH_SIZE,
            "num_channels": 3,
            "hidden_size": VISION_HIDDEN,
            "intermediate_size": VISION_HIDDEN * 2,
            "num_hidden_layers": VISION_LAYERS,
            "num_attention_heads": VISION_HEADS,
            "hidden_act": "gelu",
            "layer_norm_eps": 1e-6,
            "qk_normalization": True,
            "qkv_bias": False,
            "initializer_factor": 0.1,
            "use_flash_attn": False,
        },
        "llm_config": {
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "vocab_size": vocab_size,
            "hidden_size": TEXT_HIDDEN,
            "intermediate_size": TEXT_HIDDEN * 2,
            "num_hidden_layers": TEXT_LAYERS,
            "num_attention_heads": text_heads,
            "num_key_value_heads": min(TEXT_KV_HEADS, text_heads),
            "hidden_act": "silu",
            "max_position_embeddings": 2048,
            "rms_norm_eps": 1e-5,
            "rope_theta": 5000000.0,
            "rope_scaling": None,
            "attention_bias": False,
            "bos_token_id": 1,
            "eos_token_id": 2,
            "pad_token_id": 0,
            "tie_word_embeddings": False,
        },
    }


def original_state_dict(config: dict) -> dict[str, torch.Tensor]:
    """Random float32 weights under the original key names (fused qkv, ``mlp1``, ``language_model``)."""
    generator = torch.Generator().manual_seed(SEED)

    def normal(*shape: int, std: float = 0.05) -> torch.Tensor:
        return torch.randn(*shape, generator=generator) * std

    def near_one(size: int) -> torch.Tensor:
        return 1.0 + normal(size, std=0.02)

    vision, llm = config["vision_config"], config["llm_config"]
    dv, iv = vision["hidden_size"], vision["intermediate_size"]
    patches = (vision["image_size"] // vision["patch_size"]) ** 2
    dt, it, vocab = llm["hidden_size"], llm["intermediate_size"], llm["vocab_size"]
    head_dim = dt // llm["num_attention_heads"]
    kv = llm["num_key_value_heads"] * head_dim
    projector_in = dv * int(1 / config["downsample_ratio"]) ** 2
    state = {
        "vision_model.embeddings.class_embedding": normal(1, 1, dv),
        "vision_model.embeddings.position_embedding": normal(1, patches + 1, dv),
        "vision_model.embeddings.patch_embedding.weight": normal(dv, 3, vision["patch_size"], vision["patch_size"]),
        "vision_model.embeddings.patch_embedding.bias": normal(dv),
        "mlp1.0.weight": near_one(projector_in),
        "mlp1.0.bias": normal(projector_in),
        "mlp1.1.weight": normal(dt, projector_in),
        "mlp1.1.bias": normal(dt),
        "mlp1.3.weight": normal(dt, dt),
        "mlp1.3.bias": normal(dt),
        "language_model.model.embed_tokens.weight": normal(vocab, dt, std=0.5),
        "language_model.model.norm.weight": near_one(dt),
        "language_model.lm_head.weight": normal(vocab, dt, std=0.5),
    }
    for layer in range(vision["num_hidden_layers"]):
        prefix = f"vision_model.encoder.layers.{layer}."
        state.update({
            prefix + "attn.qkv.weight": normal(3 * dv, dv),
            prefix + "attn.q_norm.weight": near_one(dv),
            prefix + "attn.k_norm.weight": near_one(dv),
            prefix + "attn.proj.weight": normal(dv, dv),
            prefix + "attn.proj.bias": normal(dv),
            prefix + "mlp.fc1.weight": normal(iv, dv),
            prefix + "mlp.fc1.bias": normal(iv),
            prefix + "mlp.fc2.weight": normal(dv, iv),
            prefix + "mlp.fc2.bias": normal(dv),
            prefix + "norm1.weight": near_one(dv),
            prefix + "norm2.weight": near_one(dv),
            prefix + "ls1": torch.full((dv,), vision["initializer_factor"]),
            prefix + "ls2": torch.full((dv,), vision["initializer_factor"]),
        })
    for layer in range(llm["num_hidden_layers"]):
        prefix = f"language_model.model.layers.{layer}."
        state.update({
            prefix + "input_layernorm.weight": near_one(dt),
            prefix + "post_attention_layernorm.weight": near_one(dt),
            prefix + "self_attn.q_proj.weight": normal(dt, dt, std=0.2),
            prefix + "self_attn.k_proj.weight": normal(kv, dt, std=0.2),
            prefix + "self_attn.v_proj.weight": normal(kv, dt, std=0.2),
            prefix + "self_attn.o_proj.weight": normal(dt, dt, std=0.2),
            prefix + "mlp.gate_proj.weight": normal(it, dt, std=0.2),
            prefix + "mlp.up_proj.weight": normal(it, dt, std=0.2),
            prefix + "mlp.down_proj.weight": normal(dt, it, std=0.2),
        })
    return state


def make_tiny_checkpoint(folder: Path, extra_corpus: str = "", text_heads: int = TEXT_HEADS) -> Path:
    """Write the tiny checkpoint into ``folder`` (created if needed) and return ``folder``.

    ``extra_corpus``: more tokenizer training text (lines), so that words a test needs get their own pieces.
    ``text_heads``: see :func:`original_config`.
    """
    folder.mkdir(parents=True, exist_ok=True)
    sp_size = _train_tokenizer(folder, extra_corpus)
    _write_tokenizer_files(folder, sp_size)
    config = original_config(vocab_size=sp_size + len(ADDED_TOKENS), text_heads=text_heads)
    (folder / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    save_file(original_state_dict(config), str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


def make_sharded_copy(source: Path, folder: Path, shards: int) -> Path:
    """Copy the checkpoint at ``source`` into ``folder`` with its weights split into ``shards``
    safetensors files and a ``model.safetensors.index.json``, as large checkpoints are stored."""
    from safetensors.torch import load_file

    folder.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.name != "model.safetensors":
            (folder / path.name).write_bytes(path.read_bytes())
    state = load_file(str(source / "model.safetensors"))
    names = sorted(state)
    weight_map = {}
    for index in range(shards):
        shard_name = f"model-{index + 1:05d}-of-{shards:05d}.safetensors"
        part = {name: state[name] for name in names[index::shards]}
        save_file(part, str(folder / shard_name), metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(part, shard_name))
    total = sum(tensor.numel() * tensor.element_size() for tensor in state.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index), encoding="utf-8")
    return folder
