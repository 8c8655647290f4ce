"""Predict each claim's change on a CPU: mechanisms, joint Monte Carlo, labelled SIMULATED.

How a prediction is built (docs/model.md has the long form):
1. Which mapping each arm gets is derived, not declared: the baseline is the
   kernel without the series (v6.17, rodata=full: PTEs), the candidate the
   kernel with it (v6.18, default rodata): benchctl.env.arm64.expected decides from the
   profile's MIDR through the BBML2_NOABORT allow-list (benchctl.env.arm64.midr). A CPU
   off the list gets PTEs in both arms, so both arms are the same computation
   on the same draws and every change is exactly zero.
2. Every uncertain figure (data/cpus.toml, workloads.toml, machine.toml) is
   drawn jointly (montecarlo.draw); the mechanisms (costmodel) run on all
   draws at once, both arms on the same draws.
3. Boot memory: exact page-table arithmetic (pagetables) over the mapped RAM
   of each draw; MemTotal and MemFree changes separately (memblock tables
   lower both alike; splits after boot lower MemFree only); the one-boot
   interval adds the boot-to-boot noise of a single boot per arm.
4. memcached: time per request, walks and MPKI; P99 through an M/M/1 queue at
   a fixed arrival rate (utilisation u in the PTE arm): p99 ~ C / (1 - u C /
   C_pte). Storage paths: the throughput of the slowest pipeline stage (with
   dm-crypt's writer free until dirty throttling starts).
5. Median and 90 % interval (5th..95th percentile) of each change; with a
   calibration the draws are weighted by the tlb-probe likelihood.
Nothing is fitted to the published claims: they are printed next to the
prediction, never read by the model.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchctl.errors import UsageError
from benchctl.model import costmodel, montecarlo
from benchctl.model.pagetables import STRUCT_PAGE, GiB, KiB, compare
from benchctl.model.profiles import (
    CpuProfile,
    Figure,
    WorkloadProfile,
    apply_overrides,
    load_cpu,
    load_machine,
    load_workloads,
)
from benchctl.model.targets import Claim, load_claims

FORMAT = "benchctl-model-prediction/2"
DEFAULT_DRAWS = 4000
CHUNK = 1000
BASELINE_KERNEL = "6.17.0"  # the series reverted: rodata=full maps the linear map with PTEs
CANDIDATE_KERNEL = "6.18.0"  # the series: blocks on an allow-listed CPU


@dataclass
class ArmMapping:
    state: str  # "block" or "pte"
    reason: str


def derived_mapping(cpu: CpuProfile, kernel: str) -> ArmMapping:
    """What the kernel does with this CPU's linear map (allow-list + force_pte_mapping rules)."""
    from benchctl.env.arm64.expected import expected_linear_map, parse_release, rodata
    from benchctl.env.arm64.midr import Midr, is_bbml2_noabort

    rel = parse_release(kernel)
    bbml2 = is_bbml2_noabort(Midr(cpu.midr_value))
    ro = rodata(rel, {}, {"CONFIG_RODATA_FULL_DEFAULT_ENABLED": "y"})
    exp = expected_linear_map(
        rel=rel, bbml2=bbml2, rodata_effective=ro.effective, kfence_late=False, debug_pagealloc_on=False
    )
    return ArmMapping(exp.state, exp.reason)


@dataclass
class Model:
    """A CPU profile, workload profiles and machine figures, with their joint draws."""

    cpu: CpuProfile
    workloads: dict[str, WorkloadProfile]
    machine: dict[str, Figure]
    ram: int = 256 * GiB
    overrides: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        figs: dict[str, Figure] = dict(self.machine)
        figs.update(self.cpu.figures)
        for w in self.workloads.values():
            figs.update(w.figures)
        self.figures = apply_overrides(figs, self.overrides)
        self.arms = {
            "pte": derived_mapping(self.cpu, BASELINE_KERNEL),
            "block": derived_mapping(self.cpu, CANDIDATE_KERNEL),
        }

    @property
    def blocks_in_candidate(self) -> bool:
        return self.arms["block"].state == "block"

    def mapping(self, arm: str) -> str:
        return self.arms[arm].state

    def draws(self, n: int, seed: int) -> dict[str, np.ndarray]:
        return montecarlo.draw(self.figures, n, seed)

    # -- boot memory -------------------------------------------------------------------------------------------
    def boot(self, v: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """MemTotal and MemFree per arm (bytes, without noise) and the changes, per draw.

        The exact arithmetic is done on grids (mapped RAM in 2 MiB steps over the
        assumption's range, permission changes on a logarithmic grid) and
        interpolated: the table bytes are piecewise linear in both.
        """
        kfence = int(self.figures["machine.kfence_pool"].value)
        kimg = int(self.figures["machine.kernel_image"].quantile(0.5))
        f = self.figures["machine.unmapped_fraction"]
        lo_u, hi_u = f.quantile(0.0), f.quantile(1.0)
        mapped = np.floor(self.ram * (1.0 - v["machine.unmapped_fraction"]) / (2 << 20)) * (2 << 20)
        pf = self.figures["machine.perm_changes"]
        top = float(max(2.0, pf.quantile(1.0) if pf.uncertain else float(np.max(v["machine.perm_changes"]))))
        grid, tables, perm_grid, split = _boot_tables(self.ram, lo_u, hi_u, kimg, kfence, self.blocks_in_candidate, top)
        pte_tables = np.interp(mapped, grid, tables[:, 0])
        block_tables = np.interp(mapped, grid, tables[:, 1])
        splits = np.interp(v["machine.perm_changes"], perm_grid, split)
        memmap = mapped / (4 * KiB) * STRUCT_PAGE
        total = {
            "pte": mapped - memmap - v["machine.kernel_image"] - pte_tables,
            "block": mapped - memmap - v["machine.kernel_image"] - block_tables,
        }
        free = {
            "pte": total["pte"] - v["machine.used_after_boot"],
            "block": total["block"] - v["machine.used_after_boot"] - splits,
        }
        return {
            "mapped": mapped,
            "pte_tables": pte_tables,
            "block_tables": block_tables,
            "splits": splits,
            "total_pte": total["pte"],
            "total_block": total["block"],
            "free_pte": free["pte"],
            "free_block": free["block"],
        }

    # -- workloads ---------------------------------------------------------------------------------------------
    def workload(self, key: str, v: dict[str, np.ndarray]) -> dict[str, costmodel.ArmCost]:
        wl = self.workloads[key]
        shares = costmodel.block_shares(
            self.ram, v["machine.perm_changes"], int(self.figures["machine.kfence_pool"].value)
        )
        pte = costmodel.workload_cost(self.cpu, wl, v, "pte", self.ram, shares)
        if self.blocks_in_candidate:
            block = costmodel.workload_cost(self.cpu, wl, v, "block", self.ram, shares)
        else:
            block = pte  # off the allow-list: the candidate kernel maps with PTEs too
        return {"pte": pte, "block": block}


@functools.lru_cache(maxsize=16)
def _boot_tables(
    ram: int, lo_u: float, hi_u: float, kimg: int, kfence: int, allowed: bool, top: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    step = 2 << 20
    lo_m, hi_m = int(ram * (1 - hi_u)) // step * step, int(ram * (1 - lo_u)) // step * step
    grid = np.unique(np.linspace(lo_m, hi_m, 9) // step * step).astype(np.int64)
    tables = np.array(
        [
            [
                compare(int(g), 4 * KiB, kernel_image=kimg, kfence_pool=kfence, block_allowed=allowed)[k]
                for k in ("pte_arm_bytes", "block_arm_bytes")
            ]
            for g in grid
        ],
        float,
    )
    perm_grid = np.unique(np.concatenate([[0.0], np.round(np.geomspace(1, top, 10))]))
    mid = int(grid[len(grid) // 2])
    base = compare(mid, 4 * KiB, kernel_image=kimg, kfence_pool=kfence, block_allowed=allowed)["block_arm_bytes"]
    split = np.array(
        [
            compare(mid, 4 * KiB, kernel_image=kimg, kfence_pool=kfence, perm_changes=int(p), block_allowed=allowed)[
                "block_arm_bytes"
            ]
            - base
            for p in perm_grid
        ],
        float,
    )
    return grid, tables, perm_grid, split


def _pct(x: np.ndarray) -> np.ndarray:
    return 100.0 * x


def evaluate(model: Model, kinds: set[str], v: dict[str, np.ndarray]) -> dict[str, Any]:
    """Each needed workload (and boot memory) once for these draws."""
    out: dict[str, Any] = {}
    for kind in sorted(kinds):
        if kind == "boot":
            out[kind] = model.boot(v)
        elif kind in model.workloads:
            out[kind] = {"arms": model.workload(kind, v)}
    return out


def claim_change(
    model: Model, claim: Claim, v: dict[str, np.ndarray], done: dict[str, Any] | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Per-draw change (percent) of one claim's metric, and per-draw details for the mechanism line."""
    m = claim.metric.lower()
    if claim.kind != "boot" and claim.kind not in model.workloads:
        raise UsageError(f"claim {claim.id}: no workload profile for {claim.workload!r}")
    done = done if done is not None else evaluate(model, {claim.kind}, v)
    if claim.kind == "boot":
        b = done["boot"]
        if "total" in m:
            return _pct(b["total_block"] / b["total_pte"] - 1.0), b
        return _pct(b["free_block"] / b["free_pte"] - 1.0), b
    details = done[claim.kind]
    p, b = details["arms"]["pte"], details["arms"]["block"]
    if "mpki" in m or "tlb" in m:
        if p.mpki is None:
            raise UsageError(f"claim {claim.id}: the {claim.kind} model has no MPKI")
        return _pct(b.mpki / p.mpki - 1.0), details
    if "latency" in m or m.startswith(("p99", "p50", "p999", "clat")):
        if p.time_ns is None:
            return _pct(p.throughput / b.throughput - 1.0), details  # storage latency follows 1/IOPS
        u = v[f"workload.{claim.kind}.utilization"]
        ratio = b.time_ns / p.time_ns
        return _pct(ratio * (1 - u) / (1 - u * ratio) - 1.0), details
    return _pct(b.throughput / p.throughput - 1.0), details


def mechanism(model: Model, claim: Claim, details: dict[str, Any], w: np.ndarray | None) -> tuple[str, dict[str, Any]]:
    """One sentence naming what moves the number, with the medians behind it."""

    def med(x: Any) -> float:
        return float(montecarlo.weighted_quantile(np.asarray(x, float), 0.5, w)[0])

    facts: dict[str, Any]
    if not model.blocks_in_candidate:
        return (
            f"none: {model.cpu.name} is not on the BBML2_NOABORT allow-list, so the patched kernel "
            "maps the linear map with PTEs as the baseline does"
        ), {}
    if claim.kind == "boot":
        saved = med(details["pte_tables"] - details["block_tables"])
        facts = {
            "pte_tables_kb": med(details["pte_tables"]) / 1024,
            "block_tables_kb": med(details["block_tables"]) / 1024,
            "splits_kb": med(details["splits"]) / 1024,
            "mapped_gib": med(details["mapped"]) / GiB,
        }
        return (
            f"linear-map PTE tables allocated from memblock ({saved / 2**20:.0f} MiB for "
            f"{facts['mapped_gib']:.1f} GiB mapped) are not needed; later splits cost "
            f"{facts['splits_kb'] / 1024:.1f} MiB of MemFree"
        ), facts
    arms = details["arms"]
    p, b = arms["pte"], arms["block"]
    wl = model.workloads[claim.kind]
    if wl.kind == "request":
        sc_p, sc_b = next(iter(p.stages.values())), next(iter(b.stages.values()))
        facts = {
            "walks_per_op": [med(sc_p.walks), med(sc_b.walks)],
            "linear_walks_per_op": [med(sc_p.linear_walks), med(sc_b.linear_walks)],
            "walk_share_pte": med(sc_p.walk_ns / sc_p.time_ns),
            "mpki": [med(p.mpki), med(b.mpki)],
        }
        return (
            f"linear-map TLB walks per request {facts['linear_walks_per_op'][0]:.2f} -> "
            f"{facts['linear_walks_per_op'][1]:.2f} (slab and skb pages scattered over RAM); walks are "
            f"{100 * facts['walk_share_pte']:.1f} % of a request's time on PTEs"
        ), facts
    names = [s.name for s in wl.stages]
    counts = {n: sum(1 for s in p.bottleneck if s == n) for n in names}
    neck = max(counts, key=lambda n: counts[n])
    sp, sb = p.stages[neck], b.stages[neck]
    facts = {
        "bottleneck_stage": neck,
        "bottleneck_share": counts[neck] / len(p.bottleneck),
        "time_ns_per_op": [med(sp.time_ns), med(sb.time_ns)],
        "walk_ns_per_op": [med(sp.walk_ns), med(sb.walk_ns)],
        "restart_ns_per_op": med(sp.restart_ns),
        "walks_per_op": [med(sp.walks), med(sb.walks)],
    }
    parts = []
    if facts["restart_ns_per_op"] > 0.05 * facts["time_ns_per_op"][1]:
        parts.append(f"prefetch restarts at every 4 KiB translation boundary ({facts['restart_ns_per_op']:.0f} ns/op)")
    parts.append(
        f"page walks {facts['walks_per_op'][0]:.2f} -> {facts['walks_per_op'][1]:.2f} per 4 KiB "
        f"({facts['walk_ns_per_op'][0]:.0f} -> {facts['walk_ns_per_op'][1]:.0f} ns)"
    )
    return (
        f"stage '{neck}' limits throughput in {100 * facts['bottleneck_share']:.0f} % of draws: " + "; ".join(parts)
    ), facts


def _inside(published: tuple[float, float] | None, lo: float, hi: float) -> bool | None:
    if not published:
        return None
    a, b = sorted(published)
    return a <= hi and b >= lo


def predict(
    cpu: str,
    *,
    ram: int = 256 * GiB,
    workloads: list[str] | None = None,
    overrides: list[str] | None = None,
    cpu_file=None,
    workload_file=None,
    machine_file=None,
    claims_file=None,
    seed: int = 1,
    draws: int = DEFAULT_DRAWS,
    calibration: list[Path] | None = None,
    progress: Callable[[int, int], None] | None = None,
    shares_top: int = 5,
) -> dict[str, Any]:
    """JSON-ready predictions for every claim (optionally only some workloads)."""
    if draws < 100:
        raise UsageError("--draws must be at least 100 (the 90 % interval needs them)")
    model = Model(
        load_cpu(cpu, cpu_file),
        load_workloads(workload_file),
        load_machine(machine_file),
        ram=ram,
        overrides=list(overrides or []),
    )
    claims, source = load_claims(claims_file)
    if workloads:
        wanted = {w.lower() for w in workloads}
        known = set(model.workloads) | {"boot"}
        bad = wanted - known - {c.workload.lower() for c in claims}
        if bad:
            raise UsageError(f"unknown workload(s) {', '.join(sorted(bad))}; known: {', '.join(sorted(known))}")
        claims = [c for c in claims if c.kind in wanted or c.workload.lower() in wanted]
    claims = [c for c in claims if c.kind]
    v = model.draws(draws, seed)
    weights, cal = None, None
    warnings: list[str] = []
    if calibration:
        from benchctl.model.calibrate import calibration_weights

        weights, cal = calibration_weights(calibration, model, v)
        warnings += cal.get("warnings", [])
    changes = {c.id: np.empty(draws) for c in claims}
    chunks: dict[str, list[dict[str, Any]]] = {c.id: [] for c in claims}
    kinds = {c.kind for c in claims}
    t0 = time.monotonic()

    def run(s: slice) -> None:
        vs = {k: a[s] for k, a in v.items()}
        done = evaluate(model, kinds, vs)
        for c in claims:
            changes[c.id][s], d = claim_change(model, c, vs, done)
            chunks[c.id].append(d)

    montecarlo.in_chunks(draws, CHUNK, run, progress)
    extra = {cid: _merge(ch) for cid, ch in chunks.items()}
    preds = []
    uncertain = {k: a for k, a in v.items() if np.ptp(a) > 0}
    for c in claims:
        y = changes[c.id]
        s = montecarlo.summary(y, weights)
        mech, facts = mechanism(model, c, extra[c.id], weights)
        pred: dict[str, Any] = {
            "claim": c.id,
            "workload": c.workload,
            "metric": c.metric,
            "published_pct": list(c.published) if c.published else None,
            "median_pct": round(s["median"], 4),
            "interval_pct": [round(s["p5"], 4), round(s["p95"], 4)],
            "mechanism": mech,
            "facts": facts,
        }
        lo, hi = s["p5"], s["p95"]
        if c.kind == "boot" and "free" in c.metric.lower() and model.blocks_in_candidate is not None:
            b = extra[c.id]
            noise = np.random.default_rng([seed, 7]).normal(0.0, 1.0, draws) * np.sqrt(2.0) * v["machine.boot_noise_sd"]
            one_boot = _pct((b["free_block"] + noise) / b["free_pte"] - 1.0)
            sb = montecarlo.summary(one_boot, weights)
            pred["one_boot_interval_pct"] = [round(sb["p5"], 4), round(sb["p95"], 4)]
            pred["interval_note"] = (
                "the published figures are one boot per arm: the comparison uses the "
                "interval with boot-to-boot noise (machine.boot_noise_sd)"
            )
            lo, hi = sb["p5"], sb["p95"]
            mt = _pct(b["total_block"] / b["total_pte"] - 1.0)
            st = montecarlo.summary(mt, weights)
            kb = montecarlo.summary((b["total_block"] - b["total_pte"]) / 1024, weights)
            pred["mem_total"] = {
                "median_pct": round(st["median"], 4),
                "interval_pct": [round(st["p5"], 4), round(st["p95"], 4)],
                "median_kb": round(kb["median"]),
                "interval_kb": [round(kb["p5"]), round(kb["p95"])],
            }
            fk = montecarlo.summary((b["free_block"] - b["free_pte"]) / 1024, weights)
            pred["mem_free_kb"] = {"median": round(fk["median"]), "interval": [round(fk["p5"]), round(fk["p95"])]}
        pred["published_inside_interval"] = _inside(c.published, lo, hi)
        shares = montecarlo.variance_shares(y, uncertain, weights) if np.ptp(y) > 0 else {}
        top = [kv for kv in sorted(shares.items(), key=lambda kv: -kv[1]) if kv[1] >= 0.01][:shares_top]
        pred["top_assumptions"] = [{"name": k, "variance_share": round(s_, 3)} for k, s_ in top]
        preds.append(pred)
    elapsed = time.monotonic() - t0
    return {
        "format": FORMAT,
        "simulated": True,
        "kind": "model prediction (SIMULATED, not a measurement)",
        "cpu": model.cpu.key,
        "cpu_name": model.cpu.name,
        "midr": str(model.cpu.midr.value),
        "arms": {
            a: {"kernel": k, "linear_map": model.arms[a].state, "why": model.arms[a].reason}
            for a, k in (("pte", BASELINE_KERNEL), ("block", CANDIDATE_KERNEL))
        },
        "on_allow_list": model.blocks_in_candidate,
        "ram_bytes": ram,
        "granule_bytes": 4096,
        "draws": draws,
        "seed": seed,
        "claims_source": source,
        "overrides": list(overrides or []),
        "calibration": cal,
        "warnings": warnings,
        "inside_count": sum(1 for p in preds if p["published_inside_interval"]),
        "elapsed_s": round(elapsed, 2),
        "predictions": preds,
    }


def _merge(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Details of all chunks as one: arrays concatenated, arm costs merged field by field."""
    if not chunks:
        return {}
    first = chunks[0]
    out: dict[str, Any] = {}
    for k, val in first.items():
        if isinstance(val, np.ndarray):
            out[k] = np.concatenate([c[k] for c in chunks])
        elif k == "arms":
            out[k] = {arm: _merge_arm([c[k][arm] for c in chunks]) for arm in val}
    return out


def _merge_arm(parts: list[costmodel.ArmCost]) -> costmodel.ArmCost:
    def cat(xs: list) -> np.ndarray | None:
        return None if xs[0] is None else np.concatenate(xs)

    stages = {}
    for name in parts[0].stages:
        sc = [p.stages[name] for p in parts]
        stages[name] = costmodel.StageCost(
            *(
                np.concatenate([getattr(s, f) for s in sc])
                for f in ("time_ns", "walks", "linear_walks", "walk_ns", "restart_ns")
            )
        )
    return costmodel.ArmCost(
        stages,
        np.concatenate([p.throughput for p in parts]),
        [s for p in parts for s in p.bottleneck],
        cat([p.mpki for p in parts]),
        cat([p.time_ns for p in parts]),
    )


def markdown_table(result: dict[str, Any]) -> str:
    """The claims table of docs/model.md, generated from predict's output."""
    rows = [
        f"Predictions for {result['cpu_name']} ({result['ram_bytes'] >> 30} GiB RAM, {result['draws']} draws, "
        f"seed {result['seed']}), SIMULATED:",
        "",
        "| claim | published | predicted median [90 % interval] | inside | mechanism "
        "| main assumptions (variance share) |",
        "|---|---|---|---|---|---|",
    ]
    for p in result["predictions"]:
        pub = p["published_pct"]
        pub_s = "-" if not pub else (f"{pub[0]:+.3g} %" if pub[0] == pub[1] else f"{pub[0]:+.0f} to {pub[1]:+.0f} %")
        lo, hi = p.get("one_boot_interval_pct") or p["interval_pct"]
        pred = f"{p['median_pct']:+.2f} % [{lo:+.2f}, {hi:+.2f}]"
        inside = {True: "yes", False: "no", None: "-"}[p["published_inside_interval"]]
        names = (
            ", ".join(
                f"`{a['name'].replace('workload.', '')}` ({a['variance_share']:.0%})" for a in p["top_assumptions"][:3]
            )
            or "none (exact or off the allow-list)"
        )
        rows.append(f"| {p['claim']} | {pub_s} | {pred} | {inside} | {p['mechanism']} | {names} |")
    return "\n".join(rows)
