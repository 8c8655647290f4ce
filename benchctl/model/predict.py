"""Predict each claim's change on a CPU: mechanisms, joint Monte Carlo, labelled SIMULATED.

How a prediction is built (docs/model.md has the long form):
1. Which mapping each arm gets is derived, not declared (model.arms): a CPU
   off the BBML2_NOABORT allow-list gets PTEs in both arms, so both arms are
   the same computation on the same draws and every change is exactly zero.
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

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from benchctl.errors import UsageError
from benchctl.model import montecarlo
from benchctl.model.arms import BASELINE_KERNEL, CANDIDATE_KERNEL, Model, evaluate, merge_details
from benchctl.model.pagetables import GiB
from benchctl.model.profiles import load_cpu, load_machine, load_workloads
from benchctl.model.targets import Target, load_targets

__all__ = [
    "Model",
    "Prepared",
    "claim_change",
    "mechanism",
    "predict",
    "prepare",
    "stated_range",
    "summarise",
]  # Model: simulate builds one (defined in arms)

FORMAT = "benchctl-model-prediction/2"
DEFAULT_DRAWS = 4000
CHUNK = 1000


def _pct(x: np.ndarray) -> np.ndarray:
    return 100.0 * x


def claim_change(
    model: Model, claim: Target, v: dict[str, np.ndarray], done: dict[str, Any] | None = None
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


def mechanism(model: Model, claim: Target, details: dict[str, Any], w: np.ndarray | None) -> tuple[str, dict[str, Any]]:
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


def stated_range(published: tuple[float, float]) -> tuple[float, float]:
    """What a published figure stands for: a number written with d decimals is any value that rounds
    to it, so +0.199 % is +0.1985..+0.1995 % (half a unit of its last digit each side; a range claim
    widens each end likewise)."""

    def half_unit(x: float) -> float:
        exponent = Decimal(repr(float(x))).normalize().as_tuple().exponent
        return 0.5 * 10.0 ** min(0, int(exponent)) if isinstance(exponent, int) else 0.0

    a, b = sorted(published)
    return a - half_unit(a), b + half_unit(b)


def _inside(published: tuple[float, float] | None, lo: float, hi: float) -> bool | None:
    if not published:
        return None
    a, b = stated_range(published)
    return a <= hi and b >= lo


@dataclass
class Prepared:
    """A model with its joint draws and the claims it predicts: what predict summarises and explain inverts."""

    model: Model
    claims: list[Target]
    claims_source: str
    v: dict[str, np.ndarray]
    weights: np.ndarray | None
    calibration: dict[str, Any] | None
    warnings: list[str]
    seed: int
    overrides: list[str]


def prepare(
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
) -> Prepared:
    """The model, its joint draws (weighted by a calibration when given) and the claims to predict."""
    if draws < 100:
        raise UsageError("--draws must be at least 100 (the 90 % interval needs them)")
    model = Model(
        load_cpu(cpu, cpu_file),
        load_workloads(workload_file),
        load_machine(machine_file),
        ram=ram,
        overrides=list(overrides or []),
    )
    claims, source = _claims(model, claims_file, workloads)
    v = model.draws(draws, seed)
    weights, cal = None, None
    warnings: list[str] = []
    if calibration:
        from benchctl.model.calibrate import calibration_weights

        weights, cal = calibration_weights(calibration, model, v)
        warnings += cal.get("warnings", [])
    return Prepared(model, claims, source, v, weights, cal, warnings, seed, list(overrides or []))


def predict(
    cpu: str,
    *,
    progress: Callable[[int, int], None] | None = None,
    shares_top: int = 5,
    **kw: Any,
) -> dict[str, Any]:
    """JSON-ready predictions for every claim (optionally only some workloads); `kw` as for prepare()."""
    return summarise(prepare(cpu, **kw), progress=progress, shares_top=shares_top)[0]


def summarise(
    p: Prepared, *, progress: Callable[[int, int], None] | None = None, shares_top: int = 5
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """predict's JSON-ready result, and each claim's per-draw change (explain reads both)."""
    model, v, weights = p.model, p.v, p.weights
    t0 = time.monotonic()
    changes, details = _changes(model, p.claims, v, progress)
    uncertain = {k: a for k, a in v.items() if np.ptp(a) > 0}
    preds = []
    for c in p.claims:
        y = changes[c.id]
        pred = _prediction(model, c, y, details[c.id], v, weights, p.seed)
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
        "ram_bytes": model.ram,
        "granule_bytes": 4096,
        "draws": len(next(iter(v.values()))),
        "seed": p.seed,
        "claims_source": p.claims_source,
        "overrides": p.overrides,
        "calibration": p.calibration,
        "warnings": p.warnings,
        "inside_count": sum(1 for q in preds if q["published_inside_interval"]),
        "elapsed_s": round(elapsed, 2),
        "predictions": preds,
    }, changes


def _claims(model: Model, claims_file, workloads: list[str] | None) -> tuple[list[Target], str]:
    """The claims the model can predict (of the given workloads only, when some are named)."""
    claims, source = load_targets(claims_file)
    if workloads:
        wanted = {w.lower() for w in workloads}
        known = set(model.workloads) | {"boot"}
        bad = wanted - known - {c.workload.lower() for c in claims}
        if bad:
            raise UsageError(f"unknown workload(s) {', '.join(sorted(bad))}; known: {', '.join(sorted(known))}")
        claims = [c for c in claims if c.kind in wanted or c.workload.lower() in wanted]
    return [c for c in claims if c.kind], source


def _changes(
    model: Model, claims: list[Target], v: dict[str, np.ndarray], progress: Callable[[int, int], None] | None
) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
    """Per claim: the change of every draw, and the per-draw details behind it (evaluated in chunks)."""
    draws = len(next(iter(v.values())))
    changes = {c.id: np.empty(draws) for c in claims}
    chunks: dict[str, list[dict[str, Any]]] = {c.id: [] for c in claims}
    kinds = {c.kind for c in claims}

    def run(s: slice) -> None:
        vs = {k: a[s] for k, a in v.items()}
        done = evaluate(model, kinds, vs)
        for c in claims:
            changes[c.id][s], d = claim_change(model, c, vs, done)
            chunks[c.id].append(d)

    montecarlo.in_chunks(draws, CHUNK, run, progress)
    return changes, {cid: merge_details(ch) for cid, ch in chunks.items()}


def _prediction(
    model: Model,
    c: Target,
    y: np.ndarray,
    details: dict[str, Any],
    v: dict[str, np.ndarray],
    weights: np.ndarray | None,
    seed: int,
) -> dict[str, Any]:
    """One claim's median and 90 % interval, the mechanism, and whether the published figure is inside."""
    s = montecarlo.summary(y, weights)
    mech, facts = mechanism(model, c, details, weights)
    pred: dict[str, Any] = {
        "claim": c.id,
        "workload": c.workload,
        "metric": c.metric,
        "published_pct": list(c.published) if c.published else None,
        "median_pct": round(s["median"], 6),
        "interval_pct": [round(s["p5"], 6), round(s["p95"], 6)],
        "published_stands_for_pct": list(stated_range(c.published)) if c.published else None,
        "mechanism": mech,
        "facts": facts,
    }
    lo, hi = s["p5"], s["p95"]
    if c.kind == "boot" and "free" in c.metric.lower() and model.blocks_in_candidate is not None:
        (lo, hi), boot = _boot_memory(details, v, weights, seed)
        pred.update(boot)
    pred["published_inside_interval"] = _inside(c.published, lo, hi)
    return pred


def _boot_memory(
    b: dict[str, Any], v: dict[str, np.ndarray], weights: np.ndarray | None, seed: int
) -> tuple[tuple[float, float], dict[str, Any]]:
    """The MemFree interval with one boot per arm, as published (boot-to-boot noise added), and the
    output's fields: that interval, MemTotal and MemFree in kB."""
    draws = len(b["free_pte"])
    noise = np.random.default_rng([seed, 7]).normal(0.0, 1.0, draws) * np.sqrt(2.0) * v["machine.boot_noise_sd"]
    one_boot = _pct((b["free_block"] + noise) / b["free_pte"] - 1.0)
    sb = montecarlo.summary(one_boot, weights)
    st = montecarlo.summary(_pct(b["total_block"] / b["total_pte"] - 1.0), weights)
    kb = montecarlo.summary((b["total_block"] - b["total_pte"]) / 1024, weights)
    fk = montecarlo.summary((b["free_block"] - b["free_pte"]) / 1024, weights)
    return (sb["p5"], sb["p95"]), {
        "one_boot_interval_pct": [round(sb["p5"], 6), round(sb["p95"], 6)],
        "interval_note": (
            "the published figures are one boot per arm: the comparison uses the "
            "interval with boot-to-boot noise (machine.boot_noise_sd)"
        ),
        "mem_total": {
            "median_pct": round(st["median"], 6),
            "interval_pct": [round(st["p5"], 6), round(st["p95"], 6)],
            "median_kb": round(kb["median"]),
            "interval_kb": [round(kb["p5"]), round(kb["p95"])],
        },
        "mem_free_kb": {"median": round(fk["median"]), "interval": [round(fk["p5"]), round(fk["p95"])]},
    }
