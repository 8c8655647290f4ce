"""Workload and suite specs: TOML files in workloads/ (format in workloads/README.md).

Workloads are data so that a run folder can keep exactly what was run (the
resolved spec) and a reviewer can read the sizing of each preset without
reading driver code. Every key is checked: a typo in a spec or in --set is an
InputError naming the file and key, never a silently ignored setting.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchctl import human
from benchctl.documents import load_toml, wrong_type
from benchctl.errors import InputError, UsageError
from benchctl.run.quiesce import Rule

WORKLOAD_FORMAT = "benchctl-workload/1"
SUITE_FORMAT = "benchctl-suite/1"
TYPES = ("int", "float", "str", "bool", "size", "cpus")
_CPUS = re.compile(r"^\d+(-\d+)?(,\d+(-\d+)?)*$")


def workloads_dir() -> Path:
    """$BENCHCTL_WORKLOADS, else the workloads/ folder next to the package."""
    env = os.environ.get("BENCHCTL_WORKLOADS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "workloads"


def parse_size(value: str | int) -> int:
    """'128G' -> 137438953472 (1024-based, as fio/xfs_io/brd use); ValueError when it is not a size."""
    return human.parse_size(value, error=ValueError)


def parse_cpus(value: str) -> list[int]:
    """'0-3,8' -> [0, 1, 2, 3, 8]."""
    out: list[int] = []
    for part in value.split(","):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: Any
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None

    def convert(self, value: Any, where: Path | None, key: str) -> Any:
        """Check (and for command-line strings, convert) a value.

        where is the file the value came from (InputError names file and key)
        or None for the command line (UsageError, exit 2, no internal path).
        """

        def bad(why: str) -> InputError | UsageError:
            return InputError(f"{key}: {why}", where) if where is not None else UsageError(f"{key}: {why}")

        t = self.type
        try:
            if t == "bool":
                if isinstance(value, bool):
                    v: Any = value
                elif isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
                    v = True
                elif isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
                    v = False
                else:
                    raise bad(f"expected true or false, got {value!r}")
            elif t == "int":
                if isinstance(value, bool) or (isinstance(value, float)):
                    raise bad(f"expected an integer, got {value!r}")
                v = int(value, 0) if isinstance(value, str) else int(value)
            elif t == "float":
                if isinstance(value, bool):
                    raise bad(f"expected a number, got {value!r}")
                v = float(value)
                if v != v or v in (float("inf"), float("-inf")):
                    raise bad(f"expected a finite number, got {value!r}")
            elif t == "size":
                if isinstance(value, bool):
                    raise bad(f"expected a size, got {value!r}")
                parse_size(value)
                v = value if isinstance(value, int) else str(value).strip()
            elif t == "cpus":
                v = str(value).strip()
                if v not in ("auto", "none") and not _CPUS.match(v):
                    raise bad(f"expected auto, none or a CPU list like 0-3,8, got {value!r}")
            else:  # str
                if not isinstance(value, str):
                    raise bad(f"expected a string, got {value!r}")
                v = value
        except (TypeError, ValueError):
            wanted = {"int": "an integer", "float": "a number", "size": "a size like 256M or 4G"}.get(t, t)
            raise bad(f"expected {wanted}, got {value!r}") from None
        if self.choices is not None and v not in self.choices:
            raise bad(f"must be one of {', '.join(map(str, self.choices))}; got {value!r}")
        num = parse_size(v) if t == "size" else v
        if self.min is not None and t in ("int", "float", "size") and num < self.min:
            raise bad(f"must be >= {self.min}; got {value!r}")
        if self.max is not None and t in ("int", "float", "size") and num > self.max:
            raise bad(f"must be <= {self.max}; got {value!r}")
        return v


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    iterations: int
    warmup: int
    values: dict[str, Any]
    min_memory_mb: int | None = None


@dataclass(frozen=True)
class Workload:
    name: str
    driver: str
    description: str
    params: dict[str, Param]
    presets: dict[str, Preset]
    programs: dict[str, str]
    one_of: list[dict[str, str]]
    min_memory_mb: int
    root: bool
    default_preset: str
    path: Path
    quiesce: Rule | None = None  # [quiesce]: the state before each measured pass (benchctl.run.quiesce)

    def resolve(
        self,
        preset: str | None = None,
        overrides: dict[str, str] | None = None,
        *,
        iterations: int | None = None,
        warmup: int | None = None,
    ) -> ResolvedSpec:
        """Defaults < preset < overrides, each value type-checked."""
        pname = preset or self.default_preset
        if pname not in self.presets:
            raise UsageError(
                f"--preset {pname}: workload {self.name} has no such preset (have: {', '.join(self.presets)})"
            )
        p = self.presets[pname]
        values = {k: prm.default for k, prm in self.params.items()}
        values.update(p.values)
        for key, raw in (overrides or {}).items():
            if key not in self.params:
                near = difflib.get_close_matches(key, list(self.params), n=1)
                raise UsageError(
                    f"--set {key}: workload {self.name} has no such parameter"
                    + (f" (did you mean {near[0]}?)" if near else "")
                    + f"; see `benchctl run {self.name} --help`"
                )
            values[key] = self.params[key].convert(raw, None, f"--set {key}")
        return ResolvedSpec(
            workload=self,
            preset=pname,
            params=values,
            overrides=dict(overrides or {}),
            iterations=iterations if iterations is not None else p.iterations,
            warmup=warmup if warmup is not None else p.warmup,
            min_memory_mb=p.min_memory_mb if p.min_memory_mb is not None else self.min_memory_mb,
            quiesce=self.quiesce,
        )


@dataclass
class ResolvedSpec:
    workload: Workload
    preset: str
    params: dict[str, Any]
    overrides: dict[str, Any]
    iterations: int
    warmup: int
    min_memory_mb: int
    quiesce: Rule | None = None  # the workload's, or None (tests/perf compares runs without it)

    def to_json(self) -> dict[str, Any]:
        w = self.workload
        return {
            "name": w.name,
            "driver": w.driver,
            "description": w.description,
            "file": str(w.path),
            "preset": self.preset,
            "params": self.params,
            "iterations": self.iterations,
            "warmup": self.warmup,
            "min_memory_mb": self.min_memory_mb,
            "needs": {"programs": w.programs, "one_of": w.one_of, "root": w.root},
            "quiesce": self.quiesce.to_json() if self.quiesce else None,
        }


# -- loading -------------------------------------------------------------------------


def _check_keys(table: Any, allowed: set[str], path: Path, where: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise InputError(f"{where or 'top level'}: expected a table", path)
    for k in table:
        if k not in allowed:
            raise InputError(
                f"{where + '.' if where else ''}{k}: unknown key (allowed: {', '.join(sorted(allowed))})", path
            )
    return table


def _typed(table: dict, key: str, typ: type | tuple, path: Path, where: str, default: Any = ...) -> Any:
    if key not in table:
        if default is ...:
            raise InputError(f"{where + '.' if where else ''}{key}: missing", path)
        return default
    v = table[key]
    tname = wrong_type(v, typ)
    if tname:
        raise InputError(f"{where + '.' if where else ''}{key}: expected {tname}, got {v!r}", path)
    return v


def _str_map(v: Any, path: Path, where: str) -> dict[str, str]:
    if not isinstance(v, dict) or not all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()):
        raise InputError(f'{where}: expected a table of program = "package"', path)
    return dict(v)


def _params(doc: dict[str, Any], path: Path) -> dict[str, Param]:
    """[params.NAME] tables, each default checked against its own type."""
    params: dict[str, Param] = {}
    for pname, pt in _check_keys(doc.get("params", {}), set(doc.get("params", {}) or {}), path, "params").items():
        where = f"params.{pname}"
        _check_keys(pt, {"type", "default", "help", "min", "max", "choices"}, path, where)
        typ = _typed(pt, "type", str, path, where)
        if typ not in TYPES:
            raise InputError(f"{where}.type: {typ!r} is not one of {', '.join(TYPES)}", path)
        if "default" not in pt:
            raise InputError(f"{where}.default: missing", path)
        choices = _typed(pt, "choices", list, path, where, None)
        prm = Param(
            name=pname,
            type=typ,
            default=None,
            help=_typed(pt, "help", str, path, where, ""),
            min=_typed(pt, "min", (int, float), path, where, None),
            max=_typed(pt, "max", (int, float), path, where, None),
            choices=tuple(choices) if choices is not None else None,
        )
        default = prm.convert(pt["default"], path, f"{where}.default")
        params[pname] = Param(**{**prm.__dict__, "default": default})
    return params


def _presets(doc: dict[str, Any], params: dict[str, Param], path: Path) -> dict[str, Preset]:
    """[presets.NAME] tables; every `set` key must be a declared parameter and pass its check."""
    presets: dict[str, Preset] = {}
    for pr, tbl in _check_keys(doc.get("presets", {}), set(doc.get("presets", {}) or {}), path, "presets").items():
        where = f"presets.{pr}"
        _check_keys(tbl, {"description", "iterations", "warmup", "min_memory_mb", "set"}, path, where)
        values = _typed(tbl, "set", dict, path, where, {})
        checked = {}
        for k, v in values.items():
            if k not in params:
                raise InputError(f"{where}.set.{k}: unknown parameter (have: {', '.join(params)})", path)
            checked[k] = params[k].convert(v, path, f"{where}.set.{k}")
        iters = _typed(tbl, "iterations", int, path, where, 5)
        warm = _typed(tbl, "warmup", int, path, where, 1)
        if iters < 1 or warm < 0:
            raise InputError(f"{where}: iterations must be >= 1 and warmup >= 0", path)
        presets[pr] = Preset(
            name=pr,
            description=_typed(tbl, "description", str, path, where, ""),
            iterations=iters,
            warmup=warm,
            values=checked,
            min_memory_mb=_typed(tbl, "min_memory_mb", int, path, where, None),
        )
    return presets


def load_workload(name_or_path: str | Path) -> Workload:
    """Load workloads/<name>.toml (or a path) and validate every key."""
    s = str(name_or_path)
    path = Path(s) if s.endswith(".toml") or "/" in s else workloads_dir() / f"{s}.toml"
    if not path.is_file():
        known = ", ".join(list_workload_names()) or "none"
        if path != Path(s):  # a name typed on the command line, not a file the user gave
            raise UsageError(f"no workload {s!r} (known: {known})")
        raise InputError(f"no such workload (known: {known})", path)
    doc = load_toml(path, "workload file")
    _check_keys(
        doc,
        {"format", "name", "driver", "description", "default_preset", "needs", "params", "presets", "quiesce"},
        path,
        "",
    )
    fmt = _typed(doc, "format", str, path, "")
    if fmt != WORKLOAD_FORMAT:
        raise InputError(f"format: expected {WORKLOAD_FORMAT!r}, got {fmt!r}", path)
    name = _typed(doc, "name", str, path, "")
    if name != path.stem:
        raise InputError(f"name: {name!r} does not match the file name {path.stem!r}", path)
    driver = _typed(doc, "driver", str, path, "")
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", driver):
        raise InputError(f"driver: not a driver name: {driver!r}", path)

    needs = _check_keys(doc.get("needs", {}), {"programs", "one_of", "min_memory_mb", "root"}, path, "needs")
    programs = _str_map(needs.get("programs", {}), path, "needs.programs")
    one_of_raw = _typed(needs, "one_of", list, path, "needs", [])
    one_of = [_str_map(t, path, f"needs.one_of[{i}]") for i, t in enumerate(one_of_raw)]
    min_mem = _typed(needs, "min_memory_mb", int, path, "needs", 0)
    root = _typed(needs, "root", bool, path, "needs", False)

    params = _params(doc, path)
    presets = _presets(doc, params, path)
    for required in ("quick", "claim"):
        if required not in presets:
            raise InputError(f"presets.{required}: missing (every workload has quick and claim)", path)
    default_preset = _typed(doc, "default_preset", str, path, "", "quick")
    if default_preset not in presets:
        raise InputError(f"default_preset: no preset {default_preset!r}", path)
    return Workload(
        name=name,
        driver=driver,
        description=_typed(doc, "description", str, path, "", ""),
        params=params,
        presets=presets,
        programs=programs,
        one_of=one_of,
        min_memory_mb=min_mem,
        root=root,
        default_preset=default_preset,
        path=path,
        quiesce=Rule.from_table(doc.get("quiesce"), path),
    )


def list_workload_names() -> list[str]:
    d = workloads_dir()
    return sorted(p.stem for p in d.glob("*.toml")) if d.is_dir() else []


def parse_overrides(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    """['k=v', ...] -> {k: v} (values are checked later, against the spec)."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r}: expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


# -- suites ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteEntry:
    workload: str
    presets: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    entries: list[SuiteEntry]
    path: Path

    def resolve(
        self, preset: str | None, overrides: dict[str, str], *, iterations: int | None = None, warmup: int | None = None
    ) -> list[ResolvedSpec]:
        """One resolved spec per entry; a --set key no workload declares is an error."""
        used: set[str] = set()
        out = []
        for e in self.entries:
            w = load_workload(e.workload)
            wp = e.presets.get(preset, preset) if preset else None
            mine = {k: v for k, v in overrides.items() if k in w.params}
            used.update(mine)
            merged = {**{k: v for k, v in e.values.items()}, **mine}
            out.append(w.resolve(wp, merged, iterations=iterations, warmup=warmup))
        unused = set(overrides) - used
        if unused:
            raise UsageError(f"--set {', '.join(sorted(unused))}: no workload in suite {self.name} has it")
        return out


def load_suite(name_or_path: str | Path) -> Suite:
    s = str(name_or_path)
    path = Path(s) if s.endswith(".toml") or "/" in s else workloads_dir() / "suites" / f"{s}.toml"
    if not path.is_file():
        d = workloads_dir() / "suites"
        known = ", ".join(sorted(p.stem for p in d.glob("*.toml"))) if d.is_dir() else "none"
        if path != Path(s):
            raise UsageError(f"no suite {s!r} (known: {known or 'none'})")
        raise InputError(f"no such suite (known: {known or 'none'})", path)
    doc = load_toml(path, "suite file")
    _check_keys(doc, {"format", "name", "description", "run"}, path, "")
    fmt = _typed(doc, "format", str, path, "")
    if fmt != SUITE_FORMAT:
        raise InputError(f"format: expected {SUITE_FORMAT!r}, got {fmt!r}", path)
    entries = []
    for i, e in enumerate(_typed(doc, "run", list, path, "")):
        where = f"run[{i}]"
        _check_keys(e, {"workload", "presets", "set"}, path, where)
        presets = _typed(e, "presets", dict, path, where, {})
        entries.append(
            SuiteEntry(
                workload=_typed(e, "workload", str, path, where),
                presets={str(k): str(v) for k, v in presets.items()},
                values=_typed(e, "set", dict, path, where, {}),
            )
        )
    if not entries:
        raise InputError("run: a suite needs at least one [[run]] entry", path)
    return Suite(
        name=_typed(doc, "name", str, path, ""),
        description=_typed(doc, "description", str, path, "", ""),
        entries=entries,
        path=path,
    )


def resolve_request(
    suite: str | None, workloads: list[str] | tuple[str, ...], preset: str | None, sets: list[str] | tuple[str, ...]
) -> list[ResolvedSpec]:
    """What `benchctl run --suite SUITE` (or `run WORKLOAD` for each workload) with this preset and
    these --set items would run, resolved now: workload and suite names, the preset and every --set
    key and value are checked (UsageError, exit 2), so a campaign plan refuses what would fail only
    after a host rebooted."""
    overrides = parse_overrides(sets)
    if suite:
        return load_suite(suite).resolve(preset, overrides)
    return [load_workload(w).resolve(preset, overrides) for w in workloads]
