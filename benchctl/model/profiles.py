"""CPU and workload profiles: load, validate and flatten the data files.

Profiles are data (data/cpus.toml, data/workloads.toml) so that a reviewer can
see, and change, every number the model rests on. Each number is a Figure
saying whether it is published or assumed and where it comes from; the model
itself only ever sees a flat {dotted name: value} dict, which is what --set,
sensitivity sweeps and calibrate change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from benchctl.documents import load_toml
from benchctl.errors import InputError, UsageError
from benchctl.sizes import parse_size

STATUSES = ("published", "assumed")
CPU_FIELDS = ("name", "midr", "bbml2_noabort", "freq_ghz", "walk_cycles", "mem_latency_ns", "tlb")
TLB_FIELDS = ("name", "entries", "ways", "page_sizes")
WORKLOAD_FIELDS = ("description", "headline", "kernel_instructions_per_op", "kernel_cycles_per_op",
                   "user_cycles_per_op", "other_kernel_walks_pki", "walk_dram_fraction", "utilization", "regions")
REGION_FIELDS = ("name", "kind", "footprint", "pages_per_op", "zipf")
REGION_KINDS = ("linear", "user", "fixed")


@dataclass(frozen=True)
class Figure:
    """One number (or list) with its provenance and, if assumed, its range."""

    value: Any
    status: str
    source: str
    low: Any = None
    high: Any = None

    @property
    def sweepable(self) -> bool:
        return self.status == "assumed" and self.low is not None and self.high is not None and self.low != self.high


# Model-wide assumptions, not tied to a CPU or a workload.
MODEL_FIGURES: dict[str, Figure] = {
    "model.perm_changes": Figure(200, "assumed", "4 KiB linear-map permission changes since boot (module and BPF "
                                 "text, vmalloc VM_FLUSH_RESET_PERMS, secretmem), each splitting a block not split "
                                 "before (worst case spread); about a hundred modules at boot", 0, 5000),
    "model.kfence_pool": Figure(2 * 1024 * 1024, "assumed", "KFENCE pool (255 objects = 2 MiB), PTE-mapped in the block arm"),
    "model.usable_ram_fraction": Figure(0.967, "assumed", "MemTotal/installed RAM: 247.5 of 256 GiB (domain.md estimate)",
                                        0.95, 1.0),
    "model.ops": Figure(6000, "assumed", "operations per simulated trace (more = less sampling noise)"),
}


def _data_path(name: str) -> Path:
    return Path(str(resources.files("benchctl.model") / "data" / name))


def _figure(raw: Any, where: str, path: Path, *, size: bool = False) -> Figure:
    if not isinstance(raw, dict) or "value" not in raw:
        raise InputError(f"{where}: expected {{value = ..., status = ..., source = ...}}", path)
    status = raw.get("status")
    if status not in STATUSES:
        raise InputError(f"{where}: status must be 'published' or 'assumed', got {status!r}", path)
    if not raw.get("source"):
        raise InputError(f"{where}: every figure needs a source note", path)
    conv = (lambda v: parse_size(v, what=where)) if size else (lambda v: v)
    try:
        value = conv(raw["value"])
        low = conv(raw["low"]) if "low" in raw else None
        high = conv(raw["high"]) if "high" in raw else None
    except UsageError as e:
        raise InputError(str(e), path)
    if low is not None and high is not None and not (low <= value <= high if not isinstance(value, str) else True):
        raise InputError(f"{where}: value {raw['value']!r} is outside low..high", path)
    return Figure(value, status, raw["source"], low, high)


def _require(table: dict, fields: tuple[str, ...], where: str, path: Path) -> None:
    missing = [f for f in fields if f not in table]
    if missing:
        raise InputError(f"{where}: missing field(s) {', '.join(missing)}", path)


@dataclass
class CpuProfile:
    key: str
    name: str
    midr: Figure
    bbml2_noabort: Figure
    figures: dict[str, Figure]                  # flat numeric figures, "cpu...."
    tlb_names: list[str]
    page_sizes: dict[str, Figure]               # per TLB level
    fully_associative: dict[str, bool]

    @property
    def on_allow_list(self) -> bool:
        return bool(self.bbml2_noabort.value)

    def tlb_levels(self, values: dict[str, Any]):
        from benchctl.model.tlbsim import TLBLevel

        levels = []
        for n in self.tlb_names:
            entries = int(values[f"cpu.tlb.{n}.entries"])
            ways = entries if self.fully_associative[n] else int(values[f"cpu.tlb.{n}.ways"])
            try:
                levels.append(TLBLevel(n, entries, ways, tuple(parse_size(s) for s in self.page_sizes[n].value)))
            except ValueError as e:
                raise UsageError(f"CPU profile {self.key}: {e}")
        return levels


def cpu_names(path: Path | None = None) -> list[str]:
    return sorted(load_toml(path or _data_path("cpus.toml"), "profiles file"))


def load_cpu(key: str, path: Path | None = None) -> CpuProfile:
    """The profile `key`; InputError if the file lacks it or a field is missing."""
    path = Path(path) if path else _data_path("cpus.toml")
    doc = load_toml(path, "profiles file")
    if key not in doc:
        raise InputError(f"unknown CPU profile {key!r}; known: {', '.join(sorted(doc))}", path)
    p = doc[key]
    if not isinstance(p, dict):
        raise InputError(f"profile {key}: not a table", path)
    _require(p, CPU_FIELDS, f"profile {key}", path)
    figures: dict[str, Figure] = {}
    for f in ("freq_ghz", "walk_cycles", "mem_latency_ns"):
        figures[f"cpu.{f}"] = _figure(p[f], f"profile {key}: {f}", path)
        if not isinstance(figures[f"cpu.{f}"].value, (int, float)):
            raise InputError(f"profile {key}: {f} must be a number", path)
    tlb = p["tlb"]
    if not isinstance(tlb, list) or not tlb:
        raise InputError(f"profile {key}: tlb must list at least one level ([[{key}.tlb]])", path)
    names, sizes, full = [], {}, {}
    for i, lv in enumerate(tlb):
        _require(lv, TLB_FIELDS, f"profile {key}: tlb level {i + 1}", path)
        n = str(lv["name"])
        names.append(n)
        figures[f"cpu.tlb.{n}.entries"] = _figure(lv["entries"], f"profile {key}: tlb {n} entries", path)
        ways = _figure(lv["ways"], f"profile {key}: tlb {n} ways", path)
        full[n] = ways.value == "full"
        if not full[n]:
            figures[f"cpu.tlb.{n}.ways"] = ways
        sizes[n] = _figure(lv["page_sizes"], f"profile {key}: tlb {n} page_sizes", path)
        try:
            [parse_size(s) for s in sizes[n].value]
        except (UsageError, TypeError):
            raise InputError(f"profile {key}: tlb {n} page_sizes must be a list like [\"4K\", \"2M\"]", path)
    return CpuProfile(key, str(p["name"]), _figure(p["midr"], f"profile {key}: midr", path),
                      _figure(p["bbml2_noabort"], f"profile {key}: bbml2_noabort", path), figures, names, sizes, full)


@dataclass
class Region:
    name: str
    kind: str
    description: str
    page_size: int | None


@dataclass
class WorkloadProfile:
    key: str
    description: str
    headline: list[str]
    regions: list[Region]
    figures: dict[str, Figure] = field(default_factory=dict)  # "workload.<key>...."


def load_workloads(path: Path | None = None) -> dict[str, WorkloadProfile]:
    path = Path(path) if path else _data_path("workloads.toml")
    doc = load_toml(path, "profiles file")
    out = {}
    for key, w in doc.items():
        if not isinstance(w, dict):
            raise InputError(f"workload {key}: not a table", path)
        _require(w, WORKLOAD_FIELDS, f"workload {key}", path)
        figs: dict[str, Figure] = {}
        for f in WORKLOAD_FIELDS[2:-1]:
            figs[f"workload.{key}.{f}"] = _figure(w[f], f"workload {key}: {f}", path)
        regions = []
        for i, r in enumerate(w["regions"]):
            _require(r, REGION_FIELDS, f"workload {key}: region {i + 1}", path)
            if r["kind"] not in REGION_KINDS:
                raise InputError(f"workload {key}: region {r['name']}: kind must be one of {', '.join(REGION_KINDS)}", path)
            if r["kind"] != "linear" and "page_size" not in r:
                raise InputError(f"workload {key}: region {r['name']}: a {r['kind']} region needs page_size", path)
            ps = parse_size(r["page_size"]) if "page_size" in r else None
            regions.append(Region(str(r["name"]), r["kind"], str(r.get("description", "")), ps))
            base = f"workload.{key}.regions.{r['name']}"
            figs[f"{base}.footprint"] = _figure(r["footprint"], f"workload {key}: region {r['name']}: footprint", path, size=True)
            figs[f"{base}.pages_per_op"] = _figure(r["pages_per_op"], f"workload {key}: region {r['name']}: pages_per_op", path)
            figs[f"{base}.zipf"] = _figure(r["zipf"], f"workload {key}: region {r['name']}: zipf", path)
        out[key] = WorkloadProfile(key, str(w["description"]), list(w["headline"]), regions, figs)
    return out


def apply_overrides(figures: dict[str, Figure], overrides: list[str] | dict[str, Any]) -> dict[str, Any]:
    """Values of `figures` with `--set name=value` overrides applied (sizes accepted)."""
    values = {k: f.value for k, f in figures.items()}
    items = overrides.items() if isinstance(overrides, dict) else [_split_set(s) for s in overrides]
    for k, v in items:
        if k not in figures:
            close = [n for n in figures if n.endswith("." + k) or n.split(".")[-1] == k.split(".")[-1]][:5]
            hint = f"; did you mean {', '.join(close)}" if close else ""
            raise UsageError(f"unknown model parameter {k!r}{hint}")
        values[k] = _coerce(k, v, figures[k].value)
    return values


def _split_set(s: str) -> tuple[str, str]:
    if "=" not in s:
        raise UsageError(f"--set takes name=value, got {s!r}")
    k, v = s.split("=", 1)
    return k.strip(), v.strip()


def _coerce(name: str, v: Any, like: Any) -> Any:
    if not isinstance(v, str):
        return v
    if name.endswith(".footprint") or name == "model.kfence_pool":
        return parse_size(v, what=name, error=UsageError)
    try:
        num = float(v)
    except ValueError:
        raise UsageError(f"{name} needs a number, got {v!r}")
    if num < 0:
        raise UsageError(f"{name} must not be negative")
    return int(num) if isinstance(like, int) and num == int(num) else num
