"""The layout rules of issues 11 and 22, checked on every test run: a small top level, small modules
and functions, a one-way import order between packages, and tests that use public names only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "benchctl"
# The CLI, errors, and the small helpers every layer shares: documents (JSON/TOML files, dotted
# paths, format versions), human (sizes like "256G", the 72-column mail width).
TOP_LEVEL_MODULES = {"__init__.py", "__main__.py", "cli.py", "documents.py", "errors.py", "human.py"}
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80


def documented_layers(text: str) -> tuple[tuple[str, ...], ...]:
    """The import order as ARCHITECTURE.md's table writes it, lowest layer first, so the table is the
    rule and cannot drift from it. A row `| 2 | `a` > `b/` | why |` is two layers (b below a), a row
    `| 1 | `a`, `b` | why |` one; `benchctl/__init__` is the package's own __init__ (the version)."""
    layers = []
    for row in reversed(re.findall(r"^\| \d+ \| (.+?) \| .*\|$", text, re.M)):
        for layer in reversed(row.split(" > ")):
            names = (n.removesuffix("/__init__").rstrip("/") for n in re.findall(r"`([^`]+)`", layer))
            layers.append(tuple(names))
    return tuple(layers)


# A module imports its own package and the packages of lower layers only, never one beside or above it.
LAYERS = documented_layers((ROOT / "ARCHITECTURE.md").read_text())
LAYER = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


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


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(module: str) -> str:
    """The layer unit a dotted benchctl name belongs to: its subpackage or top-level module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYER else "benchctl"


def imports(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, dotted name) of every benchctl name a module imports, at any depth (inside functions
    too), relative imports resolved; `from a import b` gives a.b, which may be a module or a name."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            found += [(node.lineno, f"{base}.{a.name}") for a in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] == "benchctl"]


def upward_imports(source: str, module: str, is_package: bool = False) -> list[str]:
    """The imports of a module that break the order of LAYERS: into a package beside or above its own."""
    own = _unit(module)
    return [
        f"{module}:{line} imports {name} ({_unit(name)} is not below {own})"
        for line, name in imports(source, module, is_package)
        if _unit(name) != own and LAYER[_unit(name)] >= LAYER[own]
    ]


def _module_graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in _modules(PACKAGE)}
    graph: dict[str, set[str]] = {m: set() for m in paths}
    for module, path in paths.items():
        for _, name in imports(path.read_text(), module, path.name == "__init__.py"):
            while name not in paths and "." in name:
                name = name.rsplit(".", 1)[0]
            if name in paths and name != module:
                graph[module].add(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One import path for every cycle found by a depth-first walk (empty: the graph is one-way)."""
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append(path[path.index(nxt) :] + [node, nxt])
            elif nxt not in state:
                walk(nxt, path + [node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node, [])
    return found


def test_the_documented_order_reads_as_layers():
    table = "| row | packages | why |\n|---|---|---|\n| 2 | `cli` > `commands/` | x |\n"
    table += "| 1 | `errors`, `benchctl/__init__` | y |\n"
    assert documented_layers(table) == (("errors", "benchctl"), ("commands",), ("cli",))
    assert LAYERS[0] == ("errors", "benchctl") and LAYERS[-1] == ("__main__",)


def test_every_package_has_a_place_in_the_import_order():
    units = {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if p.suffix == ".py" or (p / "__init__.py").is_file()
    }
    units = {"benchctl" if u == "__init__" else u for u in units}
    assert units == set(LAYER), (
        f"give them a row in the import-order table of ARCHITECTURE.md: {sorted(units - set(LAYER))}"
    )


@pytest.mark.parametrize("path", _modules(PACKAGE), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_go_down_the_layers_only(path: Path):
    assert not upward_imports(path.read_text(), _module_name(path), path.name == "__init__.py")


def test_the_import_order_check_finds_upward_and_sideways_imports():
    # the cycles of issue 22, as they were: model -> analyze, and results -> run inside a function
    assert upward_imports("from benchctl.analyze import claims\n", "benchctl.model.targets")
    source = "def effective_status():\n    from benchctl.run.processes import identity_alive\n"
    assert upward_imports(source, "benchctl.results.store") == [
        "benchctl.results.store:2 imports benchctl.run.processes.identity_alive (run is not below results)"
    ]
    assert upward_imports("from ..model import arms\n", "benchctl.run.engine")  # relative, same layer
    assert upward_imports("from benchctl import cli\n", "benchctl.errors")
    assert not upward_imports("from . import series\nfrom benchctl.model import arms\n", "benchctl.analyze.result")
    assert not upward_imports("from benchctl import __version__\n", "benchctl.results.store")


def test_no_import_cycles_between_modules():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert not cycles(_module_graph())


def declared_public(package: Path) -> set[str]:
    """The names a package's __init__ lists in __all__: its public entry points (read, not imported)."""
    for node in ast.parse((package / "__init__.py").read_text()).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


def undeclared_uses(tree: ast.AST, importer: str = "tests") -> list[str]:
    """Imports that reach inside a benchctl subpackage past what its __init__ declares public
    (`importer`, a top-level package, may use its own insides)."""
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] != "benchctl" or len(parts) < 3 or parts[1] == importer:
                continue
            for depth in range(2, len(parts)):
                package = PACKAGE.joinpath(*parts[1:depth])
                if not (package / "__init__.py").is_file():
                    break
                if parts[depth] not in declared_public(package):
                    found.append(
                        f"line {node.lineno}: {name} ({parts[depth]} not in {'.'.join(parts[:depth])}.__all__)"
                    )
                    break
    return found


def private_uses(tree: ast.AST) -> list[str]:
    """Names a test takes from benchctl that are not public: underscore names (imported, read as
    attributes, or monkeypatched) and modules a package's __init__ does not declare."""
    modules: set[str] = set()
    found = undeclared_uses(tree)
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
    inside = ast.parse("from benchctl.analyze.kinds import judge_kind\nimport benchctl.run.signals\n")
    assert [f.split(" (")[0] for f in private_uses(inside)] == [
        "line 1: benchctl.analyze.kinds.judge_kind",
        "line 2: benchctl.run.signals",
    ]
    assert [f.split(" (")[0] for f in undeclared_uses(inside, importer="analyze")] == ["line 2: benchctl.run.signals"]


@pytest.mark.parametrize("path", sorted(p.parent for p in PACKAGE.rglob("__init__.py")), ids=str)
def test_every_package_says_what_it_is_and_names_its_public_entry_points(path: Path):
    tree = ast.parse((path / "__init__.py").read_text())
    assert (ast.get_docstring(tree) or "").split("\n")[0].endswith("."), "a first line that says what it is"
    if path == PACKAGE:
        return
    defined = _defined(tree)
    public = declared_public(path)
    missing = sorted(
        n for n in public if n not in defined and not (path / f"{n}.py").is_file() and not (path / n).is_dir()
    )
    assert public and not missing, f"__all__ empty or naming what is not there: {missing}"


def _defined(tree: ast.Module) -> set[str]:
    """Top-level names an __init__ binds: definitions, assignments and imports."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


@pytest.mark.parametrize("path", _modules(PACKAGE), ids=lambda p: str(p.relative_to(ROOT)))
def test_packages_import_each_other_through_public_entry_points(path: Path):
    assert not undeclared_uses(ast.parse(path.read_text()), _unit(_module_name(path))), path


@pytest.mark.parametrize("path", _modules(ROOT / "tests"), ids=lambda p: str(p.relative_to(ROOT)))
def test_tests_use_public_names_only(path: Path):
    assert not private_uses(ast.parse(path.read_text())), path
