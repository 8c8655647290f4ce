"""The analysis behind `benchctl analyze`: tidy table in, one result dict out.

The result dict is what every report format renders and what the JSON output
is (see report/jsonout.py for the stable field list). Steps:
1. pick the two arms; rebuild ratio metrics (MPKI) from raw counters;
2. per (workload, metric): compare.py (per-boot statistics, the
   hierarchical bootstrap interval of the change, variance components,
   Welch and Mann-Whitney on per-boot means, drift, setup and duplicates);
3. per claim: judge.py (a verdict or "not-judged" and why, Holm across
   claims, what would decide it);
4. design checks (checks.py) listed before any number.

Choices a reader of the numbers should know (docs/analyze.md has more):
- Fewer than 2 boots on a side, a boot in both arms, duplicate data, no
  spread, setups that differ: the numbers are shown, the claims are not
  judged (verdict "not-judged", the first warning says why).
- A timing (rate, latency, throughput, PMU count) measured on an emulated
  CPU (qemu TCG, from the fingerprints) is not judged: it measures the
  emulator (emulation.py); memory quantities such as MemTotal are.
- Identical values across boots (sameness.py): an exact metric (MemTotal)
  with one value on every boot of each arm is compared exactly, with a
  zero-width interval; any other metric gets no verdict from them.
- The interval is the hull of the expanded hierarchical-bootstrap interval
  and a Welch t interval of log per-boot means: with few boots the
  percentile bootstrap cannot reach past the boots it saw (tests/support/calibration.py).
- A verdict asserting an effect also needs the Holm-adjusted p < 1 - confidence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchctl.analyze import checks as design_checks
from benchctl.analyze import emulation, kinds, machine, predictions, sameness
from benchctl.analyze.claimdata import validate_claims
from benchctl.analyze.compare import compare
from benchctl.analyze.judge import judge
from benchctl.analyze.machine import MACHINE_PREFIX
from benchctl.analyze.resulttypes import Analysis, ArmDesign, ClaimResult, Comparison, Costs, Emulated
from benchctl.analyze.sameness import Evidence
from benchctl.analyze.series import Series, boot_order, build_series, codes, split
from benchctl.analyze.stats import bootstrap
from benchctl.claims import Claim
from benchctl.errors import InputError, UsageError
from benchctl.results.metrics import RATIOS, RatioMetric
from benchctl.results.table import BootMeta, Frame, Tidy, summarize_skipped

FORMAT = "benchctl-analysis/2"
DEFAULT_REBOOT_COST = 300.0
DEFAULT_ITER_COST = 60.0
MAX_SKIPPED_ITEMS = 1000
# per-comparison warnings that are design problems: listed once among the checks, before the numbers
PROMOTED = (
    "fewer than 2 boots",
    "not comparable",
    "duplicate data",
    sameness.UNSHOWN_PREFIX,
    sameness.VARIES_PREFIX,
)


def _iteration_cost(df: Frame) -> float | None:
    """Median seconds between consecutive iterations of a run, from record timestamps."""
    if "t" not in df or not df["t"].notna().any():
        return None
    firsts = df.dropna(subset=["t"]).groupby(["run", "iteration"], observed=True)["t"].min().reset_index()
    firsts = firsts.sort_values(["run", "iteration"])
    d = firsts.groupby("run", observed=True)["t"].diff().dropna()
    d = d[d > 0]
    return float(d.median()) if len(d) else None


def _check_arms(tidy: Tidy, baseline: str, candidate: str, confidence: float) -> None:
    """Both arms have usable rows (else say what happened to them), and the options make sense."""
    if not 0.5 <= confidence < 1:
        raise UsageError(f"--confidence must be in [0.5, 1), not {confidence}")
    if baseline == candidate:
        raise UsageError(f"--baseline and --candidate are both {baseline!r}: compare two different arms")
    df = tidy.df
    arms_present = sorted(set(df["arm"].unique())) if len(df) else []
    known = set(arms_present) | {b.arm for b in tidy.boots} | {s.arm for s in tidy.skipped if s.arm}
    for arm in (baseline, candidate):
        if arm not in arms_present:
            why = " (every row of it was skipped)" if arm in known else ""
            first = next((s for s in tidy.skipped if s.arm == arm), None)
            extra = f"; first problem: {first}" if first else ""
            raise InputError(
                f"arm {arm!r} has no usable rows{why}; arms in the data: {', '.join(arms_present) or 'none'}{extra}"
            )


def _all_series(
    tidy: Tidy, df: Frame, baseline: str, candidate: str, notes: list[str]
) -> dict[tuple[str, str], tuple[Series, Series, bool]]:
    """(baseline, candidate, is_ratio) per comparable (workload, metric); why others are not compared goes to notes."""
    order = boot_order(tidy, df)
    series: dict[tuple[str, str], tuple[Series, Series, bool]] = {}
    groups = split(df, ["arm", "boot", "run", "iteration", "value", "note", "unit"])
    ratio_keys: dict[tuple[str, str], RatioMetric] = {}
    for workload in sorted({w for w, _ in groups}):
        for ratio in RATIOS.values():
            parts = list(ratio.numerators) + [ratio.denominator]
            if all((workload, p) in groups for p in parts):
                ratio_keys[(workload, ratio.name)] = ratio
    for workload, metric in sorted(set(groups) | set(ratio_keys)):
        r = ratio_keys.get((workload, metric))
        if r is not None:
            parts = list(r.numerators) + [r.denominator]
            sub = df[(df["workload"] == workload) & df["metric"].isin(parts)]
            if (workload, metric) in groups:
                notes.append(
                    f"{workload}/{metric}: recomputed from raw counters as a ratio of sums "
                    "per boot (the per-iteration ratios in the data are not averaged)"
                )
            per_arm = {a: sub[sub["arm"] == a] for a in (baseline, candidate)}
        else:
            per_arm = {a: groups[(workload, metric)].get(a, df.iloc[:0]) for a in (baseline, candidate)}
        if any(len(x) == 0 for x in per_arm.values()):
            only = [a for a in per_arm if len(per_arm[a])]
            notes.append(f"{workload}/{metric}: only in arm {only[0]}; not compared")
            continue
        base = build_series(per_arm[baseline], order, r)
        cand = build_series(per_arm[candidate], order, r)
        if base.arm.n_boots == 0 or cand.arm.n_boots == 0:
            notes.append(f"{workload}/{metric}: no complete counter sets; not compared")
            continue
        if base.arm.estimate() == 0:
            notes.append(f"{workload}/{metric}: baseline mean is 0, a percent change is undefined; not compared")
            continue
        series[(workload, metric)] = (base, cand, r is not None)
    return series


Progress = Callable[[int, int, str], None]


def _compare_all(
    series: dict[tuple[str, str], tuple[Series, Series, bool]],
    shown: dict[tuple[str, str], Evidence],
    progress: Progress | None = None,
    **kw: Any,
) -> dict[tuple[str, str], Comparison]:
    # One budget for the whole table: past it every comparison uses the normal limit, so
    # which metrics get exact resampling never depends on their order.
    work = sum(bootstrap.exact_work(s.arm, kw["resamples"]) for b, c, _ in series.values() for s in (b, c))
    exact = None if work <= bootstrap.TOTAL_EXACT_BUDGET else False
    arms = (kw["baseline"], kw["candidate"])
    comps: dict[tuple[str, str], Comparison] = {}
    for k, ((workload, metric), (base, cand, is_ratio)) in enumerate(series.items(), 1):
        if progress:
            progress(k, len(series), f"{workload}/{metric}")
        ev = {a: shown[(workload, a)].for_metric(metric) for a in arms if (workload, a) in shown}
        comps[(workload, metric)] = compare(
            workload, metric, base, cand, is_ratio=is_ratio, exact_resampling=exact, evidence=ev, **kw
        )
        if metric in RATIOS and not is_ratio:
            comps[(workload, metric)]["warnings"].append(
                f"raw counters ({', '.join(RATIOS[metric].numerators)}, {RATIOS[metric].denominator}) absent: "
                "boot values are means of per-iteration ratios, not ratios of sums"
            )
    return comps


def _design(df: Frame, boots_sel: list[BootMeta], arms: tuple[str, str], per_cell: Frame) -> dict[str, ArmDesign]:
    """Each arm's hosts, kernels, boots x iterations and setup; per_cell is sameness.cells(df)."""
    design: dict[str, ArmDesign] = {}
    (a, an), (h, hn) = codes(df["arm"]), codes(df["host"])
    pairs = np.flatnonzero(np.bincount(a.astype(np.int64) * len(hn) + h, minlength=len(an) * len(hn)))
    hosts = [(an[k // len(hn)], hn[k % len(hn)]) for k in pairs]  # the (arm, host) pairs with rows
    for arm in arms:
        per_boot = per_cell["size"][per_cell.index.get_level_values("arm") == arm]
        mine = [b for b in boots_sel if b.arm == arm]
        design[arm] = {
            "hosts": sorted(str(h) for a, h in hosts if a == arm),
            "kernels": sorted({b.kernel_release for b in mine if b.kernel_release}),
            "boots": int(per_boot.index.get_level_values("boot").nunique()),
            "iterations_per_boot": int(per_boot.median()) if len(per_boot) else 0,
            "linear_map": sorted({b.linear_map_before for b in mine if b.linear_map_before}),
            "linear_map_source": sorted({b.linear_map_source for b in mine if b.linear_map_source}),
            "cpus": sorted({b.cpu_identity for b in mine if b.cpu_identity}),
            "emulated": sorted({b.emulation_how or "emulated" for b in mine if b.emulated}),
            "boot_methods": sorted({b.boot_method for b in mine if b.boot_method}),
            "cmdlines": sorted({b.kernel_cmdline for b in mine if b.kernel_cmdline}),
            # imports given no --boot get one boot id per file set ("import-<run id>")
            "imported": sum(1 for b in mine if b.status == "imported" and b.boot.startswith("import-")),
            "unknown_host": any(b.host == "unknown" for b in mine),
        }
    return design


def _unsupported(judged: list[ClaimResult], boots_sel: list[BootMeta]) -> None:
    """A claim on a counter the runs could not count (an event the CPU's PMU does not implement, as
    under qemu) says so, with the run's reason, instead of only 'no data'."""
    for row in judged:
        if row["verdict"] != "not-judged" or row.get("ci_pct"):
            continue
        ratio = RATIOS.get(row["metric"])
        counters = [*ratio.numerators, ratio.denominator] if ratio else [row["metric"]]
        reasons = {
            name: b.unsupported[name]
            for b in boots_sel
            if b.workload == row["workload"]
            for name in counters
            if name in b.unsupported
        }
        if reasons:
            why = "; ".join(reasons[n] for n in counters if n in reasons)
            row["warnings"][0] = f"not judged: {row['metric']} unsupported on this host: {why}"


def _other_workload(judged: list[ClaimResult], comps: dict[tuple[str, str], Comparison]) -> None:
    """A claim with no data whose metric the data has under another workload name (an imported fio
    file is workload "fio", the claim's is "fio-dmcrypt") says which, and how to name it."""
    for row in judged:
        if row["verdict"] != "not-judged" or row.get("ci_pct") or "unsupported" in row["warnings"][0]:
            continue
        others = sorted(w for w, m in comps if m == row["metric"] and w != row["workload"])
        if others:
            row["warnings"][0] += (
                f"; the data has {row['metric']} under workload {', '.join(others)}: if that is this claim's, "
                f"import it with --workload {row['workload']}"
            )


def _block(comps: dict[tuple[str, str], Comparison], boots_sel: list[BootMeta], dup_workloads: set[str]) -> None:
    """Design-level reasons that void some comparisons' verdicts (a boot in both arms, copied raw files).

    Added to each comparison's not_judged before judge() reads them.
    """
    shared = design_checks.shared_boots(boots_sel)
    for comp in comps.values():
        both = shared & (set(comp["baseline"]["boots"]) | set(comp["candidate"]["boots"]))
        if both:
            comp["not_judged"].append(
                f"boot {sorted(both)[0][:12]} is in both arms: one boot cannot be two kernel "
                "configurations (a wrong arm label, or an A/A test)"
            )
        if comp["workload"] in dup_workloads:
            comp["not_judged"].append(
                "duplicate data: byte-identical raw outputs in this workload (see the checks); "
                "the same output counted more than once"
            )


def _checks(
    boots_sel: list[BootMeta],
    comps: dict[tuple[str, str], Comparison],
    judged: list[ClaimResult],
    simulated: bool,
    arms: tuple[str, str],
    blocked: list[str],
    emulated: Emulated | None = None,
) -> list[str]:
    """Design checks, then per-result problems that can void a verdict, listed up front; spread back to results."""
    checks = design_checks.all_checks(boots_sel, *arms) + blocked
    if emulated is not None:
        checks.insert(0, emulation.check(emulated))
    if boots_sel and all(b.source == "csv" for b in boots_sel):
        checks.append(
            "CSV input carries no fingerprints (env-before/after.json, run.json): linear-map, "
            "boot-consistency and taint checks could not run"
        )
    promoted: dict[str, list[str]] = {}
    for comp in comps.values():
        for w in comp["warnings"]:
            if "Kendall" in w or w.startswith(PROMOTED):
                promoted.setdefault(w, []).append(f"{comp['workload']}/{comp['metric']}")
    for w, where in promoted.items():
        shown = ", ".join(where[:4]) + (f" and {len(where) - 4} more" if len(where) > 4 else "")
        checks.append(
            f"{shown}: {w}" if len(where) < len(comps) or len(comps) == 1 else f"all {len(comps)} comparisons: {w}"
        )
    for row in judged:
        checks += [
            f"claim {row['id']}: {w}" for w in row["warnings"][:1] if w.startswith("not judged") and "resolution" in w
        ]
    if simulated:
        checks.insert(0, "SIMULATED data present (model output): nothing here is a measurement")
    # benchstat style: every result carries the warnings that apply to it, so a
    # reader of one JSON entry sees the design problems too (reports print them once).
    # (a machine check is attached by machine.checks to the claims naming that machine only)
    design_wide = [
        c
        for c in checks
        if not c.startswith(tuple(f"{w}/" for w, _ in comps)) and not c.startswith(("claim ", "all ", MACHINE_PREFIX))
    ]
    for item in list(comps.values()) + judged:
        first = item["warnings"][:1]
        keep = first if first and first[0].startswith("not judged") else []  # the reason stays first
        rest = item["warnings"][len(keep) :]
        item["warnings"] = keep + [w for w in design_wide if w not in rest] + rest
    return checks


def _costs(reboot_s: float, iteration_s: float, note: str | None, given: bool) -> Costs:
    return {
        "reboot_s": reboot_s,
        "iteration_s": iteration_s,
        "note": note,
        "iteration_from": "given" if given else ("assumed" if note else "timestamps"),
    }


def analyze(
    tidy: Tidy,
    baseline: str,
    candidate: str,
    claims: list[Claim] | None = None,
    *,
    confidence: float = 0.95,
    seed: int = 0,
    resamples: int = 10_000,
    reboot_cost: float = DEFAULT_REBOOT_COST,
    iteration_cost: float | None = None,
    progress: Progress | None = None,
) -> Analysis:
    """The result dict every report renders (module doc): comparisons, verdicts, checks, design."""
    _check_arms(tidy, baseline, candidate, confidence)
    df = tidy.df[tidy.df["arm"].isin([baseline, candidate])]
    validate_claims(claims or [], df)
    notes: list[str] = []
    series = _all_series(tidy, df, baseline, candidate, notes)
    boots_sel = [b for b in tidy.boots if b.arm in (baseline, candidate)]
    dup_msgs, dup_workloads = design_checks.duplicate_raw(boots_sel)
    per_cell = sameness.cells(df)
    comps = _compare_all(
        series,
        sameness.evidence(df, boots_sel, dup_workloads, per_cell),
        progress,
        confidence=confidence,
        seed=seed,
        resamples=resamples,
        baseline=baseline,
        candidate=candidate,
    )
    iter_cost = iteration_cost if iteration_cost is not None else _iteration_cost(df)
    cost_note = None
    if iter_cost is None:
        iter_cost = DEFAULT_ITER_COST
        cost_note = f"no record timestamps: iteration cost assumed {DEFAULT_ITER_COST:g} s"
    _block(comps, boots_sel, dup_workloads)
    emulated = emulation.summary(boots_sel)
    emulation.block(comps, boots_sel, emulated, (baseline, candidate))
    pool = kinds.pooled(comps, boots_sel)
    judged = judge(
        claims or [],
        comps,
        confidence,
        reboot_cost,
        iter_cost,
        arms=(baseline, candidate),
        scale=lambda row, c: kinds.scaling_row(row, c, df, boots_sel, (baseline, candidate), confidence),
    )
    simulated = bool(df["simulated"].any()) or any(b.simulated for b in boots_sel)
    _unsupported(judged, boots_sel)
    _other_workload(judged, comps)
    dup_msgs += machine.checks(claims or [], judged, boots_sel) + ([pool] if pool else [])
    checks = _checks(boots_sel, comps, judged, simulated, (baseline, candidate), dup_msgs, emulated)
    result: Analysis = {
        "format": FORMAT,
        "simulated": simulated,
        "emulated": emulated,
        "baseline": baseline,
        "candidate": candidate,
        "confidence": confidence,
        "seed": seed,
        "resamples": resamples,
        "costs": _costs(reboot_cost, iter_cost, cost_note, iteration_cost is not None),
        "design": _design(df, boots_sel, (baseline, candidate), per_cell),
        "checks": checks,
        "notes": notes,
        "skipped": summarize_skipped(tidy.skipped),
        "skipped_items": [
            {"file": x.file, "line": x.line, "reason": x.reason} for x in tidy.skipped[:MAX_SKIPPED_ITEMS]
        ],
        "comparisons": [comps[k] for k in sorted(comps)],
        "claims": judged,
    }
    predictions.attach(result, tidy, claims or [])
    return result
