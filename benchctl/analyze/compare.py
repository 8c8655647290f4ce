"""One (workload, metric) compared between two arms: the numbers behind a verdict.

compare() returns the comparison dict of the JSON output (report/jsonout.py):
per-arm summaries, the change with its interval, tests, variance
components, resolution, setup and the warnings that apply. An exact metric
with one value on every boot of each arm is compared exactly (`exact`, a
zero-width interval; sameness.py says when). It also says when the data
cannot carry any verdict (`not_judged`): duplicate data, no spread, setups
that differ between the arms. judge.py reads that.
"""

from __future__ import annotations

import json
import math
import re
import warnings as pywarnings
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from benchctl.analyze import sameness
from benchctl.analyze.resulttypes import ArmSummary, Comparison, VarianceComponents
from benchctl.analyze.sameness import EXACT_TEXT
from benchctl.analyze.series import Series
from benchctl.analyze.stats import bootstrap, classical, components, trend
from benchctl.parsers import LATENCY_RESOLUTION
from benchctl.results.metrics import SETUP_KEYS, STRICT_SETUP, MetricInfo, info, setup_items, setup_value

# latency_resolution label -> step in % (the parsers' table; bracket-only labels have no fixed step)
RESOLUTION_PCT = {k: 100.0 * v for k, v in LATENCY_RESOLUTION.items() if v is not None}
PERCENTILE_METRIC = re.compile(r"(^|_)p\d+(_|$)")
ONE_BOOT_WARNING = (
    "fewer than 2 boots on a side ({sides}): the interval resamples iterations only and "
    "does not cover boot-to-boot variation; it describes this boot, not the kernel"
)


def _summary(s: Series) -> ArmSummary:
    stats = s.arm.boot_stats()
    mean = float(stats.mean())
    sd = float(np.std(stats, ddof=1)) if len(stats) > 1 else None
    return {
        "n_boots": int(s.arm.n_boots),
        "n_samples": int(len(s.values)),
        "mean": mean,
        "median": float(np.median(s.values)),
        "boot_sd_pct": (100.0 * sd / abs(mean)) if sd is not None and mean else None,
        "boot_means": [float(x) for x in stats],
        "boots": [str(b) for b in s.boots],
        "samples_per_boot": [int(x) for x in s.arm.sizes],
    }


def _seed_for(seed: int, workload: str, metric: str) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, zlib.crc32(f"{workload}\0{metric}".encode())])


def _notes(notes: set[str]) -> Iterator[dict[str, Any]]:
    for n in notes:
        if not n:
            continue
        try:
            d = json.loads(n)
        except json.JSONDecodeError:
            continue
        if isinstance(d, dict):
            yield d


def resolution(notes: set[str]) -> tuple[float | None, str | None]:
    """The coarsest step (in %) among the records' notes, and its label.

    A note's own resolution_pct (the width of the histogram bucket its value
    fell in, which for HdrHistogram depends on the value) wins over the
    label's fixed step (memtier branch, d18e6d4).
    """
    worst, name = None, None
    for d in _notes(notes):
        r = d.get("latency_resolution")
        step = d.get("resolution_pct")
        if isinstance(step, bool) or not isinstance(step, (int, float)) or not math.isfinite(step):
            step = RESOLUTION_PCT.get(r) if isinstance(r, str) else None
        if step is not None and (worst is None or step > worst):
            worst, name = float(step), r
    return worst, name


def setup_of(notes: set[str]) -> dict[str, set[str]]:
    """Setup key -> the values the records carry (bs in bytes, fio's direction as op)."""
    out: dict[str, set[str]] = {}
    for d in _notes(notes):
        for k, v in setup_items(d):
            out.setdefault(k, set()).add(setup_value(k, v))
    return out


def _vals(s: set[str]) -> str:
    return ", ".join(sorted(s)) or "not recorded"


def setup_mismatch(
    base_notes: set[str], cand_notes: set[str], baseline: str, candidate: str
) -> tuple[list[str], list[str]]:
    """(refusals, warnings): setups that differ between arms.

    A strict key unknown on one side refuses the comparison; other keys
    refuse only when both sides recorded different values and warn when
    one side did not record them.
    """
    b, c = setup_of(base_notes), setup_of(cand_notes)
    refuse, warn = [], []
    for arm, st in ((baseline, b), (candidate, c)):
        mixed = [f"{k}={'/'.join(sorted(st[k]))}" for k in STRICT_SETUP if len(st.get(k, ())) > 1]
        if mixed:
            refuse.append(f"not comparable: {arm} mixes setups ({', '.join(mixed)}); analyze one setup at a time")
    for k in SETUP_KEYS:
        bv, cv = b.get(k, set()), c.get(k, set())
        if bv == cv:
            continue
        text = f"{k} differs between arms ({baseline}: {_vals(bv)}; {candidate}: {_vals(cv)})"
        if (bv and cv) or k in STRICT_SETUP:
            fix = "" if bv and cv else f"; give --set {k}=VALUE to benchctl import"
            refuse.append(f"not comparable: {text}{fix}")
        else:
            warn.append(f"{text}: assumed the same")
    return refuse, warn


def _tests(mb: np.ndarray, mc: np.ndarray) -> tuple[classical.TestResult, classical.TestResult, list[str]]:
    """Welch and Mann-Whitney on per-boot means; library warnings become one plain line."""
    with pywarnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        pywarnings.simplefilter("always")
        w = classical.welch(mb, mc)
        u = classical.mann_whitney(mb, mc)
    notes = []
    if caught:
        notes.append("the tests lost precision (per-boot values nearly identical): treat p as unreliable")
    return w, u, notes


def _interval(
    base: Series,
    cand: Series,
    *,
    confidence: float,
    seed_seq: np.random.SeedSequence,
    resamples: int,
    exact: bool | None,
) -> tuple[bootstrap.BootstrapResult, list[float], str]:
    bs = bootstrap.bootstrap_ratio(
        base.arm, cand.arm, resamples=resamples, level=confidence, seed_seq=seed_seq, exact=exact
    )
    ci_pct = list(bs.ci_pct)
    method = bs.method
    tint = bootstrap.t_interval_ratio(base.arm.boot_stats(), cand.arm.boot_stats(), confidence)
    if tint is not None:
        t_pct = [(tint[0] - 1) * 100, (tint[1] - 1) * 100]
        if t_pct[0] < ci_pct[0] or t_pct[1] > ci_pct[1]:
            method += "; interval widened to the Welch t interval of log per-boot means (few boots)"
        ci_pct = [min(ci_pct[0], t_pct[0]), max(ci_pct[1], t_pct[1])]
    return bs, ci_pct, method


def _sampling(
    base: Series,
    cand: Series,
    *,
    confidence: float,
    seed_seq: np.random.SeedSequence,
    resamples: int,
    exact_resampling: bool | None,
) -> dict[str, Any]:
    """Change, interval, tests and their warnings from the hierarchical bootstrap and Welch (module doc)."""
    with np.errstate(all="ignore"):
        bs, ci_pct, method = _interval(
            base, cand, confidence=confidence, resamples=resamples, exact=exact_resampling, seed_seq=seed_seq
        )
    w, u, test_notes = _tests(base.arm.boot_stats(), cand.arm.boot_stats())
    return {
        "change_pct": bs.change_pct,
        "ci_pct": ci_pct,
        "bootstrap_ci_pct": list(bs.ci_pct),
        "ci_level_used": bs.level_used,
        "method": method + "; p: Welch t-test on per-boot means",
        "p_value": w.p_value,
        "tests": {"welch": w.as_dict(), "mann_whitney": u.as_dict()},
        "warnings": bs.warnings + test_notes,
        "welch_note": w.note if w.p_value is None else None,
    }


def _fixed(values: tuple[float, float], m: MetricInfo, base: Series, cand: Series) -> dict[str, Any]:
    """The exact comparison of an exact metric (sameness.py): one value per arm, no sampling."""
    b, c = values
    change = (c / b - 1.0) * 100.0
    why = f"not run: {EXACT_TEXT} (no sampling variation to test)"
    return {
        "change_pct": change,
        "ci_pct": [change, change],
        "bootstrap_ci_pct": [change, change],
        "ci_level_used": 1.0,
        "method": (
            f"{EXACT_TEXT} ({base.arm.n_boots} and {cand.arm.n_boots} boots): the change is exact and the "
            f"interval has zero width; {m.name} is exact because {m.exact}"
        ),
        "p_value": None,
        "tests": {
            "welch": classical.TestResult("welch", None, None, why).as_dict(),
            "mann_whitney": classical.TestResult("mann-whitney", None, None, why).as_dict(),
        },
        "warnings": [],
        "welch_note": None,
        "exact": {"baseline": b, "candidate": c, "reason": m.exact},
    }


def _noise(
    base: Series, cand: Series, baseline: str, candidate: str, sampled: bool
) -> tuple[dict[str, VarianceComponents], list[str]]:
    """Variance components per arm, and their and the drift checks' warnings (none for exact values)."""
    vc, warnings = {}, []
    for role, s in (("baseline", base), ("candidate", cand)):
        tl = components.two_level(s.groups())
        vc[role] = tl.as_dict()
        if sampled:
            warnings += [f"{role}: {x}" for x in tl.warnings if s.arm.n_boots >= 2 or "one boot" not in x]
    for name, s in ((baseline, base), (candidate, cand)):
        if sampled:
            warnings += trend.drift_warnings(name, s.arm.boot_stats(), list(zip(s.boots, s.groups(), strict=True)))
    return vc, warnings


def _identical(m: MetricInfo, sides: list[tuple[str, Series, str]], fixed: bool) -> tuple[list[str], list[str]]:
    """(reasons for no verdict, checks) from identical or varying values (sameness.py)."""
    if fixed:
        why = sameness.unshown(m.name, sides)
        return ([why] if why else []), []
    if m.exact:
        return [], [w for name, s, _ in sides if (w := sameness.varies(name, s, m))]
    return [w for name, s, shown in sides if (w := sameness.no_spread(name, s, shown))], []


def compare(
    workload: str,
    metric: str,
    base: Series,
    cand: Series,
    *,
    confidence: float,
    seed: int,
    resamples: int,
    baseline: str,
    candidate: str,
    is_ratio: bool,
    exact_resampling: bool | None = None,
    evidence: dict[str, str] | None = None,
) -> Comparison:
    """The comparison dict (module doc) of one metric between two arms.

    evidence: arm -> what shows its boots are distinct measurements ('' or
    absent: nothing does), from sameness.evidence.
    """
    m = info(metric)
    fixed = None if is_ratio or not m.exact else sameness.exact_values(base, cand)
    if fixed is not None:
        est = _fixed(fixed, m, base, cand)
    else:
        est = _sampling(
            base,
            cand,
            confidence=confidence,
            resamples=resamples,
            exact_resampling=exact_resampling,
            seed_seq=_seed_for(seed, workload, metric),
        )
    warnings: list[str] = []
    few = [f"{name} {s.arm.n_boots}" for name, s in ((baseline, base), (candidate, cand)) if s.arm.n_boots < 2]
    if few:
        warnings.append(ONE_BOOT_WARNING.format(sides=", ".join(few)))
    warnings += est["warnings"]
    vc, noise_warnings = _noise(base, cand, baseline, candidate, sampled=fixed is None)
    warnings += noise_warnings
    if est["welch_note"]:
        warnings.append(f"no p-value: Welch's test {est['welch_note']}")
    if base.unit and cand.unit and base.unit != cand.unit:
        warnings.append(
            f"units differ between arms ({baseline}: {base.unit}, {candidate}: {cand.unit}); "
            "the change is meaningless unless they are the same quantity"
        )
    # Only percentiles are read off the tool's buckets; throughput and means are not.
    res, res_name = resolution(base.notes | cand.notes) if PERCENTILE_METRIC.search(metric) else (None, None)
    refuse, setup_warn = setup_mismatch(base.notes, cand.notes, baseline, candidate)
    shown = evidence or {}
    sides = [(baseline, base, shown.get(baseline, "")), (candidate, cand, shown.get(candidate, ""))]
    dup, varied = _identical(m, sides, fixed is not None)
    warnings[:0] = refuse + dup + varied
    warnings += setup_warn
    method = est["method"] + ("; ratio of sums of raw counters per boot" if is_ratio else "")
    return {
        "workload": workload,
        "metric": metric,
        "unit": base.unit or cand.unit,
        "baseline": _summary(base),
        "candidate": _summary(cand),
        "change_pct": est["change_pct"],
        "ci_pct": est["ci_pct"],
        "bootstrap_ci_pct": est["bootstrap_ci_pct"],
        "p_value": est["p_value"],
        "method": method,
        "variance_components": vc,
        "warnings": warnings,
        "ci_level_used": est["ci_level_used"],
        "tests": est["tests"],
        "resolution": {"latency_resolution": res_name, "resolution_pct": res} if res is not None else None,
        "setup": {k: sorted(v) for k, v in setup_of(base.notes | cand.notes).items()},
        "comparable": not refuse,
        "not_judged": refuse + dup,
        "exact": est.get("exact"),
    }
