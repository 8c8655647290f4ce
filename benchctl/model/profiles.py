"""CPU and workload profiles: load, validate and sample the data files.

Profiles are data (data/cpus.toml, data/workloads.toml) so that a reviewer can
see, and change, every number the model rests on. Each number is a Figure:
published (with the publication), measured (with the measurement) or assumed
(with the reasoning and a distribution). The model never sees a Figure, only
arrays of draws {dotted name: values}, which is what `--set`, the Monte Carlo
and the tlb-probe calibration change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchctl.documents import load_toml
from benchctl.errors import InputError, UsageError
from benchctl.human import parse_size
from benchctl.model.datafiles import cpu_names, data_path

STATUSES = ("published", "measured", "assumed")
# fixed: one value; uniform/loguniform: low..high; triangular: low, mode = value, high;
# normal: mean = value, sd (clipped to low..high when given)
DISTS = ("fixed", "uniform", "loguniform", "triangular", "normal")
CPU_FIELDS = (
    "name",
    "midr",
    "freq_ghz",
    "l2_kib",
    "slc_mib",
    "l2_cycles",
    "slc_ns",
    "dram_ns",
    "walk_fixed_ns",
    "copy_walk_fraction",
    "mlp",
    "seq_copy_gbs",
    "prefetch_boundary",
    "tlb",
)
CPU_NUMBERS = CPU_FIELDS[2:-1]
TLB_FIELDS = ("name", "entries", "ways", "page_sizes")
REGION_FIELDS = ("name", "space", "pattern", "footprint", "pages_per_op", "access")
SPACES = ("linear", "user", "vmalloc", "vmemmap")
PATTERNS = ("random", "stream")
ACCESSES = ("touch", "copy", "copy-cached", "zero")
SIZE_FIGURES = (
    "footprint",
    "folio",
    "kernel_image",
    "kfence_pool",
    "used_after_boot",
    "boot_noise_sd",
    "reserved_in_map",
)


@dataclass(frozen=True)
class Figure:
    """One number (or list) with its provenance and, unless fixed, its distribution."""

    value: Any
    status: str
    source: str
    low: Any = None
    high: Any = None
    dist: str = "fixed"
    sd: float | None = None

    @property
    def uncertain(self) -> bool:
        return self.dist != "fixed"

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n draws (the value n times if fixed)."""
        if self.dist == "fixed":
            return np.full(n, float(self.value))
        lo = float(self.low) if self.low is not None else -np.inf
        hi = float(self.high) if self.high is not None else np.inf
        if self.dist == "uniform":
            return rng.uniform(lo, hi, n)
        if self.dist == "loguniform":
            return np.exp(rng.uniform(np.log(lo), np.log(hi), n))
        if self.dist == "triangular":
            return rng.triangular(lo, float(self.value), hi, n)
        x = rng.normal(float(self.value), float(self.sd or 0.0), n)
        return np.clip(x, lo, hi)

    def quantile(self, q: float) -> float:
        """The q-quantile of the distribution (q=0.5: the median the CLI calls nominal)."""
        if self.dist == "fixed":
            return float(self.value)
        lo = float(self.low) if self.low is not None else -np.inf
        hi = float(self.high) if self.high is not None else np.inf
        if self.dist == "uniform":
            return lo + q * (hi - lo)
        if self.dist == "loguniform":
            return float(np.exp(np.log(lo) + q * (np.log(hi) - np.log(lo))))
        if self.dist == "triangular":
            c = (float(self.value) - lo) / (hi - lo) if hi > lo else 0.5
            return (
                lo + np.sqrt(q * (hi - lo) * (float(self.value) - lo))
                if q < c
                else hi - np.sqrt((1 - q) * (hi - lo) * (hi - float(self.value)))
            )
        from scipy.stats import norm

        return float(np.clip(float(self.value) + float(self.sd or 0.0) * norm.ppf(q), lo, hi))

    def cdf(self, x: float) -> float:
        """P(X <= x) under the stated distribution: where a value sits in it (explain's plausibility)."""
        if self.dist == "fixed":
            return 1.0 if x >= float(self.value) else 0.0
        lo = float(self.low) if self.low is not None else -np.inf
        hi = float(self.high) if self.high is not None else np.inf
        if x <= lo:
            return 0.0
        if x >= hi:
            return 1.0
        if self.dist == "uniform":
            return (x - lo) / (hi - lo)
        if self.dist == "loguniform":
            return float(np.log(x / lo) / np.log(hi / lo))
        if self.dist == "triangular":
            c = float(self.value)
            if x <= c:
                return (x - lo) ** 2 / ((hi - lo) * (c - lo)) if c > lo else 0.0
            return 1.0 - (hi - x) ** 2 / ((hi - lo) * (hi - c)) if hi > c else 1.0
        from scipy.stats import norm

        return float(norm.cdf(x, float(self.value), float(self.sd or 0.0) or 1e-300))

    def describe(self, fmt=lambda v: f"{v:g}") -> str:
        """'2 (uniform 1..4)' style text for tables."""
        if self.dist == "fixed":
            return fmt(self.value) if not isinstance(self.value, list) else ", ".join(map(str, self.value))
        if self.dist == "normal":
            return f"{fmt(self.value)} (normal, sd {fmt(self.sd)})"
        mode = f", mode {fmt(self.value)}" if self.dist == "triangular" else ""
        return f"{self.dist} {fmt(self.low)}..{fmt(self.high)}{mode}"


def figure(raw: Any, where: str, path: Path | None, *, size: bool = False, descriptive: bool = False) -> Figure:
    """A Figure from its TOML table, checked: every assumed number the model uses needs a distribution
    (`descriptive` figures, such as TLB associativity, are recorded but not used)."""
    if not isinstance(raw, dict) or "value" not in raw:
        raise InputError(f"{where}: expected {{value = ..., status = ..., source = ...}}", path)
    status = raw.get("status")
    if status not in STATUSES:
        raise InputError(f"{where}: status must be one of {', '.join(STATUSES)}, got {status!r}", path)
    if not raw.get("source"):
        raise InputError(f"{where}: every figure needs a source note", path)
    conv = (lambda v: parse_size(v, what=where)) if size else (lambda v: v)
    try:
        value = conv(raw["value"])
        low = conv(raw["low"]) if "low" in raw else None
        high = conv(raw["high"]) if "high" in raw else None
    except UsageError as e:
        raise InputError(str(e), path) from None
    dist = raw.get("dist", "fixed" if low is None and high is None and "sd" not in raw else "uniform")
    if dist not in DISTS:
        raise InputError(f"{where}: dist must be one of {', '.join(DISTS)}, got {dist!r}", path)
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if dist != "fixed":
        if not numeric:
            raise InputError(f"{where}: only a number can have a distribution", path)
        if dist == "normal":
            if not isinstance(raw.get("sd"), (int, float)) or raw["sd"] < 0:
                raise InputError(f"{where}: a normal distribution needs sd >= 0", path)
        elif low is None or high is None or not (low <= value <= high) or low > high:
            raise InputError(f"{where}: {dist} needs low <= value <= high", path)
        if dist == "loguniform" and (low is None or low <= 0):
            raise InputError(f"{where}: loguniform needs low > 0", path)
    elif status == "assumed" and numeric and not descriptive:
        raise InputError(f"{where}: an assumed number needs a distribution (dist with low/high, or sd)", path)
    return Figure(value, status, raw["source"], low, high, dist, raw.get("sd"))


def _require(table: dict, fields: tuple[str, ...], where: str, path: Path) -> None:
    missing = [f for f in fields if f not in table]
    if missing:
        raise InputError(f"{where}: missing field(s) {', '.join(missing)}", path)


def _entries(raw: Any, fields: tuple[str, ...], where: str, what: str, hint: str, path: Path) -> list[dict]:
    """An array of tables (TOML [[...]]), non-empty, each with `fields`."""
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{where}: needs at least one {hint} entry", path)
    for i, t in enumerate(raw):
        if not isinstance(t, dict):
            raise InputError(f"{where}: {what} {i + 1} is not a table", path)
        _require(t, fields, f"{where}: {what} {i + 1}", path)
    return raw


@dataclass
class TlbLevel:
    name: str
    fully_associative: bool
    page_sizes: tuple[int, ...]


@dataclass
class CpuProfile:
    key: str
    name: str
    midr: Figure
    figures: dict[str, Figure]  # "cpu.<field>", "cpu.tlb.<level>.entries"
    tlb: list[TlbLevel]

    @property
    def midr_value(self) -> int:
        return int(str(self.midr.value), 16)


def load_cpu(key: str, path: Path | None = None) -> CpuProfile:
    """The profile `key`; InputError if the file lacks it or a field is missing or unsourced."""
    path = Path(path) if path else data_path("cpus.toml")
    doc = load_toml(path)
    if key not in doc:
        raise InputError(f"unknown CPU profile {key!r}; known: {', '.join(sorted(doc))}", path)
    p = doc[key]
    if not isinstance(p, dict):
        raise InputError(f"profile {key}: not a table", path)
    _require(p, CPU_FIELDS, f"profile {key}", path)
    figures: dict[str, Figure] = {}
    for f in CPU_NUMBERS:
        fig = figure(p[f], f"profile {key}: {f}", path)
        if not isinstance(fig.value, (int, float)) or isinstance(fig.value, bool):
            raise InputError(f"profile {key}: {f} must be a number", path)
        figures[f"cpu.{f}"] = fig
    midr = figure(p["midr"], f"profile {key}: midr", path)
    try:
        int(str(midr.value), 16)
    except ValueError:
        raise InputError(f'profile {key}: midr must be a hexadecimal MIDR_EL1 value like "0xC00FAC30"', path) from None
    levels = []
    for lv in _entries(p["tlb"], TLB_FIELDS, f"profile {key}", "tlb level", f"[[{key}.tlb]]", path):
        n = str(lv["name"])
        figures[f"cpu.tlb.{n}.entries"] = figure(lv["entries"], f"profile {key}: tlb {n} entries", path)
        ways = figure(lv["ways"], f"profile {key}: tlb {n} ways", path, descriptive=True)
        sizes = figure(lv["page_sizes"], f"profile {key}: tlb {n} page_sizes", path)
        try:
            held = tuple(sorted(parse_size(s) for s in sizes.value))
        except (UsageError, TypeError):
            raise InputError(f'profile {key}: tlb {n} page_sizes must be a list like ["4K", "2M"]', path) from None
        levels.append(TlbLevel(n, ways.value == "full", held))
        figures[f"cpu.tlb.{n}.ways_note"] = ways
        figures[f"cpu.tlb.{n}.page_sizes"] = sizes
    return CpuProfile(key, str(p["name"]), midr, figures, levels)


@dataclass
class Region:
    """What one operation (or pipeline stage) touches: see data/workloads.toml."""

    name: str
    space: str
    pattern: str
    access: str
    description: str


@dataclass
class Stage:
    name: str
    description: str
    regions: list[Region]


@dataclass
class WorkloadProfile:
    key: str
    kind: str  # "request" (memcached) or "pipeline" (storage paths)
    description: str
    headline: list[str]
    stages: list[Stage]
    figures: dict[str, Figure] = field(default_factory=dict)  # "workload.<key>...."


WORKLOAD_FIGURES = {
    "request": ("kernel_instructions_per_op", "other_kernel_walks_pki", "utilization", "active_cores"),
    "pipeline": ("active_cores",),
}
STAGE_FIGURES = ("cycles_per_op", "lines_per_op", "threads")


def _regions(raw: Any, where: str, base: str, figs: dict[str, Figure], path: Path) -> list[Region]:
    out = []
    for r in _entries(raw, REGION_FIELDS, where, "region", "[[...regions]]", path):
        name = str(r["name"])
        for key, allowed in (("space", SPACES), ("pattern", PATTERNS), ("access", ACCESSES)):
            if r[key] not in allowed:
                raise InputError(f"{where}: region {name}: {key} must be one of {', '.join(allowed)}", path)
        if r["pattern"] == "random" and "zipf" not in r:
            raise InputError(f"{where}: region {name}: a random region needs zipf", path)
        if r["pattern"] == "stream" and "folio" not in r:
            raise InputError(f"{where}: region {name}: a stream region needs folio (bytes per folio)", path)
        rb = f"{base}.regions.{name}"
        for f in ("footprint", "pages_per_op", "zipf", "folio"):
            if f in r:
                figs[f"{rb}.{f}"] = figure(r[f], f"{where}: region {name}: {f}", path, size=f in SIZE_FIGURES)
        out.append(Region(name, r["space"], r["pattern"], r["access"], str(r.get("description", ""))))
    return out


def load_workloads(path: Path | None = None) -> dict[str, WorkloadProfile]:
    path = Path(path) if path else data_path("workloads.toml")
    doc = load_toml(path)
    out = {}
    for key, w in doc.items():
        if not isinstance(w, dict):
            raise InputError(f"workload {key}: not a table", path)
        _require(w, ("kind", "description", "headline", "stages"), f"workload {key}", path)
        kind = w["kind"]
        if kind not in WORKLOAD_FIGURES:
            raise InputError(f"workload {key}: kind must be request or pipeline", path)
        base = f"workload.{key}"
        figs: dict[str, Figure] = {}
        _require(w, WORKLOAD_FIGURES[kind], f"workload {key}", path)
        for f in WORKLOAD_FIGURES[kind] + tuple(k for k in ("freerun_fraction",) if k in w):
            figs[f"{base}.{f}"] = figure(w[f], f"workload {key}: {f}", path)
        stages = []
        if not isinstance(w["stages"], list) or not w["stages"]:
            raise InputError(f"workload {key}: needs at least one [[{key}.stages]] entry", path)
        for i, st in enumerate(w["stages"]):
            needed = STAGE_FIGURES if kind == "pipeline" else STAGE_FIGURES[:2]  # a request has no threads
            _require(st, ("name", "regions") + needed, f"workload {key}: stage {i + 1}", path)
            sb = f"{base}.{st['name']}"
            for f in needed:
                figs[f"{sb}.{f}"] = figure(st[f], f"workload {key}: stage {st['name']}: {f}", path)
            if kind == "request":
                figs[f"{sb}.user_cycles_per_op"] = figure(
                    st.get("user_cycles_per_op", {}), f"workload {key}: stage {st['name']}: user_cycles_per_op", path
                )
            stages.append(
                Stage(
                    str(st["name"]),
                    str(st.get("description", "")),
                    _regions(st["regions"], f"workload {key}: stage {st['name']}", sb, figs, path),
                )
            )
        if kind == "request" and len(stages) != 1:
            raise InputError(f"workload {key}: a request workload has exactly one stage", path)
        out[key] = WorkloadProfile(key, kind, str(w["description"]), list(w["headline"]), stages, figs)
    return out


def load_machine(path: Path | None = None) -> dict[str, Figure]:
    """The modelled machine's figures beyond its CPU (data/machine.toml), as "machine.<name>"."""
    path = Path(path) if path else data_path("machine.toml")
    doc = load_toml(path).get("machine")
    if not isinstance(doc, dict):
        raise InputError("no [machine] table", path)
    return {f"machine.{k}": figure(raw, f"machine: {k}", path) for k, raw in doc.items()}


def number_table(cpus: list[str] | None = None) -> str:
    """docs/model.md's table of every number the model uses, with its source (generated from the data files)."""
    from benchctl.human import fmt_size

    def cell(name: str, f: Figure) -> str:
        size = name.split(".")[-1] in SIZE_FIGURES
        fmt = (lambda x: fmt_size(int(x)).replace(" ", "")) if size else (lambda x: f"{x:g}")
        return (
            f.describe(fmt)
            if isinstance(f.value, (int, float, list)) and not isinstance(f.value, bool)
            else str(f.value)
        )

    rows = ["| figure | value or distribution | status | source |", "|---|---|---|---|"]
    groups: list[tuple[str, dict[str, Figure]]] = [("machine", load_machine())]
    for key in cpus or cpu_names():
        cpu = load_cpu(key)
        groups.append((key, {"cpu.midr": cpu.midr, **cpu.figures}))
    for wl in load_workloads().values():
        groups.append((wl.key, wl.figures))
    for title, figs in groups:
        rows.append(f"| **{title}** | | | |")
        for name, f in figs.items():
            shown = name.replace("workload.", "").replace("_note", "")
            src = f.source.replace("|", "/")
            rows.append(f"| `{shown}` | {cell(name, f)} | {f.status} | {src} |")
    return "\n".join(rows)


def apply_overrides(figures: dict[str, Figure], overrides: list[str] | dict[str, Any]) -> dict[str, Figure]:
    """`figures` with `--set name=value` overrides applied: each set figure becomes fixed at that value."""
    out = dict(figures)
    items = overrides.items() if isinstance(overrides, dict) else [_split_set(s) for s in overrides]
    for k, v in items:
        if k not in figures or not isinstance(figures[k].value, (int, float)):
            close = [n for n in figures if n.endswith("." + k) or n.split(".")[-1] == k.split(".")[-1]][:4]
            hint = f"; did you mean {', '.join(close)}" if close else ""
            raise UsageError(f"unknown model parameter {k!r}{hint}")
        out[k] = Figure(_coerce(k, v), "assumed", "set on the command line (--set)")
    return out


def _split_set(s: str) -> tuple[str, str]:
    if "=" not in s:
        raise UsageError(f"--set takes name=value, got {s!r}")
    k, v = s.split("=", 1)
    return k.strip(), v.strip()


def _coerce(name: str, v: Any) -> float:
    if not isinstance(v, str):
        return float(v)
    if name.split(".")[-1] in SIZE_FIGURES:
        return float(parse_size(v, what=name, error=UsageError))
    try:
        num = float(v)
    except ValueError:
        raise UsageError(f"{name} needs a number, got {v!r}") from None
    if not np.isfinite(num) or num < 0:
        raise UsageError(f"{name} must be a finite number >= 0")
    return num
