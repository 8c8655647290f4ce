"""What a finished run says about its own repeatability: within-boot CV per metric and the quiesce count.

Printed at the end of every workload and kept in run.json (`variance`,
`quiesce`; docs/result-format.md), so a user sees at once whether the
iterations agree well enough to resolve the claimed change, and how many
passes started outside the workload's stated state (benchctl.run.quiesce).

CV = s / mean, with s the sample standard deviation (ddof=1, Bessel's
correction) over the run's measured iterations, warm-ups left out. A run is
one boot, so this is the within-boot CV that `benchctl plan` calls
within-boot noise. Undefined (null, with the reason) for fewer than two
values or a zero mean.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable
from typing import Any

from benchctl.human import wrap

FORMULA = "cv = sd(ddof=1) / mean over the run's measured iterations"


def cv(values: Iterable[float]) -> float | None:
    """Coefficient of variation s / mean (s with ddof=1); None for < 2 values or a zero mean."""
    xs = [float(v) for v in values]
    if len(xs) < 2:
        return None
    mean = statistics.fmean(xs)
    if mean == 0 or not math.isfinite(mean):
        return None
    return statistics.stdev(xs) / abs(mean)


def per_metric(records: list[dict[str, Any]], iterations: set[int] | None = None) -> dict[str, dict[str, Any]]:
    """{metric: {n, mean, sd, cv_pct, unit}} over measured records (of `iterations` when given)."""
    by: dict[str, list[float]] = {}
    units: dict[str, str] = {}
    for r in records:
        if r.get("warmup") or (iterations is not None and int(r["iteration"]) not in iterations):
            continue
        by.setdefault(r["metric"], []).append(float(r["value"]))
        units[r["metric"]] = r.get("unit", "")
    out = {}
    for metric, xs in by.items():
        c = cv(xs)
        out[metric] = {
            "n": len(xs),
            "mean": statistics.fmean(xs),
            "sd": statistics.stdev(xs) if len(xs) >= 2 else None,
            "cv_pct": round(100 * c, 3) if c is not None else None,
            "unit": units[metric],
        }
        if c is None:
            out[metric]["why"] = "fewer than 2 iterations" if len(xs) < 2 else "mean is zero"
    return out


def quiesce_summary(records: list[dict[str, Any]], rule: dict[str, Any] | None) -> dict[str, Any] | None:
    """How the passes started: seconds spent quiescing, the state at start, which passes missed the rule."""
    if rule is None:
        return None
    notes: dict[int, dict[str, Any]] = {}
    for r in records:
        note = r.get("note") or {}
        if not r.get("warmup") and "quiesce_s" in note:
            notes.setdefault(int(r["iteration"]), note)
    secs = [n["quiesce_s"] for n in notes.values()]
    return {
        "rule": rule,
        "iterations": len(notes),
        "not_quiesced": sorted(i for i, n in notes.items() if n.get("not_quiesced")),
        "seconds_median": statistics.median(secs) if secs else None,
        "seconds_max": max(secs) if secs else None,
        "dirty_kb_max": max((n["dirty_kb"] for n in notes.values()), default=None),
        "writeback_kb_max": max((n["writeback_kb"] for n in notes.values()), default=None),
    }


def lines(variance: dict[str, dict[str, Any]], quiesce: dict[str, Any] | None) -> list[str]:
    """The end-of-workload summary, 72 columns wide."""
    out: list[str] = []
    if variance:
        n = max(v["n"] for v in variance.values())
        parts = [f"{m}={v['cv_pct']:.1f}%" if v["cv_pct"] is not None else f"{m}=n/a" for m, v in variance.items()]
        out += wrap(f"within-boot CV (sd ddof=1 / mean) over {n} iterations: {', '.join(parts)}", "  ", "benchctl: ")
    if quiesce is not None and quiesce["iterations"]:
        r = quiesce["rule"]
        out += wrap(
            f"quiesce (Dirty and Writeback <= {r['max_dirty_kb']} kB within {r['deadline_s']:g} s"
            f"{', drop_caches=' + str(r['drop_caches']) if r.get('drop_caches') else ''}): "
            f"median {quiesce['seconds_median']:.2f} s, max {quiesce['seconds_max']:.2f} s; "
            f"{len(quiesce['not_quiesced'])} of {quiesce['iterations']} iterations started outside it"
            + (f" ({', '.join(map(str, quiesce['not_quiesced']))}: not_quiesced)" if quiesce["not_quiesced"] else ""),
            "  ",
            "benchctl: ",
        )
    return out


def finish(folder: Any, echo: Callable[[str], None]) -> None:
    """At the end of a workload: compute both summaries from the folder's whole iterations, keep, print."""
    records, _ = folder.records()
    whole = folder.whole_iterations()
    kept = [r for r in records if r.get("warmup") or int(r["iteration"]) in whole]
    variance = per_metric(kept)
    quiesce = quiesce_summary(kept, (folder.manifest.get("spec") or {}).get("quiesce"))
    folder.update(variance={"formula": FORMULA, "metrics": variance}, quiesce=quiesce)
    for line in lines(variance, quiesce):
        echo(line)
