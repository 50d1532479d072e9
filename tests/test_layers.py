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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path: Path, known: set[str]) -> set[str]:
    """The project modules a file imports anywhere (inside functions and ``if TYPE_CHECKING:`` included:
    a module that needs another's types at run time is tied to it as much as one that imports it);
    ``from package import name`` counts as importing ``package.name`` when that is a module."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found & known


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a module importing itself (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_in_the_core_or_the_ui() -> None:
    files = sorted(CORE.rglob("*.py")) + sorted((ROOT / "ui_components").rglob("*.py"))
    files = [path for path in files if "node_modules" not in path.parts]
    known = {_module_name(path) for path in files}
    graph = {_module_name(path): _imported_modules(path, known) - {_module_name(path)} for path in files}
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_the_page_knows_every_panel() -> None:
    """Panels reach the rest of the page through ``ui_components.links``; none imports the page, and no
    module but the page imports more than a few panels (``app.py`` only the page)."""
    panels = {f"ui_components.{name}" for name in
              ("chat", "examples", "export", "pacs", "regions", "status", "task_panel", "viewer")}
    for path in sorted((ROOT / "ui_components").glob("*.py")) + [ROOT / "app.py"]:
        if path.stem == "page":
            continue
        imported = _imported_modules(path, panels | {"ui_components.page"}) - {_module_name(path)}
        assert "ui_components.page" not in imported or path.name == "app.py", path
        assert len(imported & panels) <= 3, (path, sorted(imported & panels))
    assert _imported_modules(ROOT / "app.py", panels) == set()
