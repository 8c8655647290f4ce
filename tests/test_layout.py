"""The layout rules of issue 11, checked on every test run: a small top level, small modules and
functions, and tests that use public names only."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "benchctl"
# The CLI, errors, and the small helpers every layer shares: documents (JSON/TOML files, dotted
# paths, format versions), human (sizes like "256G", the 72-column mail width).
TOP_LEVEL_MODULES = {"__init__.py", "__main__.py", "cli.py", "documents.py", "errors.py", "human.py"}
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80


def _modules(base: Path) -> list[Path]:
    return sorted(p for p in base.rglob("*.py") if "__pycache__" not in p.parts)


def test_top_level_holds_only_the_cli_errors_and_small_shared_helpers():
    top = {p.name for p in PACKAGE.glob("*.py")}
    new = sorted(top - TOP_LEVEL_MODULES)
    assert not new, f"new top-level modules {new}: put them in a subpackage"


@pytest.mark.parametrize("path", _modules(PACKAGE), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_and_function_sizes(path: Path):
    text = path.read_text()
    assert text.count("\n") <= MAX_MODULE_LINES, f"{path.name}: {text.count(chr(10))} lines"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, long


def private_uses(tree: ast.AST) -> list[str]:
    """Underscore names a test takes from benchctl modules: imported, read as attributes, or monkeypatched."""
    modules: set[str] = set()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "benchctl":
            for a in node.names:
                if a.name.startswith("_") and not a.name.startswith("__"):
                    found.append(f"line {node.lineno}: from {node.module} import {a.name}")
                modules.add(a.asname or a.name)
        elif isinstance(node, ast.Import):
            modules.update((a.asname or a.name).split(".")[0] for a in node.names if a.name.startswith("benchctl"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            base = ast.unparse(node.value)
            if base in modules or base.startswith("benchctl."):
                found.append(f"line {node.lineno}: {base}.{node.attr}")
        elif isinstance(node, ast.Call) and ast.unparse(node.func).endswith("setattr") and len(node.args) >= 2:
            target, name = node.args[0], node.args[1]
            if isinstance(name, ast.Constant) and str(name.value).startswith("_") and ast.unparse(target) in modules:
                found.append(f"line {node.lineno}: setattr({ast.unparse(target)}, {name.value!r})")
            if (
                isinstance(target, ast.Constant)
                and isinstance(target.value, str)
                and target.value.startswith("benchctl.")
                and "._" in target.value
            ):
                found.append(f"line {node.lineno}: setattr({target.value!r})")
    return found


def test_the_private_name_scan_finds_what_it_should():
    tree = ast.parse(
        "from benchctl.x import _y\nfrom benchctl import store\nstore._slug('a')\n"
        "monkeypatch.setattr(store, '_z', 1)\nmonkeypatch.setattr('benchctl.store._w', 1)\n"
        "from benchctl.x import y\nself._private = 1\n"
    )
    assert len(private_uses(tree)) == 4


@pytest.mark.parametrize("path", _modules(ROOT / "tests"), ids=lambda p: str(p.relative_to(ROOT)))
def test_tests_use_public_names_only(path: Path):
    assert not private_uses(ast.parse(path.read_text())), path
