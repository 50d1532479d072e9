"""Loading the original MedRegA layout: clear errors, exact weight mapping, quantization that spares the ViT."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from medrega_core.engine import EngineSettings, MedRegAEngine
from medrega_core.engine.errors import (
    CheckpointFilesError,
    CheckpointNotFoundError,
    EngineError,
    UnsupportedCheckpointError,
)
from medrega_core.engine.load_progress import LoadReport
from medrega_core.engine.modeling import native_config_from_original
from medrega_core.engine.settings import SettingsError


def _copy(tiny_checkpoint: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_checkpoint, tmp_path / "checkpoint"))


def _edit_config(folder: Path, **changes: object) -> None:
    path = folder / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config.update(changes)
    path.write_text(json.dumps(config), encoding="utf-8")


def _load(folder: Path | str, progress=None, **settings: object) -> MedRegAEngine:
    return MedRegAEngine.load(EngineSettings(str(folder), device="cpu", **settings), progress=progress)


def test_missing_folder_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-checkpoint"
    with pytest.raises(CheckpointNotFoundError) as caught:
        _load(missing)
    assert str(missing) in str(caught.value)
    assert "不存在" in caught.value.localized("zh")


def test_a_file_is_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "weights.safetensors"
    path.write_bytes(b"")
    with pytest.raises(CheckpointNotFoundError, match="is a file, not a folder"):
        _load(path)


def test_unreachable_hub_id_says_what_to_do() -> None:
    # A repository that does not exist: offline or online, the download fails the same way.
    with pytest.raises(CheckpointNotFoundError) as caught:
        _load("medrega-workbench-tests/no-such-model")
    message = str(caught.value)
    assert "could not be downloaded" in message and "--local-dir" in message


@pytest.mark.parametrize(
    ("removed", "error", "needle"),
    [
        ("config.json", CheckpointFilesError, "config.json"),
        ("tokenizer.model", CheckpointFilesError, "tokenizer.model"),
        ("model.safetensors", CheckpointFilesError, "no safetensors weights"),
    ],
)
def test_missing_files_are_named(tiny_checkpoint: Path, tmp_path: Path, removed: str, error: type, needle: str) -> None:
    folder = _copy(tiny_checkpoint, tmp_path)
    (folder / removed).unlink()
    with pytest.raises(error, match=needle):
        _load(folder)


def test_missing_shard_of_an_index_is_named(tiny_checkpoint: Path, tmp_path: Path) -> None:
    folder = _copy(tiny_checkpoint, tmp_path)
    (folder / "model.safetensors").rename(folder / "model-00001-of-00002.safetensors")
    index = {"metadata": {}, "weight_map": {"mlp1.0.weight": "model-00001-of-00002.safetensors",
                                            "mlp1.1.weight": "model-00002-of-00002.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index), encoding="utf-8")
    with pytest.raises(CheckpointFilesError, match="model-00002-of-00002.safetensors"):
        _load(folder)


def test_sharded_checkpoint_loads(tiny_checkpoint: Path, tmp_path: Path) -> None:
    folder = _copy(tiny_checkpoint, tmp_path)
    shutil.move(folder / "model.safetensors", folder / "model-00001-of-00001.safetensors")
    with safe_open(str(folder / "model-00001-of-00001.safetensors"), "pt") as weights:
        weight_map = {key: "model-00001-of-00001.safetensors" for key in weights.keys()}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}), encoding="utf-8")
    assert _load(folder).describe()["checkpoint"] == str(folder)


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"model_type": "llava"}, "not MedRegA"),
        ({"architectures": ["LlavaForConditionalGeneration"]}, "not MedRegA"),
        ({"ps_version": "v3"}, "ps_version = v3"),
        ({"dynamic_image_size": True}, "dynamic_image_size = True"),
        ({"template": "internlm2-chat"}, "template = internlm2-chat"),
        ({"select_layer": -4}, "select_layer = -4"),
        ({"use_llm_lora": 16}, "use_llm_lora = 16"),
        ({"llm_config": None}, "lacks the nested vision_config and llm_config"),
    ],
)
def test_unsupported_configs_are_refused(tiny_checkpoint: Path, changes: dict, needle: str) -> None:
    config = json.loads((tiny_checkpoint / "config.json").read_text(encoding="utf-8"))
    config.update(changes)
    with pytest.raises(UnsupportedCheckpointError, match=needle.replace("(", r"\(")):
        native_config_from_original(config)


def test_other_language_model_is_refused(tiny_checkpoint: Path, tmp_path: Path) -> None:
    folder = _copy(tiny_checkpoint, tmp_path)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["llm_config"].update(architectures=["InternLM2ForCausalLM"], model_type="internlm2")
    _edit_config(folder, llm_config=config["llm_config"])
    with pytest.raises(UnsupportedCheckpointError, match="InternLM2ForCausalLM"):
        _load(folder)


def test_weights_of_another_layout_are_refused(tiny_checkpoint: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    folder = _copy(tiny_checkpoint, tmp_path)
    state = load_file(str(folder / "model.safetensors"))
    state["vision_model.extra_head.weight"] = torch.zeros(2, 2)
    del state["mlp1.3.bias"]
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(UnsupportedCheckpointError, match="2 keys differ"):
        _load(folder)


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"quant": "fp3"}, "Unknown quantization fp3"),
        ({"dtype": "int4"}, "Unknown dtype int4"),
        ({"device": "tpu"}, "Unknown device tpu"),
        ({"quant": "bf16", "dtype": "float32"}, "cannot use dtype float32"),
        ({"max_new_tokens": 0}, "between 1 and 4096"),
    ],
)
def test_bad_settings_are_refused(tiny_checkpoint: Path, settings: dict, needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        EngineSettings(str(tiny_checkpoint), **settings)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown on machines without a GPU")
def test_cuda_without_gpu_is_a_clear_error(tiny_checkpoint: Path) -> None:
    with pytest.raises(EngineError, match="no CUDA GPU"):
        MedRegAEngine.load(EngineSettings(str(tiny_checkpoint), device="cuda"))


def test_original_weights_land_on_native_modules(tiny_engine, tiny_checkpoint: Path) -> None:
    model = tiny_engine.model
    with safe_open(str(tiny_checkpoint / "model.safetensors"), "pt") as weights:
        qkv = weights.get_tensor("vision_model.encoder.layers.1.attn.qkv.weight")
        attention = model.model.vision_tower.encoder.layer[1].attention
        for part, projection in zip(qkv.chunk(3, dim=0), (attention.q_proj, attention.k_proj, attention.v_proj)):
            assert torch.equal(part, projection.weight)
        assert torch.equal(weights.get_tensor("mlp1.3.weight"), model.model.multi_modal_projector.linear_2.weight)
        assert torch.equal(weights.get_tensor("vision_model.encoder.layers.0.ls2"),
                           model.model.vision_tower.encoder.layer[0].lambda_2)
        assert torch.equal(weights.get_tensor("language_model.lm_head.weight"), model.lm_head.weight)
        assert torch.equal(weights.get_tensor("language_model.model.embed_tokens.weight"),
                           model.model.language_model.embed_tokens.weight)
    # Yi's output head is separate from its embeddings: tying them would silently lose lm_head.
    assert model.lm_head.weight.data_ptr() != model.model.language_model.embed_tokens.weight.data_ptr()
    assert model.model.vision_tower.config.norm_type == "rms_norm"


def test_v1_pixel_shuffle_transposes_the_token_grid(tiny_engine, tiny_checkpoint: Path, tmp_path: Path) -> None:
    folder = _copy(tiny_checkpoint, tmp_path)
    _edit_config(folder, ps_version="v2")
    v2_engine = _load(folder, quant="none")
    image = torch.randint(0, 256, (90, 70, 3), dtype=torch.uint8).numpy()
    v1_features, _ = tiny_engine.image_features(image)
    v2_features, _ = v2_engine.image_features(image)
    side = int(tiny_engine.num_image_tokens**0.5)
    v1_grid = v1_features.reshape(side, side, -1)
    v2_grid = v2_features.reshape(side, side, -1)
    assert not torch.allclose(v1_grid, v2_grid)
    assert torch.allclose(v1_grid, v2_grid.transpose(0, 1), atol=1e-6)


def _linear_kinds(model: torch.nn.Module, prefix: str) -> set[str]:
    return {type(m).__name__ for name, m in model.named_modules() if name.startswith(prefix) and "Linear" in type(m).__name__}


def test_nf4_quantizes_only_the_language_model(tiny_checkpoint: Path) -> None:
    engine = _load(tiny_checkpoint, quant="nf4", dtype="bfloat16")
    model = engine.model
    assert _linear_kinds(model, "model.language_model") == {"Linear4bit"}
    for prefix in ("model.vision_tower", "model.multi_modal_projector", "lm_head"):
        assert _linear_kinds(model, prefix) == {"Linear"}, prefix
    vision_q = model.model.vision_tower.encoder.layer[0].attention.q_proj.weight
    assert vision_q.dtype == torch.bfloat16 and model.lm_head.weight.dtype == torch.bfloat16
    quant_state = model.model.language_model.layers[0].mlp.up_proj.weight.quant_state
    assert quant_state.quant_type == "nf4" and quant_state.nested  # double quantization
    assert engine.describe()["quantization"] == "nf4"
    result = engine.generate(torch.zeros(40, 40, 3, dtype=torch.uint8).numpy(), "What is shown?", max_new_tokens=4)
    assert len(result.output_ids) >= 1


def test_nf4_all_quantizes_the_vision_tower_too(tiny_checkpoint: Path) -> None:
    model = _load(tiny_checkpoint, quant="nf4-all", dtype="bfloat16").model
    for prefix in ("model.language_model", "model.vision_tower", "model.multi_modal_projector"):
        assert _linear_kinds(model, prefix) == {"Linear4bit"}, prefix
    assert _linear_kinds(model, "lm_head") == {"Linear"}


def test_progress_reports_rise_to_one(tiny_checkpoint: Path) -> None:
    reports: list[LoadReport] = []
    MedRegAEngine.load(EngineSettings(str(tiny_checkpoint), device="cpu"), progress=reports.append)
    fractions = [report.fraction for report in reports]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    from medrega_core.i18n import translate

    assert all(translate(report.message, "zh") != report.message for report in reports)


def _tensor_bytes(path: Path) -> int:
    """Bytes of tensor data in one safetensors file: the file less its 8-byte length and JSON header."""
    with path.open("rb") as handle:
        header_length = int.from_bytes(handle.read(8), "little")
    return path.stat().st_size - 8 - header_length


@pytest.mark.parametrize("quant", ["none", "nf4"])
def test_weights_progress_counts_bytes_over_every_shard(tiny_checkpoint: Path, tmp_path: Path, quant: str) -> None:
    from tiny_checkpoint import make_sharded_copy

    folder = make_sharded_copy(tiny_checkpoint, tmp_path / "sharded", shards=3)
    shards = sorted(folder.glob("model-*-of-00003.safetensors"))
    assert len(shards) == 3
    reports: list[LoadReport] = []
    dtype = "bfloat16" if quant == "nf4" else None
    engine = _load(folder, quant=quant, dtype=dtype, progress=reports.append)
    weights = [report for report in reports if report.total_bytes]
    assert weights, "no report counted weight bytes"
    assert {report.total_bytes for report in weights} == {sum(_tensor_bytes(path) for path in shards)}
    loaded = [report.loaded_bytes for report in weights]
    assert loaded == sorted(loaded) and loaded[-1] == weights[-1].total_bytes
    # Many reports while the weights arrive (not one per step), each after the first with a time left.
    assert len(set(loaded)) >= 10
    assert all(report.seconds_left is not None and report.seconds_left >= 0 for report in weights[1:])
    fractions = [report.fraction for report in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert len(engine.generate(torch.zeros(40, 40, 3, dtype=torch.uint8).numpy(), "What?", max_new_tokens=2).output_ids)
