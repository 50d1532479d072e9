"""The layering rule: nothing below the UI imports gradio; only the engine imports torch."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "medrega_core"
TORCH_MODULES = {"torch", "transformers", "bitsandbytes", "accelerate", "safetensors"}


def _top_level_imports(path: Path) -> set[str]:
    """Modules imported at module level (not inside functions, where lazy imports belong)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _all_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


CORE_FILES = sorted(CORE.rglob("*.py"))


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_never_imports_gradio(path: Path) -> None:
    assert "gradio" not in _all_imports(path)


@pytest.mark.parametrize(
    "path",
    [p for p in CORE_FILES if "engine" not in p.relative_to(CORE).parts],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_only_the_engine_imports_torch(path: Path) -> None:
    assert not (_all_imports(path) & TORCH_MODULES)


def test_scan_command_does_not_load_torch() -> None:
    import subprocess
    import sys

    code = "import sys, medrega_core.__main__ as m; m.build_parser(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "False"


def test_layers_import_one_way() -> None:
    order = ["intake", "tasks", "engine", "render"]
    for index, layer in enumerate(order):
        higher = {f"medrega_core.{name}" for name in order[index + 1 :]}
        for path in (CORE / layer).rglob("*.py") if (CORE / layer).exists() else []:
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module:
                    assert not any(node.module.startswith(h) for h in higher), (path, node.module)
