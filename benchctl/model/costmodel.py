"""The mechanisms: TLB misses, where the walked descriptors live, and what it costs per op.

Every function takes arrays of Monte Carlo draws (one value per draw, shape
(n,)) and returns arrays of the same length, so one call evaluates all
draws at once. docs/model.md "How a prediction is built" has the long form;
the steps:

1. References (per op, per TLB level): each region of a stage is a set of
   TLB entries with reference rates. Random regions: Zipf popularity over the
   footprint, grouped in logarithmic rank bins with their exact expected
   rates (continuous Zipf). Stream regions on 4 KiB PTEs: every page is a new
   entry used once (a one-shot stream of `pages_per_op` entries per op). In
   the block arm, linear-map pages fall in PUD/CONT_PMD/PMD/CONT_PTE/PTE
   entries in the shares the exact page-table model gives after the assumed
   permission-change splits; an entry holding many region pages is referenced
   at their summed rate, and a stream touches a new entry once per folio.
2. TLB: Che's approximation of LRU (Che, Tung, Wang, IEEE JSAC 20(7), 2002),
   extended with a one-shot stream: the characteristic time T of a level of C
   entries solves sum_g n_g (1 - exp(-r_g T)) + s T = C (a one-shot entry
   occupies the level for T). A reference walks if it misses every level:
   P = min_k exp(-r T_k) (levels treated as fully associative: the reference
   simulator checks the error, tests/model/test_costmodel.py).
3. Walk cost from descriptor residency: the leaf descriptor's cache line
   covers 8 pages. Its reference rate decides, by Che's approximation again,
   whether it is in the L2, the SLC or DRAM: a cache of L lines that receives
   `lines_per_op` new lines per op keeps a line for T = L / lines_per_op ops,
   so P(line in cache) = 1 - exp(-r_line T). A stream's walks reuse each
   leaf line 8 times in a row: 7 find it near, the first finds it wherever a
   line of that footprint lives. Block-arm walks end in PUD/PMD tables a few
   KiB in size: near. Penalty = walk_fixed_ns + the leaf fetch latency.
4. Data movement per 4 KiB (the same in both arms except at translation
   boundaries): a prefetched stream costs seq = 4096 / seq_copy_gbs; a copy
   whose prefetch restarts costs the demand-bound D = 64 x latency / mlp, so
   each restart adds G = max(0, D - seq). A 4 KiB PTE stream restarts at
   every page; inside a block only the share (1 - prefetch_boundary) of that
   is lost, plus a full restart per folio. Random pages restart in both arms.
5. Time per op = cycles / f + walks x penalty (x copy_walk_fraction for
   copies) + data movement.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchctl.model.pagetables import GiB, KiB, MiB, compare
from benchctl.model.profiles import CpuProfile, Stage, WorkloadProfile

PAGE = 4 * KiB
LINE = 64
PTES_PER_LINE = LINE // 8
ZIPF_BINS = 32
KIND_SIZES = {"PUD": GiB, "CONT_PMD": 32 * MiB, "PMD": 2 * MiB, "CONT_PTE": 64 * KiB, "PTE": 4 * KiB}
FIXED_SIZES = {"user": 4 * KiB, "vmalloc": 4 * KiB, "vmemmap": 2 * MiB}
COPY_ACCESSES = ("copy", "copy-cached", "zero")


# -- references --------------------------------------------------------------------------------------------
def zipf_bins(units: np.ndarray, s: np.ndarray, bins: int = ZIPF_BINS) -> tuple[np.ndarray, np.ndarray]:
    """(units per bin, probability of each unit in the bin), shape (n, bins), for a continuous Zipf.

    Rank x in [1, units + 1) has density proportional to x^-s; bin edges are
    logarithmic, (units + 1)^(j / bins), so the few hot units get their own
    bins and the cold tail shares wide ones. Exact expected masses per bin.
    """
    units = np.maximum(np.asarray(units, float), 1.0)[:, None]
    s = np.asarray(s, float)[:, None]
    j = np.arange(bins + 1)[None, :] / bins
    edges = np.exp(j * np.log(units + 1.0))
    one = np.abs(s - 1.0) < 1e-9
    a = np.where(one, 1.0, 1.0 - s)
    lo, hi = 1.0, units + 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        cdf_pow = (edges**a - lo) / (hi**a - lo)
    cdf_log = np.log(edges) / np.log(hi)
    cdf = np.where(one, cdf_log, cdf_pow)
    mass = np.diff(cdf, axis=1)
    counts = np.diff(edges, axis=1)
    prob = np.where(counts > 0, mass / np.maximum(counts, 1e-300), 0.0)
    return counts, prob


@dataclass
class Group:
    """Entries referenced alike: `count` entries mapped at `size` bytes, each at `rate` references per op."""

    region: int
    count: np.ndarray
    rate: np.ndarray
    size: np.ndarray  # mapping size (bytes) of the entries
    aggregate: bool = False  # one entry stands for several region pages (its rate is their sum)


@dataclass
class References:
    groups: list[Group] = field(default_factory=list)
    streams: dict[int, np.ndarray] = field(default_factory=dict)  # region -> one-shot 4 KiB entries per op


def spread_bytes(footprint: np.ndarray, v: dict[str, np.ndarray], ram: int) -> np.ndarray:
    """Physical memory a linear-map region is spread over: at least its footprint, at most all RAM
    (machine.spread_fraction: clustered on a fresh machine, scattered after long uptime)."""
    return np.clip(v["machine.spread_fraction"] * ram, footprint, ram)


def block_shares(ram: int, perm_changes: np.ndarray, kfence_pool: int) -> tuple[list[int], np.ndarray]:
    """Mapping sizes of the block arm and their byte shares of RAM, per draw (interpolated on a grid)."""
    top = float(2 ** np.ceil(np.log2(max(2.0, float(np.max(perm_changes))))))
    grid, table = _share_table(ram, kfence_pool, top)
    shares = np.stack([np.interp(perm_changes, grid, table[:, i]) for i in range(table.shape[1])], axis=1)
    return [KIND_SIZES[k] for k in KIND_SIZES], shares


@functools.lru_cache(maxsize=16)
def _share_table(ram: int, kfence_pool: int, top: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact shares (pagetables.compare) on a logarithmic grid of permission changes, computed once."""
    grid = np.unique(np.concatenate([[0], np.round(np.geomspace(1, top, 14))]))
    table = (
        np.array(
            [
                [
                    compare(ram, PAGE, kfence_pool=kfence_pool, perm_changes=int(g))["mapped_bytes"]["block"][k]
                    for k in KIND_SIZES
                ]
                for g in grid
            ],
            float,
        )
        / ram
    )
    return grid, table


def references(
    stage: Stage, v: dict[str, np.ndarray], base: str, arm: str, ram: int, shares: tuple[list[int], np.ndarray]
) -> References:
    """What one op of `stage` references, per region, in `arm` ("pte" or "block")."""
    out = References()
    n = len(next(iter(v.values())))
    for ri, r in enumerate(stage.regions):
        rb = f"{base}.regions.{r.name}"
        k = v[f"{rb}.pages_per_op"]
        F = v[f"{rb}.footprint"]
        spread = spread_bytes(F, v, ram)
        linear_blocks = r.space == "linear" and arm == "block"
        if r.pattern == "stream":
            fp = np.maximum(v[f"{rb}.folio"] / PAGE, 1.0)
            if r.space == "linear" and arm == "pte":
                out.streams[ri] = k
                continue
            if not linear_blocks:  # a fixed mapping: a new entry per folio or per entry, whichever is larger
                size = FIXED_SIZES[r.space]
                per_entry = np.maximum(fp, size / PAGE)
                units = np.maximum(F / np.maximum(size, fp * PAGE), 1.0)
                out.groups.append(Group(ri, units, (k / per_entry) / units, np.full(n, float(size))))
                continue
            sizes, w = shares
            for si, S in enumerate(sizes):
                run = np.minimum(fp * PAGE, float(S))  # bytes the stream stays in one entry
                refs = w[:, si] * k * PAGE / run  # entry changes per op landing in this kind
                entries = np.maximum(w[:, si] * np.minimum(spread / S, F / run), 1e-9)
                out.groups.append(Group(ri, entries, refs / entries, np.full(n, float(S)), aggregate=True))
            continue
        s = v[f"{rb}.zipf"]
        if not linear_blocks:
            fixed = float(FIXED_SIZES.get(r.space, PAGE))
            units = np.maximum(F / fixed, 1.0)
            counts, prob = zipf_bins(units, s)
            for j in range(counts.shape[1]):
                out.groups.append(Group(ri, counts[:, j], k * prob[:, j], np.full(n, fixed)))
            continue
        sizes, w = shares
        pages = np.maximum(F / PAGE, 1.0)
        counts, prob = zipf_bins(pages, s)
        for si, S in enumerate(sizes):
            m = (F / spread) * (S / PAGE)  # region pages per entry of this kind
            many = m >= 1.0
            entries = np.maximum(w[:, si] * spread / S, 1e-9)
            out.groups.append(
                Group(ri, np.where(many, entries, 0.0), k * w[:, si] / entries, np.full(n, float(S)), aggregate=True)
            )
            for j in range(counts.shape[1]):
                out.groups.append(
                    Group(ri, np.where(many, 0.0, counts[:, j] * w[:, si]), k * prob[:, j], np.full(n, float(S)))
                )
    return out


# -- TLB ---------------------------------------------------------------------------------------------------
def che_time(counts: np.ndarray, rates: np.ndarray, stream: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Characteristic time T per draw: sum_g counts (1 - exp(-rates T)) + stream T = capacity.

    counts, rates: (n, G); stream, capacity: (n,). inf where everything fits
    and nothing streams (no eviction). Newton from below: the left side is
    increasing and concave and T0 = capacity / (sum counts rates + stream)
    does not overshoot, so the iterates rise monotonically to the root.
    """
    total_rate = (counts * rates).sum(axis=1) + stream
    fits = (counts.sum(axis=1) <= capacity) & (stream <= 0)
    t = np.where(total_rate > 0, capacity / np.maximum(total_rate, 1e-300), np.inf)
    for _ in range(60):
        e = np.exp(-rates * t[:, None])
        f = (counts * (1 - e)).sum(axis=1) + stream * t - capacity
        df = (counts * rates * e).sum(axis=1) + stream
        step = np.where(np.isfinite(t) & (df > 0), -f / np.maximum(df, 1e-300), 0.0)
        t = t + step
        if np.all(np.abs(step) <= 1e-9 * np.maximum(np.abs(np.where(np.isfinite(t), t, 1.0)), 1e-300)):
            break
    return np.where(fits, np.inf, t)


def walk_probability(refs: References, cpu: CpuProfile, v: dict[str, np.ndarray]) -> list[np.ndarray]:
    """P(walk) per reference for every group (streams walk with probability 1)."""
    n = len(next(iter(v.values())))
    stream = sum(refs.streams.values(), np.zeros(n))
    p_walk = [np.ones(n) for _ in refs.groups]
    if not refs.groups:
        return p_walk
    for lvl in cpu.tlb:
        held = np.array(lvl.page_sizes, float)
        cols_c, cols_r = [], []
        for g in refs.groups:
            idx = np.searchsorted(held, g.size, side="right") - 1
            e = held[np.clip(idx, 0, len(held) - 1)]
            split = np.where(g.aggregate, g.size / e, 1.0)  # a block splintered into smaller entries
            cols_c.append(g.count * split)
            cols_r.append(g.rate / split)
        counts, rates = np.stack(cols_c, axis=1), np.stack(cols_r, axis=1)
        t = che_time(counts, rates, stream, v[f"cpu.tlb.{lvl.name}.entries"])
        miss = np.where(np.isfinite(t)[:, None], np.exp(-rates * np.where(np.isfinite(t), t, 0.0)[:, None]), 0.0)
        for i in range(len(p_walk)):
            p_walk[i] = np.minimum(p_walk[i], miss[:, i])
    return p_walk


# -- walk cost ---------------------------------------------------------------------------------------------
@dataclass
class Caches:
    """Characteristic times (in ops) of the L2 and of this stage's share of the SLC, and latencies (ns)."""

    t_l2: np.ndarray
    t_slc: np.ndarray
    near_ns: np.ndarray
    slc_ns: np.ndarray
    dram_ns: np.ndarray
    fixed_ns: np.ndarray

    def penalty(self, line_rate: np.ndarray) -> np.ndarray:
        """Walk penalty (ns) for a leaf line referenced `line_rate` times per op."""
        p_l2 = -np.expm1(-line_rate * self.t_l2)
        p_slc = np.maximum(-np.expm1(-line_rate * self.t_slc) - p_l2, 0.0)
        p_dram = np.clip(1.0 - p_l2 - p_slc, 0.0, 1.0)
        return self.fixed_ns + p_l2 * self.near_ns + p_slc * self.slc_ns + p_dram * self.dram_ns


def caches(v: dict[str, np.ndarray], lines_per_op: np.ndarray, active_cores: np.ndarray) -> Caches:
    f = v["cpu.freq_ghz"]
    l2_lines = v["cpu.l2_kib"] * KiB / LINE
    slc_lines = v["cpu.slc_mib"] * MiB / LINE / np.maximum(active_cores, 1.0)
    return Caches(
        l2_lines / lines_per_op,
        np.maximum(slc_lines, l2_lines) / lines_per_op,
        v["cpu.l2_cycles"] / f,
        v["cpu.slc_ns"],
        v["cpu.dram_ns"],
        v["cpu.walk_fixed_ns"],
    )


# -- one stage ---------------------------------------------------------------------------------------------
@dataclass
class StageCost:
    time_ns: np.ndarray  # per op
    walks: np.ndarray  # TLB walks per op (all regions)
    linear_walks: np.ndarray  # of those, linear-map walks
    walk_ns: np.ndarray  # time per op spent in walks
    restart_ns: np.ndarray  # time per op lost to prefetch restarts at translation boundaries


def data_time(
    access: str, pattern: str, small_pages: bool, fp: np.ndarray | None, v: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """(data-movement ns per page, of which lost to restarts that a block mapping would avoid)."""
    n = len(v["cpu.freq_ghz"])
    seq = 4096.0 / v["cpu.seq_copy_gbs"]
    if access == "touch":
        return np.zeros(n), np.zeros(n)
    if access == "zero":
        return seq, np.zeros(n)
    lat = v["cpu.dram_ns"] if access == "copy" else v["cpu.slc_ns"]
    gap = np.maximum(0.0, 64.0 * lat / v["cpu.mlp"] - seq)
    if pattern == "random" or fp is None:
        return seq + gap, np.zeros(n)
    pages = np.maximum(fp, 1.0)
    in_block = gap * ((1.0 - v["cpu.prefetch_boundary"]) * (1.0 - 1.0 / pages) + 1.0 / pages)
    if small_pages:
        return seq + gap, gap - in_block
    return seq + in_block, np.zeros(n)


def stage_cost(
    cpu: CpuProfile,
    wl: WorkloadProfile,
    stage: Stage,
    v: dict[str, np.ndarray],
    arm: str,
    ram: int,
    shares: tuple[list[int], np.ndarray],
) -> StageCost:
    base = f"workload.{wl.key}.{stage.name}"
    n = len(v["cpu.freq_ghz"])
    refs = references(stage, v, base, arm, ram, shares)
    p_walk = walk_probability(refs, cpu, v)
    active = v.get(f"workload.{wl.key}.active_cores", np.ones(n))
    cc = caches(v, v[f"{base}.lines_per_op"], active)
    f = v["cpu.freq_ghz"]
    t = v[f"{base}.cycles_per_op"] / f
    if f"{base}.user_cycles_per_op" in v:
        t = t + v[f"{base}.user_cycles_per_op"] / f
    walks = np.zeros(n)
    linear = np.zeros(n)
    walk_ns = np.zeros(n)
    restart = np.zeros(n)
    for ri, r in enumerate(stage.regions):
        rb = f"{base}.regions.{r.name}"
        kappa = v["cpu.copy_walk_fraction"] if r.access in COPY_ACCESSES else 1.0
        k = v[f"{rb}.pages_per_op"]
        fp = v[f"{rb}.folio"] / PAGE if r.pattern == "stream" else None
        pte_linear = r.space == "linear" and arm == "pte"
        w_r = np.zeros(n)
        cost = np.zeros(n)
        if ri in refs.streams:  # 4 KiB PTE stream: one walk per page, 8 pages per leaf line
            first_rate = k * PAGE / np.maximum(v[f"{rb}.footprint"], PAGE)
            pen = (cc.penalty(first_rate) + (PTES_PER_LINE - 1) * cc.penalty(np.full(n, np.inf))) / PTES_PER_LINE
            w_r = k.copy()
            cost = w_r * pen
        for g, pw in zip(refs.groups, p_walk, strict=True):
            if g.region != ri:
                continue
            gw = g.count * g.rate * pw  # walks per op from this group
            w_r = w_r + gw
            if pte_linear or r.space in ("user", "vmalloc"):
                page_walk_rate = g.rate * pw
                share = (
                    v[f"{rb}.footprint"] / spread_bytes(v[f"{rb}.footprint"], v, ram) if r.space == "linear" else 1.0
                )
                neighbours = (PTES_PER_LINE - 1) * share * page_walk_rate
                cost = cost + gw * cc.penalty(page_walk_rate + neighbours)
            else:  # block or vmemmap entries: upper-level tables, near
                cost = cost + gw * cc.penalty(np.full(n, np.inf))
        walks += w_r
        if r.space == "linear":
            linear += w_r
        walk_ns += kappa * cost
        dt, lost = data_time(r.access, r.pattern, pte_linear or r.space in ("user", "vmalloc"), fp, v)
        t = t + k * dt
        restart += k * lost
    t = t + walk_ns
    return StageCost(t, walks, linear, walk_ns, restart)


# -- a workload --------------------------------------------------------------------------------------------
@dataclass
class ArmCost:
    stages: dict[str, StageCost]
    throughput: np.ndarray  # ops per ns (relative)
    bottleneck: list[str]  # per draw, the stage that limits throughput
    mpki: np.ndarray | None = None
    time_ns: np.ndarray | None = None  # request workloads: time per op


def workload_cost(
    cpu: CpuProfile,
    wl: WorkloadProfile,
    v: dict[str, np.ndarray],
    arm: str,
    ram: int,
    shares: tuple[list[int], np.ndarray],
) -> ArmCost:
    stages = {st.name: stage_cost(cpu, wl, st, v, arm, ram, shares) for st in wl.stages}
    if wl.kind == "request":
        ((name, sc),) = stages.items()
        kinst = v[f"workload.{wl.key}.kernel_instructions_per_op"]
        other = v[f"workload.{wl.key}.other_kernel_walks_pki"] * kinst / 1000.0
        mpki = 1000.0 * (sc.walks + other) / kinst
        return ArmCost(stages, 1.0 / sc.time_ns, [name] * len(sc.time_ns), mpki, sc.time_ns)
    names = [st.name for st in wl.stages]
    rates = np.stack([v.get(f"workload.{wl.key}.{s}.threads", 1.0) / stages[s].time_ns for s in names], axis=1)
    free = v.get(f"workload.{wl.key}.freerun_fraction")
    if free is not None:
        # the first stage (the writer) runs free until dirty throttling starts; then the pipeline sets the pace
        writer = rates[:, 0]
        paced = rates.min(axis=1)
        thr = 1.0 / (free / writer + (1.0 - free) / paced)
    else:
        thr = rates.min(axis=1)
    slowest = [names[i] for i in rates.argmin(axis=1)]
    return ArmCost(stages, thr, slowest)


def draws_size(v: dict[str, Any]) -> int:
    return len(next(iter(v.values())))
