"""Finding and checking a MedRegA checkpoint in its original on-disk layout."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medrega_core.engine.errors import N_, CheckpointFilesError, CheckpointNotFoundError

CONFIG_FILE = "config.json"
SINGLE_WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX_FILE = "model.safetensors.index.json"
#: What a Hugging Face download fetches: weights as safetensors only, configs and the tokenizer.
HUB_PATTERNS = ("*.safetensors", "*.json", "tokenizer.model")
#: What a client of a model server needs: the configs and the tokenizer, no weights.
TOKENIZER_PATTERNS = ("*.json", "tokenizer.model")
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class CheckpointFiles:
    """A checked checkpoint folder.

    Attributes
    ----------
    source:
        What the user gave (folder path or Hugging Face id), shown in the status panel.
    folder:
        The local folder holding the files.
    config:
        The parsed original ``config.json``.
    """

    source: str
    folder: Path
    config: dict[str, Any]


def _download(repo_id: str, patterns: tuple[str, ...]) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError

    try:
        return Path(snapshot_download(repo_id, allow_patterns=list(patterns)))
    except (OSError, HfHubHTTPError, ValueError) as error:
        raise CheckpointNotFoundError(
            N_(
                "The checkpoint {name} is not a local folder and could not be downloaded from Hugging Face "
                "({reason}). Download it on a machine with internet access (huggingface-cli download {name} "
                "--include '*.safetensors' '*.json' tokenizer.model --local-dir FOLDER) and pass that folder."
            ),
            name=repo_id,
            reason=type(error).__name__,
        ) from error


def resolve_folder(source: str, patterns: tuple[str, ...] = HUB_PATTERNS) -> Path:
    """The local folder for a folder path or a Hugging Face id (its ``patterns`` downloaded when not cached).

    Raises
    ------
    CheckpointNotFoundError
        A path that does not exist (and is not an ``owner/name`` id), a file instead of a folder,
        or an id that cannot be downloaded.
    """
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise CheckpointNotFoundError(N_("The checkpoint {name} is a file, not a folder."), name=source)
    if _HUB_ID.match(source) and not source.startswith((".", "/")):
        return _download(source, patterns)
    raise CheckpointNotFoundError(N_("The checkpoint folder {name} does not exist."), name=source)


def weight_files(folder: Path) -> list[Path]:
    """The safetensors shards of the checkpoint in ``folder`` (from the index when there is one)."""
    index_path = folder / WEIGHTS_INDEX_FILE
    if index_path.exists():
        try:
            weight_map = json.loads(index_path.read_text(encoding="utf-8"))["weight_map"]
        except (OSError, ValueError, KeyError) as error:
            raise CheckpointFilesError(
                N_("The file {name} in the checkpoint cannot be read: {reason}"),
                name=WEIGHTS_INDEX_FILE,
                reason=str(error),
            ) from error
        return [folder / name for name in sorted(set(weight_map.values()))]
    if (folder / SINGLE_WEIGHTS_FILE).exists():
        return [folder / SINGLE_WEIGHTS_FILE]
    raise CheckpointFilesError(
        N_(
            "The checkpoint folder {folder} has no safetensors weights ({single} or {index}); "
            "other weight formats are not loaded."
        ),
        folder=str(folder),
        single=SINGLE_WEIGHTS_FILE,
        index=WEIGHTS_INDEX_FILE,
    )


def read_config(folder: Path) -> dict[str, Any]:
    """The parsed ``config.json``.

    Raises
    ------
    CheckpointFilesError
        When it is missing or not valid JSON.
    """
    path = folder / CONFIG_FILE
    if not path.exists():
        raise CheckpointFilesError(
            N_("The checkpoint folder {folder} has no {name}."), folder=str(folder), name=CONFIG_FILE
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CheckpointFilesError(
            N_("The file {name} in the checkpoint cannot be read: {reason}"), name=CONFIG_FILE, reason=str(error)
        ) from error
    if not isinstance(config, dict):
        raise CheckpointFilesError(
            N_("The file {name} in the checkpoint cannot be read: {reason}"), name=CONFIG_FILE, reason="not an object"
        )
    return config


def num_image_tokens(original: dict[str, Any]) -> int:
    """Visual tokens per 448 tile: ``(image_size / patch_size)**2 * downsample_ratio**2`` (256 for MedRegA)."""
    vision = original["vision_config"]
    patches_per_side = vision["image_size"] // vision["patch_size"]
    return int(patches_per_side * patches_per_side * original.get("downsample_ratio", 0.5) ** 2)


def locate_checkpoint(source: str) -> CheckpointFiles:
    """Resolve ``source`` and check that the config and every safetensors shard are present.

    Raises
    ------
    CheckpointNotFoundError, CheckpointFilesError
        With the missing folder or file named.
    """
    folder = resolve_folder(source)
    config = read_config(folder)
    missing = [path.name for path in weight_files(folder) if not path.exists()]
    if missing:
        raise CheckpointFilesError(
            N_("The checkpoint folder {folder} lacks weight files: {names}."),
            folder=str(folder),
            names=", ".join(missing),
        )
    return CheckpointFiles(source=source, folder=folder, config=config)
