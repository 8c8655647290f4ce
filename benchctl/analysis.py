"""The analysis behind `benchctl analyze`: tidy table in, one result dict out.

The result dict is what every report format renders and what the JSON output
is (see report/jsonout.py for the stable field list). Steps:
1. pick the two arms; rebuild ratio metrics (MPKI) from raw counters;
2. per (workload, metric): per-boot statistics, the hierarchical bootstrap
   interval of the change, variance components, Welch and Mann-Whitney on
   per-boot means, drift;
3. per claim: verdict, Holm across claims, what would decide it;
4. design checks (checks.py) listed before any number.

Choices a reader of the numbers should know (docs/analyze.md has more):
- Fewer than 2 boots on a side: the bootstrap can only resample iterations,
  so the interval describes that boot, not the kernel. We still compute it
  and keep the verdict (hiding it would hide the data), but every result
  carries a warning, Welch has no p-value, and a verdict asserting an effect
  is prefixed "VERDICT FROM ITERATIONS OF ONE BOOT" as the first warning.
- The interval is the hull of the expanded hierarchical-bootstrap interval
  and a Welch t interval of log per-boot means: with few boots the
  percentile bootstrap cannot reach past the boots it saw (tests/calibration.py).
- A verdict asserting an effect also needs the Holm-adjusted p < 1 - confidence.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from dataclasses import dataclass

import numpy as np

from benchctl import checks as design_checks
from benchctl.claims import EFFECT_VERDICTS, Claim, verdict
from benchctl.errors import InputError
from benchctl.metrics import RATIOS
from benchctl.parsers import LATENCY_RESOLUTION
from benchctl.stats import bootstrap, classical, components, power, trend
from benchctl.tidy import Tidy, summarize_skipped

FORMAT = "benchctl-analysis/1"
# latency_resolution label -> step in % (the parsers' table; bracket-only labels have no fixed step)
RESOLUTION_PCT = {k: 100.0 * v for k, v in LATENCY_RESOLUTION.items() if v is not None}
DEFAULT_REBOOT_COST = 300.0
DEFAULT_ITER_COST = 60.0
MAX_SKIPPED_ITEMS = 1000
ONE_BOOT_WARNING = ("fewer than 2 boots on a side ({sides}): the interval resamples iterations only and "
                    "does not cover boot-to-boot variation; it describes this boot, not the kernel")


@dataclass
class Series:
    """One arm's data for one (workload, metric)."""

    arm: bootstrap.Arm
    boots: list[str]            # in start order
    values: np.ndarray          # per-iteration values (ratio metrics: per-iteration ratios)
    notes: set[str]
    unit: str

    def groups(self) -> list[np.ndarray]:
        o = self.arm.offsets
        return [self.values[o[i]:o[i + 1]] for i in range(len(o) - 1)]


def _boot_order(tidy: Tidy, df) -> dict[tuple[str, str], float]:
    """(arm, boot) -> first start time, for ordering and drift (records' t, else run.json).

    Keyed by arm too: CSVs from other harnesses often number boots 1, 2, ...
    in each arm.
    """
    order: dict[tuple[str, str], float] = {}
    for b in tidy.boots:
        if b.started is not None:
            key = (b.arm, b.boot)
            order[key] = min(order.get(key, b.started), b.started)
    if df["t"].notna().any():
        for key, t in df.groupby(["arm", "boot"])["t"].min().items():
            if not math.isnan(t):
                order[key] = min(order.get(key, t), t)
    return order


def _series(sub, order: dict[tuple[str, str], float], ratio=None) -> Series:
    """Build an Arm from rows of one arm: sorted by boot start, then t/iteration."""
    arm = str(sub["arm"].iloc[0]) if len(sub) else ""
    by_boot = {b: t for (a, b), t in order.items() if a == arm}
    sub = sub.assign(_o=sub["boot"].map(by_boot).astype(float).fillna(math.inf))
    if ratio is None:
        sub = sub.sort_values(["_o", "boot", "run", "iteration"], kind="stable")
        _, first = np.unique(sub["boot"].to_numpy(), return_index=True)
        boots = list(sub["boot"].to_numpy()[np.sort(first)])
        sizes = sub.groupby("boot", sort=False).size().reindex(boots).to_numpy()
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        vals = sub["value"].to_numpy(dtype=float)
        notes = set(sub["note"].unique()) if "note" in sub else set()
        unit = str(sub["unit"].iloc[0]) if len(sub) else ""
        return Series(bootstrap.Arm(vals, offsets), boots, vals, notes, unit)
    # Ratio metric: one row per (boot, run, iteration) with numerator and denominator sums.
    wide = sub.pivot_table(index=["_o", "boot", "run", "iteration"], columns="metric", values="value",
                           aggfunc="sum").reset_index()
    need = list(ratio.numerators) + [ratio.denominator]
    wide = wide.dropna(subset=need)
    wide = wide[wide[ratio.denominator] > 0].sort_values(["_o", "boot", "run", "iteration"], kind="stable")
    num = wide[list(ratio.numerators)].sum(axis=1).to_numpy(dtype=float)
    den = wide[ratio.denominator].to_numpy(dtype=float)
    boots = list(dict.fromkeys(wide["boot"].to_numpy()))
    sizes = wide.groupby("boot", sort=False).size().reindex(boots).to_numpy()
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    arm = bootstrap.Arm(num, offsets, den, ratio.scale)
    return Series(arm, boots, ratio.scale * num / den, set(), "MPKI")


def _summary(s: Series) -> dict:
    stats = s.arm.boot_stats()
    return {"n_boots": int(s.arm.n_boots), "n_samples": int(len(s.values)),
            "mean": float(stats.mean()), "median": float(np.median(s.values)),
            "boot_means": [float(x) for x in stats], "boots": [str(b) for b in s.boots],
            "samples_per_boot": [int(x) for x in s.arm.sizes]}


def _seed_for(seed: int, workload: str, metric: str) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, zlib.crc32(f"{workload}\0{metric}".encode())])


PERCENTILE_METRIC = re.compile(r"(^|_)p\d+(_|$)")


def _resolution(notes: set[str]) -> tuple[float | None, str | None]:
    """The coarsest step (in %) among the records' notes, and its label.

    A note's own resolution_pct (the width of the histogram bucket its value
    fell in, which for HdrHistogram depends on the value) wins over the
    label's fixed step.
    """
    worst, name = None, None
    for n in notes:
        if not n:
            continue
        try:
            d = json.loads(n)
        except json.JSONDecodeError:
            continue
        if not isinstance(d, dict):
            continue
        r = d.get("latency_resolution")
        step = d.get("resolution_pct")
        if isinstance(step, bool) or not isinstance(step, (int, float)) or not math.isfinite(step):
            step = RESOLUTION_PCT.get(r) if isinstance(r, str) else None
        if step is not None and (worst is None or step > worst):
            worst, name = float(step), r
    return worst, name


# Note keys that describe how a workload was set up; arms that differ in any of
# them measured different things (e.g. fio on dm-crypt vs on the bare ramdisk).
SETUP_KEYS = ("crypt", "backing", "fs", "generator", "bs", "direction")


def _setup(notes: set[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for n in notes:
        try:
            d = json.loads(n) if n else {}
        except json.JSONDecodeError:
            continue
        if isinstance(d, dict):
            for k in SETUP_KEYS:
                if k in d:
                    out.setdefault(k, set()).add(str(d[k]))
    return out


def setup_mismatch(base_notes: set[str], cand_notes: set[str], baseline: str, candidate: str) -> list[str]:
    """Setup keys whose values differ between the arms, as messages (empty: comparable)."""
    b, c = _setup(base_notes), _setup(cand_notes)
    out = []
    for k in SETUP_KEYS:
        if b.get(k, set()) != c.get(k, set()):
            out.append(f"not comparable: {k} differs between arms ({baseline}: "
                       f"{', '.join(sorted(b.get(k, set()))) or 'unset'}; {candidate}: "
                       f"{', '.join(sorted(c.get(k, set()))) or 'unset'})")
    return out


def compare(workload: str, metric: str, base: Series, cand: Series, *, confidence: float, seed: int,
            resamples: int, baseline: str, candidate: str, is_ratio: bool, exact: bool | None = None) -> dict:
    warnings: list[str] = []
    few = [f"{name} {s.arm.n_boots}" for name, s in ((baseline, base), (candidate, cand)) if s.arm.n_boots < 2]
    if few:
        warnings.append(ONE_BOOT_WARNING.format(sides=", ".join(few)))
    bs = bootstrap.bootstrap_ratio(base.arm, cand.arm, resamples=resamples, level=confidence,
                                   seed_seq=_seed_for(seed, workload, metric), exact=exact)
    warnings += bs.warnings
    mb, mc = base.arm.boot_stats(), cand.arm.boot_stats()
    ci_pct = list(bs.ci_pct)
    method = bs.method
    tint = bootstrap.t_interval_ratio(mb, mc, confidence)
    if tint is not None:
        t_pct = [(tint[0] - 1) * 100, (tint[1] - 1) * 100]
        if t_pct[0] < ci_pct[0] or t_pct[1] > ci_pct[1]:
            method += "; interval widened to the Welch t interval of log per-boot means (few boots)"
        ci_pct = [min(ci_pct[0], t_pct[0]), max(ci_pct[1], t_pct[1])]
    w = classical.welch(mb, mc)
    u = classical.mann_whitney(mb, mc)
    vc = {}
    for name, s in (("baseline", base), ("candidate", cand)):
        tl = components.two_level(s.groups())
        vc[name] = tl.as_dict()
        warnings += [f"{name}: {x}" for x in tl.warnings if s.arm.n_boots >= 2 or "one boot" not in x]
    for name, s in ((baseline, base), (candidate, cand)):
        warnings += trend.drift_warnings(name, s.arm.boot_stats(), list(zip(s.boots, s.groups())))
    if w.p_value is None:
        warnings.append(f"no p-value: Welch's test {w.note}")
    if base.unit and cand.unit and base.unit != cand.unit:
        warnings.append(f"units differ between arms ({baseline}: {base.unit}, {candidate}: {cand.unit}); "
                        "the change is meaningless unless they are the same quantity")
    # Only percentiles are read off the tool's buckets; throughput and means are not.
    res, res_name = _resolution(base.notes | cand.notes) if PERCENTILE_METRIC.search(metric) else (None, None)
    mismatch = setup_mismatch(base.notes, cand.notes, baseline, candidate)
    warnings[:0] = mismatch
    if is_ratio:
        method += "; ratio of sums of raw counters per boot"
    return {
        "workload": workload, "metric": metric, "unit": base.unit or cand.unit,
        "baseline": _summary(base), "candidate": _summary(cand),
        "change_pct": bs.change_pct, "ci_pct": ci_pct, "bootstrap_ci_pct": list(bs.ci_pct), "p_value": w.p_value,
        "method": method + "; p: Welch t-test on per-boot means",
        "variance_components": vc, "warnings": warnings,
        "ci_level_used": bs.level_used,
        "tests": {"welch": w.as_dict(), "mann_whitney": u.as_dict()},
        "resolution": {"latency_resolution": res_name, "resolution_pct": res} if res_name else None,
        "comparable": not mismatch,
    }


def _iteration_cost(df) -> float | None:
    """Median seconds between consecutive iterations of a run, from record timestamps."""
    if "t" not in df or not df["t"].notna().any():
        return None
    firsts = df.dropna(subset=["t"]).groupby(["run", "iteration"])["t"].min().reset_index()
    firsts = firsts.sort_values(["run", "iteration"])
    d = firsts.groupby("run")["t"].diff().dropna()
    d = d[d > 0]
    return float(d.median()) if len(d) else None


def decide(comp: dict, claim_pct: float, reboot_cost: float, iter_cost: float, alpha: float = 0.05) -> dict:
    """Boots x iterations per arm resolving a change of claim_pct (stats/power.py).

    alpha is the per-claim level: callers pass alpha / number of claims, the
    level Holm's first step demands, so the design also survives the family.
    """
    vc = comp["variance_components"]
    within = tuple(_nz(vc[a]["within_boot_var"]) for a in ("baseline", "candidate"))
    between = tuple(_nz(vc[a]["between_boot_var"]) for a in ("baseline", "candidate"))
    delta = abs(claim_pct) / 100.0 * comp["baseline"]["mean"]
    p = power.plan(delta, within, between, reboot_cost, iter_cost, alpha=alpha).as_dict()
    if min(vc["baseline"]["n_boots"], vc["candidate"]["n_boots"]) < 2:
        p["note"] = (p["note"] + "; " if p["note"] else "") + \
            "between-boot variance unknown (one boot): assumed 0, so this is a lower bound"
    return p


def _nz(x) -> float:
    return 0.0 if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def judge(claims: list[Claim], comps: dict[tuple[str, str], dict], confidence: float,
          reboot_cost: float, iter_cost: float) -> list[dict]:
    alpha = 1 - confidence
    pvals = [comps[(c.workload, c.metric)]["p_value"] if (c.workload, c.metric) in comps else None for c in claims]
    adjusted = classical.holm(pvals)
    out = []
    for c, p, padj in zip(claims, pvals, adjusted):
        comp = comps.get((c.workload, c.metric))
        warnings: list[str] = []
        row = {"id": c.id, "workload": c.workload, "metric": c.metric, "claimed": c.as_dict(),
               "claimed_text": c.claimed_text(), "tolerance": c.tolerance, "verdict": "inconclusive",
               "change_pct": None, "ci_pct": None, "p_value": p, "p_adjusted": padj,
               "warnings": warnings, "decide": None}
        if comp is None:
            warnings.append(f"not judged: no {c.metric} data for workload {c.workload} in both arms")
            out.append(row)
            continue
        row["change_pct"], row["ci_pct"] = comp["change_pct"], comp["ci_pct"]
        warnings += comp["warnings"]
        if not comp.get("comparable", True):
            out.append(row)
            continue
        res = comp.get("resolution")
        needed = c.resolution_pct if c.resolution_pct is not None else abs(c.nearest_zero)
        if res and res["resolution_pct"] is not None and res["resolution_pct"] > needed:
            warnings.insert(0, f"not judged: {c.metric} has {res['latency_resolution']} resolution "
                               f"(steps of about {res['resolution_pct']:g} %), coarser than the claimed "
                               f"{needed:g} %; measure latency with a finer histogram (exact samples, or HDR "
                               "buckets narrower than the claim)")
            out.append(row)
            continue
        thin = [a for a in ("baseline", "candidate") if comp[a]["n_samples"] < 2]
        if thin:
            warnings.insert(0, f"not judged: one measurement on the {' and '.join(thin)} side; "
                               "an interval needs at least 2 per arm (several boots to generalise)")
            out.append(row)
            continue
        lo, hi = comp["ci_pct"]
        v = verdict(c, lo, hi)
        if v in EFFECT_VERDICTS and padj is not None and padj >= alpha:
            warnings.insert(0, f"interval excludes zero but the Holm-adjusted p ({padj:.3g}) is not "
                               f"below {alpha:g} across {sum(x is not None for x in pvals)} claims: "
                               f"verdict held at inconclusive (raw verdict: {v})")
            v = "inconclusive"
        if v in EFFECT_VERDICTS and p is None:
            warnings.insert(0, f"VERDICT FROM ITERATIONS OF ONE BOOT: '{v}' holds for the boot(s) "
                               "measured, not for the kernel; measure >= 2 boots per arm (3+ to test)")
        row["verdict"] = v
        if v == "inconclusive":
            row["decide"] = decide(comp, c.nearest_zero, reboot_cost, iter_cost, alpha / max(1, len(claims)))
        out.append(row)
    return out


def analyze(tidy: Tidy, baseline: str, candidate: str, claims: list[Claim] | None = None, *,
            confidence: float = 0.95, seed: int = 0, resamples: int = 10_000,
            reboot_cost: float = DEFAULT_REBOOT_COST, iteration_cost: float | None = None) -> dict:
    if not 0.5 <= confidence < 1:
        raise InputError(f"confidence must be in [0.5, 1), not {confidence}")
    if baseline == candidate:
        raise InputError("baseline and candidate must be different arms")
    df = tidy.df
    arms_present = sorted(set(df["arm"].unique())) if len(df) else []
    known = set(arms_present) | {b.arm for b in tidy.boots} | {s.arm for s in tidy.skipped if s.arm}
    for arm in (baseline, candidate):
        if arm not in arms_present:
            why = " (every row of it was skipped)" if arm in known else ""
            first = next((s for s in tidy.skipped if s.arm == arm), None)
            extra = f"; first problem: {first}" if first else ""
            raise InputError(f"arm {arm!r} has no usable rows{why}; arms in the data: "
                             f"{', '.join(arms_present) or 'none'}{extra}")
    df = df[df["arm"].isin([baseline, candidate])]
    order = _boot_order(tidy, df)
    notes: list[str] = []
    comps: dict[tuple[str, str], dict] = {}
    series: dict[tuple[str, str], tuple[Series, Series, bool]] = {}
    groups = {k: g for k, g in df.groupby(["workload", "metric"], sort=True)}
    ratio_keys: dict[tuple[str, str], object] = {}
    for workload in sorted({w for w, _ in groups}):
        for r in RATIOS.values():
            parts = list(r.numerators) + [r.denominator]
            if all((workload, p) in groups for p in parts):
                ratio_keys[(workload, r.name)] = r
    keys = sorted(set(groups) | set(ratio_keys))
    for workload, metric in keys:
        r = ratio_keys.get((workload, metric))
        if r is not None:
            parts = list(r.numerators) + [r.denominator]
            sub = df[(df["workload"] == workload) & df["metric"].isin(parts)]
            if (workload, metric) in groups:
                notes.append(f"{workload}/{metric}: recomputed from raw counters as a ratio of sums "
                             "per boot (the per-iteration ratios in the data are not averaged)")
        else:
            sub = groups[(workload, metric)]
        per_arm = {a: sub[sub["arm"] == a] for a in (baseline, candidate)}
        if any(len(x) == 0 for x in per_arm.values()):
            only = [a for a in per_arm if len(per_arm[a])]
            notes.append(f"{workload}/{metric}: only in arm {only[0]}; not compared")
            continue
        base = _series(per_arm[baseline], order, r)
        cand = _series(per_arm[candidate], order, r)
        if base.arm.n_boots == 0 or cand.arm.n_boots == 0:
            notes.append(f"{workload}/{metric}: no complete counter sets; not compared")
            continue
        if base.arm.estimate() == 0:
            notes.append(f"{workload}/{metric}: baseline mean is 0, a percent change is undefined; not compared")
            continue
        series[(workload, metric)] = (base, cand, r is not None)
    # One budget for the whole table: past it every comparison uses the normal limit, so
    # which metrics get exact resampling never depends on their order.
    work = sum(bootstrap.exact_work(s.arm, resamples) for b, c, _ in series.values() for s in (b, c))
    exact = None if work <= bootstrap.TOTAL_EXACT_BUDGET else False
    for (workload, metric), (base, cand, is_ratio) in series.items():
        comps[(workload, metric)] = compare(workload, metric, base, cand, confidence=confidence, seed=seed,
                                            resamples=resamples, baseline=baseline, candidate=candidate,
                                            is_ratio=is_ratio, exact=exact)
        if metric in RATIOS and not is_ratio:
            comps[(workload, metric)]["warnings"].append(
                f"raw counters ({', '.join(RATIOS[metric].numerators)}, {RATIOS[metric].denominator}) absent: "
                "boot values are means of per-iteration ratios, not ratios of sums")
    iter_cost = iteration_cost if iteration_cost is not None else _iteration_cost(df)
    cost_note = None
    if iter_cost is None:
        iter_cost = DEFAULT_ITER_COST
        cost_note = f"no record timestamps: iteration cost assumed {DEFAULT_ITER_COST:g} s"
    judged = judge(claims or [], comps, confidence, reboot_cost, iter_cost)
    boots_sel = [b for b in tidy.boots if b.arm in (baseline, candidate)]
    design = {}
    for arm in (baseline, candidate):
        sub = df[df["arm"] == arm]
        per_boot = sub.groupby(["boot", "workload", "metric"]).size()
        design[arm] = {
            "hosts": sorted(set(sub["host"].unique())),
            "kernels": sorted({b.kernel_release for b in boots_sel if b.arm == arm and b.kernel_release}),
            "boots": int(sub["boot"].nunique()),
            "iterations_per_boot": int(per_boot.median()) if len(per_boot) else 0,
            "linear_map": sorted({b.linear_map_before for b in boots_sel if b.arm == arm and b.linear_map_before}),
        }
    simulated = bool(df["simulated"].any()) or any(b.simulated for b in boots_sel)
    checks = design_checks.all_checks(boots_sel, baseline, candidate)
    if boots_sel and all(b.source == "csv" for b in boots_sel):
        checks.append("CSV input carries no fingerprints (env-before/after.json, run.json): linear-map, "
                      "boot-consistency and taint checks could not run")
    # Drift and resolution problems are per result, but they can void a verdict: list them up front too.
    promoted: dict[str, list[str]] = {}
    for comp in comps.values():
        for w in comp["warnings"]:
            if "Kendall" in w or w.startswith(("fewer than 2 boots", "not comparable")):
                promoted.setdefault(w, []).append(f"{comp['workload']}/{comp['metric']}")
    for w, where in promoted.items():
        shown = ", ".join(where[:4]) + (f" and {len(where) - 4} more" if len(where) > 4 else "")
        checks.append(f"{shown}: {w}" if len(where) < len(comps) or len(comps) == 1
                      else f"all {len(comps)} comparisons: {w}")
    for row in judged:
        checks += [f"claim {row['id']}: {w}" for w in row["warnings"]
                   if w.startswith("not judged") and "resolution" in w]
    if simulated:
        checks.insert(0, "SIMULATED data present (model output): nothing here is a measurement")
    # benchstat style: every result carries the warnings that apply to it, so a
    # reader of one JSON entry sees the design problems too (reports print them once).
    design_wide = [c for c in checks if not c.startswith(tuple(f"{w}/" for w, _ in comps))
                   and not c.startswith(("claim ", "all "))]
    for item in list(comps.values()) + judged:
        item["warnings"][:0] = [w for w in design_wide if w not in item["warnings"]]
    return {
        "format": FORMAT,
        "simulated": simulated,
        "baseline": baseline, "candidate": candidate,
        "confidence": confidence, "seed": seed, "resamples": resamples,
        "costs": {"reboot_s": reboot_cost, "iteration_s": iter_cost, "note": cost_note},
        "design": design,
        "checks": checks,
        "notes": notes,
        "skipped": summarize_skipped(tidy.skipped),
        "skipped_items": [{"file": x.file, "line": x.line, "reason": x.reason}
                          for x in tidy.skipped[:MAX_SKIPPED_ITEMS]],
        "comparisons": [comps[k] for k in sorted(comps)],
        "claims": judged,
    }
