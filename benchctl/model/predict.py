"""Predict each claim's change from the profiles: a parametric model, labelled SIMULATED.

How a prediction is built (docs/model.md has the long form):
1. Trace: the workload profile's pages per op, the same pages in both arms
   (traces.py); linear-map pages get 4 KiB entries in the PTE arm and the
   block arm's entry sizes (after the assumed splits) in the other; a CPU off
   the BBML2_NOABORT allow-list maps both arms with PTEs, so both arms are the
   same trace and every change is exactly zero.
2. Walks per op: the fast TLB simulator (tlbsim.simulate_fast) over the
   CPU's data-side TLB levels, after a warm-up third of the trace.
3. Kernel walk MPKI = 1000 x (simulated walks + other_kernel_walks_pki x
   kernel instructions/1000) / kernel instructions per op.
4. Cycles per op = kernel + user cycles + simulated walks x walk cost, with
   walk cost = walk_cycles + walk_dram_fraction x mem_latency_ns x freq_ghz.
   Throughput metrics (ops/s, IOPS, bandwidth) change by C_pte/C_block - 1.
   P99 latency: M/M/1 at a fixed arrival rate, utilisation u in the PTE arm:
   p99 ~ C/(1 - u C/C_pte), so change = C_b(1-u) / (C_p(1 - u C_b/C_p)) - 1.
5. Boot memory: the exact page-table saving (pagetables.compare) over
   MemFree (installed RAM x usable fraction x free fraction).
6. Range: every assumed figure with a low/high is moved to each end one at a
   time (the others at their values); the range is the min..max of those
   predictions and the nominal one. It is not a joint worst case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from benchctl.errors import UsageError
from benchctl.model.targets import Claim, load_claims
from benchctl.model.pagetables import GiB, KiB, compare
from benchctl.model.profiles import MODEL_FIGURES, CpuProfile, Figure, WorkloadProfile, apply_overrides, load_cpu, load_workloads
from benchctl.model.tlbsim import simulate_fast
from benchctl.model.traces import make_trace

SIM_PREFIXES = ("cpu.tlb.", "model.perm_changes", "model.kfence_pool", "model.ops")
FREE_FRACTION = Figure(0.984, "assumed", "MemFree/MemTotal right after boot (254821700/258988984 on the published machine)",
                       0.95, 0.995)
STRUCTURAL = [
    "Only data-side TLB levels are simulated; kernel text and other mappings are the same in both arms.",
    "Pages are drawn independently per op (independent reference model); replacement is LRU per set.",
    "Linear-map pages are scattered uniformly over RAM; one bank aligned to 1 GiB; VA_BITS=48.",
    "Walk cost is the same in both arms (block-arm walks are shorter in reality: conservative).",
    "Throughput is CPU-bound: time per op = cycles per op / frequency.",
]


@dataclass
class Arm:
    walks_per_op: float        # simulated data walks (linear map + user + fixed regions)
    linear_walks_per_op: float
    mpki: float
    cycles_per_op: float
    kinst_per_op: float


@dataclass
class Model:
    """A CPU profile + workload profiles + overrides, with simulation results cached."""

    cpu: CpuProfile
    workloads: dict[str, WorkloadProfile]
    ram: int = 256 * GiB
    granule: int = 4 * KiB
    seed: int = 1
    overrides: list[str] = field(default_factory=list)
    _cache: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.figures: dict[str, Figure] = dict(MODEL_FIGURES)
        self.figures["model.free_fraction"] = FREE_FRACTION
        self.figures.update(self.cpu.figures)
        for w in self.workloads.values():
            self.figures.update(w.figures)
        self.values = apply_overrides(self.figures, self.overrides)

    # -- one workload, one arm -------------------------------------------------
    def _sim(self, wl: WorkloadProfile, values: dict[str, Any], arm: str) -> tuple[float, float]:
        if arm == "block" and not self.cpu.on_allow_list:
            arm = "pte"  # off the allow-list the patched kernel maps with PTEs
        key = (wl.key, arm, tuple(sorted((k, v) for k, v in values.items()
                                         if k.startswith(SIM_PREFIXES) or k.startswith(f"workload.{wl.key}.regions."))))
        if key not in self._cache:
            n_ops = int(values["model.ops"])
            addrs, sizes, masks = make_trace(wl, values, ram=self.ram, granule=self.granule, arm=arm,
                                             n_ops=n_ops, seed=self.seed)
            per_op = len(addrs) // n_ops
            warm_ops = n_ops // 3
            levels = self.cpu.tlb_levels(values)
            total = simulate_fast(addrs, sizes, levels, warmup=warm_ops * per_op)
            lin_walks = float(total.walk_prob[masks["linear"]].sum())
            measured_ops = n_ops - warm_ops
            self._cache[key] = (total.walks / measured_ops, lin_walks / measured_ops)
        return self._cache[key]

    def arm(self, wl: WorkloadProfile, values: dict[str, Any], arm: str) -> Arm:
        walks, lin = self._sim(wl, values, arm)
        p = f"workload.{wl.key}."
        kinst = float(values[p + "kernel_instructions_per_op"]) / 1000.0
        other = float(values[p + "other_kernel_walks_pki"]) * kinst
        walk_cost = float(values["cpu.walk_cycles"]) + float(values[p + "walk_dram_fraction"]) * \
            float(values["cpu.mem_latency_ns"]) * float(values["cpu.freq_ghz"])
        cycles = float(values[p + "kernel_cycles_per_op"]) + float(values[p + "user_cycles_per_op"]) + walks * walk_cost
        return Arm(walks, lin, (walks + other) / kinst, cycles, kinst)

    # -- one claim ---------------------------------------------------------------
    def change_fn(self, claim: Claim) -> Callable[[dict[str, Any]], float]:
        m = claim.metric.lower()
        if claim.kind == "boot":
            def boot(values: dict[str, Any]) -> float:
                c = compare(self.ram, self.granule, kfence_pool=int(values["model.kfence_pool"]),
                            block_allowed=self.cpu.on_allow_list)
                base = self.ram * float(values["model.usable_ram_fraction"])
                if "free" in m:
                    base *= float(values["model.free_fraction"])
                return _pct(c["saving_bytes"] / base) if c["saving_bytes"] else 0.0
            return boot
        if claim.kind not in self.workloads:
            raise UsageError(f"claim {claim.id}: no workload profile for {claim.workload!r}")
        wl = self.workloads[claim.kind]

        def fn(values: dict[str, Any]) -> float:
            p, b = self.arm(wl, values, "pte"), self.arm(wl, values, "block")
            if "mpki" in m or "tlb" in m:
                return _pct(b.mpki / p.mpki - 1.0)
            if "latency" in m or m.startswith(("p99", "p50", "p999", "clat")):
                u = float(values[f"workload.{wl.key}.utilization"])
                if u * b.cycles_per_op / p.cycles_per_op >= 1.0:
                    raise UsageError(f"utilization {u} saturates the server in the model")
                return _pct(b.cycles_per_op * (1 - u) / (p.cycles_per_op * (1 - u * b.cycles_per_op / p.cycles_per_op)) - 1.0)
            return _pct(p.cycles_per_op / b.cycles_per_op - 1.0)  # throughput-like: higher is better
        return fn

    def relevant(self, claim: Claim) -> list[str]:
        """Names of the figures this claim's prediction depends on."""
        if claim.kind == "boot":
            names = ["model.kfence_pool", "model.usable_ram_fraction"]
            return names + (["model.free_fraction"] if "free" in claim.metric.lower() else [])
        wp = f"workload.{claim.kind}."
        return [n for n in self.figures if n.startswith(("cpu.", wp, "model.perm_changes", "model.kfence_pool"))
                and not n.endswith(".utilization") or n == f"{wp}utilization" and "latency" in claim.metric]

    def sweep(self, claim: Claim) -> dict[str, Any]:
        """Nominal, and one-at-a-time low/high for every sweepable figure."""
        fn = self.change_fn(claim)
        nominal = fn(self.values)
        oat = {}
        for name in self.relevant(claim):
            fig = self.figures[name]
            if not fig.sweepable or name in _overridden(self.overrides):
                continue
            lo = fn(dict(self.values, **{name: fig.low}))
            hi = fn(dict(self.values, **{name: fig.high}))
            oat[name] = (lo, hi)
        return {"nominal": nominal, "oat": oat}


def _fmt_value(name: str) -> Callable[[Any], Any]:
    if name.endswith(".footprint") or name == "model.kfence_pool":
        from benchctl.sizes import fmt_size

        return lambda v: fmt_size(v).replace(" ", "")
    return lambda v: v


def _overridden(overrides: list[str]) -> set[str]:
    return {s.split("=", 1)[0].strip() for s in overrides}


def _pct(x: float) -> float:
    v = round(100.0 * x, 6)
    return 0.0 if v == 0 else v


def assumptions_for(model: Model, claim: Claim) -> list[str]:
    out = []
    for name in model.relevant(claim):
        f = model.figures[name]
        v = model.values[name]
        if f.status != "assumed" and name not in _overridden(model.overrides):
            continue
        fmt = _fmt_value(name)
        v = fmt(v)
        rng = f" [{fmt(f.low)}..{fmt(f.high)}]" if f.sweepable else ""
        tag = " (set on the command line)" if name in _overridden(model.overrides) else ""
        out.append(f"{name} = {v}{rng}{tag}: {f.source}")
    if claim.kind != "boot":
        out += STRUCTURAL
    else:
        out.append("Page-table saving is exact arithmetic (pagetables.py); only the denominator is assumed.")
    if not model.cpu.on_allow_list:
        out.insert(0, f"{model.cpu.name} is not on the BBML2_NOABORT allow-list: the patched kernel maps the "
                      "linear map with PTEs in both arms, so the predicted change is exactly zero.")
    return out


def predict(cpu: str, *, ram: int = 256 * GiB, workloads: list[str] | None = None, overrides: list[str] | None = None,
            cpu_file=None, workload_file=None, claims_file=None, seed: int = 1) -> dict[str, Any]:
    """JSON-ready predictions for every claim (optionally only some workloads)."""
    model = Model(load_cpu(cpu, cpu_file), load_workloads(workload_file), ram=ram, seed=seed,
                  overrides=list(overrides or []))
    claims, source = load_claims(claims_file)
    if workloads:
        wanted = {w.lower() for w in workloads}
        known = set(model.workloads) | {"boot"}
        bad = wanted - known - {c.workload.lower() for c in claims}
        if bad:
            raise UsageError(f"unknown workload(s) {', '.join(sorted(bad))}; known: {', '.join(sorted(known))}")
        claims = [c for c in claims if c.kind in wanted or c.workload.lower() in wanted]
    warnings = []
    for wl in (w for k, w in model.workloads.items() if k in {c.kind for c in claims}):
        lin = sum(int(model.values[f"workload.{wl.key}.regions.{r.name}.footprint"]) for r in wl.regions if r.kind == "linear")
        if lin > ram * float(model.values["model.usable_ram_fraction"]):
            warnings.append(f"{wl.key}: linear-map footprint {lin >> 20} MiB exceeds the usable RAM of the modelled "
                            f"machine; pages are folded onto RAM and the prediction is not meaningful for --ram {ram >> 30} GiB")
    preds = []
    for c in claims:
        if not c.kind:
            continue
        s = model.sweep(c)
        vals = [s["nominal"]] + [v for lohi in s["oat"].values() for v in lohi]
        pred: dict[str, Any] = {
            "claim": c.id, "workload": c.workload, "metric": c.metric,
            "change_pct": s["nominal"], "range_pct": [min(vals), max(vals)],
            "published_pct": list(c.published) if c.published else None,
        }
        sign = (s["nominal"] > 0) - (s["nominal"] < 0)
        pred["sign_matches_published"] = (sign == c.published_sign) if c.published else None
        if c.kind != "boot":
            wl = model.workloads[c.kind]
            p, b = model.arm(wl, model.values, "pte"), model.arm(wl, model.values, "block")
            pred["mpki"] = {"pte": round(p.mpki, 4), "block": round(b.mpki, 4),
                            "change_pct": _pct(b.mpki / p.mpki - 1.0)}
            pred["walks_per_op"] = {"pte": round(p.walks_per_op, 4), "block": round(b.walks_per_op, 4)}
        pred["assumptions"] = assumptions_for(model, c)
        pred["sensitivity"] = {k: list(v) for k, v in s["oat"].items()}
        preds.append(pred)
    return {"simulated": True, "kind": "model prediction (SIMULATED, not a measurement)",
            "cpu": model.cpu.key, "cpu_name": model.cpu.name, "on_allow_list": model.cpu.on_allow_list,
            "ram_bytes": ram, "granule_bytes": model.granule, "claims_source": source,
            "overrides": list(overrides or []), "warnings": warnings, "predictions": preds}


def markdown_table(result: dict[str, Any]) -> str:
    """The claims table of docs/model.md, generated from predict's output."""
    rows = [f"Predictions for {result['cpu_name']} ({result['ram_bytes'] >> 30} GiB RAM), SIMULATED:", "",
            "| claim | metric | published | predicted (range) | kernel walk MPKI pte -> block | assumptions it rests on most |",
            "|---|---|---|---|---|---|"]
    for p in result["predictions"]:
        pub = p["published_pct"]
        pub_s = "-" if not pub else (f"{pub[0]:+.3g} %" if pub[0] == pub[1] else f"{pub[0]:+.0f} to {pub[1]:+.0f} %")
        pred = f"{p['change_pct']:+.2f} % ({p['range_pct'][0]:+.2f} to {p['range_pct'][1]:+.2f})"
        mpki = f"{p['mpki']['pte']:.3f} -> {p['mpki']['block']:.3f} ({p['mpki']['change_pct']:+.1f} %)" if "mpki" in p else "-"
        top = sorted(((k, v) for k, v in p["sensitivity"].items() if v[0] != v[1]),
                     key=lambda kv: (-abs(kv[1][1] - kv[1][0]), kv[0]))[:3]
        names = ", ".join(f"`{k.replace('workload.', '')}`" for k, _ in top)
        if not names:
            names = "none: off the allow-list, both arms PTE-mapped" if not result["on_allow_list"] else "exact arithmetic"
        rows.append(f"| {p['claim']} | {p['metric']} | {pub_s} | {pred} | {mpki} | {names} |")
    return "\n".join(rows)
