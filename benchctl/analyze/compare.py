"""One (workload, metric) compared between two arms: the numbers behind a verdict.

compare() returns the comparison dict of the JSON output (report/jsonout.py):
per-arm summaries, the change with its interval, tests, variance
components, resolution, setup and the warnings that apply. It also says
when the data cannot carry any verdict (`not_judged`): duplicate or
constant data, setups that differ between the arms. verdicts.py reads that.
"""

from __future__ import annotations

import json
import math
import re
import warnings as pywarnings
import zlib

import numpy as np

from benchctl.analyze.series import Series
from benchctl.analyze.stats import bootstrap, classical, components, trend
from benchctl.parsers import LATENCY_RESOLUTION
from benchctl.results.metrics import SETUP_ALIASES, SETUP_KEYS, STRICT_SETUP

# latency_resolution label -> step in % (the parsers' table; bracket-only labels have no fixed step)
RESOLUTION_PCT = {k: 100.0 * v for k, v in LATENCY_RESOLUTION.items() if v is not None}
PERCENTILE_METRIC = re.compile(r"(^|_)p\d+(_|$)")
ONE_BOOT_WARNING = (
    "fewer than 2 boots on a side ({sides}): the interval resamples iterations only and "
    "does not cover boot-to-boot variation; it describes this boot, not the kernel"
)

ALIASES = SETUP_ALIASES


def _summary(s: Series) -> dict:
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


def _notes(notes: set[str]):
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


def canonical(key: str, value) -> str:
    """A setup value as compared: block sizes in bytes, everything else as text."""
    if key == "bs":
        from benchctl.sizes import parse_size

        try:
            return str(parse_size(value, error=ValueError))
        except ValueError:
            return str(value)
    return str(value)


def setup_of(notes: set[str]) -> dict[str, set[str]]:
    """Setup key -> the values the records carry (bs in bytes, fio's direction as op)."""
    out: dict[str, set[str]] = {}
    for d in _notes(notes):
        for k, v in d.items():
            k = ALIASES.get(k, k)
            if k in SETUP_KEYS and v is not None:
                out.setdefault(k, set()).add(canonical(k, v))
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


def sameness(name: str, s: Series) -> str | None:
    """Why an arm's numbers cannot be independent measurements, or None.

    Identical per-boot values in two or more boots, or one value repeated
    across every iteration, is what a file imported several times (or a
    copy of one run) looks like; a real kernel measurement always varies.
    """
    means = s.arm.boot_stats()
    if s.arm.n_boots >= 2 and np.ptp(means) == 0:
        return (
            f"duplicate data: all {s.arm.n_boots} boots of {name} gave exactly the same value "
            "(a repeated output, or a constant)"
        )
    if len(s.values) >= 2 and np.ptp(s.values) == 0:
        return f"duplicate data: all {len(s.values)} values of {name} are identical: no spread, no interval"
    return None


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
    base: Series, cand: Series, *, confidence: float, seed_seq, resamples: int, exact: bool | None
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
    exact: bool | None = None,
) -> dict:
    """The comparison dict (module doc) of one metric between two arms."""
    warnings: list[str] = []
    few = [f"{name} {s.arm.n_boots}" for name, s in ((baseline, base), (candidate, cand)) if s.arm.n_boots < 2]
    if few:
        warnings.append(ONE_BOOT_WARNING.format(sides=", ".join(few)))
    with np.errstate(all="ignore"):
        bs, ci_pct, method = _interval(
            base,
            cand,
            confidence=confidence,
            resamples=resamples,
            exact=exact,
            seed_seq=_seed_for(seed, workload, metric),
        )
    warnings += bs.warnings
    w, u, test_notes = _tests(base.arm.boot_stats(), cand.arm.boot_stats())
    warnings += test_notes
    vc = {}
    for name, s in (("baseline", base), ("candidate", cand)):
        tl = components.two_level(s.groups())
        vc[name] = tl.as_dict()
        warnings += [f"{name}: {x}" for x in tl.warnings if s.arm.n_boots >= 2 or "one boot" not in x]
    for name, s in ((baseline, base), (candidate, cand)):
        warnings += trend.drift_warnings(name, s.arm.boot_stats(), list(zip(s.boots, s.groups(), strict=True)))
    if w.p_value is None:
        warnings.append(f"no p-value: Welch's test {w.note}")
    if base.unit and cand.unit and base.unit != cand.unit:
        warnings.append(
            f"units differ between arms ({baseline}: {base.unit}, {candidate}: {cand.unit}); "
            "the change is meaningless unless they are the same quantity"
        )
    # Only percentiles are read off the tool's buckets; throughput and means are not.
    res, res_name = resolution(base.notes | cand.notes) if PERCENTILE_METRIC.search(metric) else (None, None)
    refuse, setup_warn = setup_mismatch(base.notes, cand.notes, baseline, candidate)
    dup = [d for d in (sameness(baseline, base), sameness(candidate, cand)) if d]
    warnings[:0] = refuse + dup
    warnings += setup_warn
    if is_ratio:
        method += "; ratio of sums of raw counters per boot"
    return {
        "workload": workload,
        "metric": metric,
        "unit": base.unit or cand.unit,
        "baseline": _summary(base),
        "candidate": _summary(cand),
        "change_pct": bs.change_pct,
        "ci_pct": ci_pct,
        "bootstrap_ci_pct": list(bs.ci_pct),
        "p_value": w.p_value,
        "method": method + "; p: Welch t-test on per-boot means",
        "variance_components": vc,
        "warnings": warnings,
        "ci_level_used": bs.level_used,
        "tests": {"welch": w.as_dict(), "mann_whitney": u.as_dict()},
        "resolution": {"latency_resolution": res_name, "resolution_pct": res} if res is not None else None,
        "setup": {k: sorted(v) for k, v in setup_of(base.notes | cand.notes).items()},
        "comparable": not refuse,
        "not_judged": refuse + dup,
    }
