"""One (workload, metric) compared between two arms: interval, tests, variance components, warnings.

The interval is the hull of the expanded hierarchical-bootstrap interval and
a Welch t interval of log per-boot means: with few boots the percentile
bootstrap cannot reach past the boots it saw (tests/calibration.py). Arms
whose records say they were set up differently (crypt, backing, fs, ...)
are marked not comparable.
"""

from __future__ import annotations

import json
import re
import zlib

import numpy as np

from benchctl.analyze.series import Series
from benchctl.analyze.stats import bootstrap, classical, components, trend

RESOLUTION_PCT = {"coarse-pow2": 100.0, "hdr-3sig": 0.1, "exact": 0.0}
ONE_BOOT_WARNING = (
    "fewer than 2 boots on a side ({sides}): the interval resamples iterations only and "
    "does not cover boot-to-boot variation; it describes this boot, not the kernel"
)


def _summary(s: Series) -> dict:
    stats = s.arm.boot_stats()
    return {
        "n_boots": int(s.arm.n_boots),
        "n_samples": int(len(s.values)),
        "mean": float(stats.mean()),
        "median": float(np.median(s.values)),
        "boot_means": [float(x) for x in stats],
        "boots": [str(b) for b in s.boots],
        "samples_per_boot": [int(x) for x in s.arm.sizes],
    }


def _seed_for(seed: int, workload: str, metric: str) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, zlib.crc32(f"{workload}\0{metric}".encode())])


PERCENTILE_METRIC = re.compile(r"(^|_)p\d+(_|$)")


def _resolution(notes: set[str]) -> tuple[float | None, str | None]:
    worst, name = None, None
    for n in notes:
        if not n:
            continue
        try:
            d = json.loads(n)
        except json.JSONDecodeError:
            continue
        r = d.get("latency_resolution") if isinstance(d, dict) else None
        if r in RESOLUTION_PCT and (worst is None or RESOLUTION_PCT[r] > worst):
            worst, name = RESOLUTION_PCT[r], r
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
            out.append(
                f"not comparable: {k} differs between arms ({baseline}: "
                f"{', '.join(sorted(b.get(k, set()))) or 'unset'}; {candidate}: "
                f"{', '.join(sorted(c.get(k, set()))) or 'unset'})"
            )
    return out


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
    warnings: list[str] = []
    few = [f"{name} {s.arm.n_boots}" for name, s in ((baseline, base), (candidate, cand)) if s.arm.n_boots < 2]
    if few:
        warnings.append(ONE_BOOT_WARNING.format(sides=", ".join(few)))
    bs = bootstrap.bootstrap_ratio(
        base.arm,
        cand.arm,
        resamples=resamples,
        level=confidence,
        seed_seq=_seed_for(seed, workload, metric),
        exact=exact,
    )
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
        warnings += trend.drift_warnings(name, s.arm.boot_stats(), list(zip(s.boots, s.groups(), strict=True)))
    if w.p_value is None:
        warnings.append(f"no p-value: Welch's test {w.note}")
    if base.unit and cand.unit and base.unit != cand.unit:
        warnings.append(
            f"units differ between arms ({baseline}: {base.unit}, {candidate}: {cand.unit}); "
            "the change is meaningless unless they are the same quantity"
        )
    # Only percentiles are read off the tool's buckets; throughput and means are not.
    res, res_name = _resolution(base.notes | cand.notes) if PERCENTILE_METRIC.search(metric) else (None, None)
    mismatch = setup_mismatch(base.notes, cand.notes, baseline, candidate)
    warnings[:0] = mismatch
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
        "resolution": {"latency_resolution": res_name, "resolution_pct": res} if res_name else None,
        "comparable": not mismatch,
    }
