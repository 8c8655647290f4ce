"""Identical values across boots: a copy, a coarse metric, or an exact one.

Issue 13 made identical values across boots "duplicate data": the same
output counted as several boots fakes precision. Issue 12 measured the
counter-example on real arm64 kernels with real kexec reboots: MemTotal is
the same on every boot of a kernel (2030456 kB on both rodata=full boots,
2034508 kB on both rodata=on boots), because the linear map's page tables
are reserved from memblock before the page allocator counts memory. The
catalogue marks such metrics `exact` (results/metrics.py). The rules
(docs/analyze.md "Identical values"):

- byte-identical raw outputs, a boot in both arms: duplicate data for
  every metric (checks.py finds them, result.py applies them);
- an exact metric with one value on every boot of each arm (>= 2 boots a
  side) is compared exactly: a zero-width interval, the verdict from the
  exact change, provided something shows the boots are distinct
  measurements (Evidence); with nothing to show it, not judged;
- an exact metric that differs between boots of one arm: a check (what
  moves it changed between boots), and the sampling statistics of any
  metric;
- any other metric with one value on every boot of an arm: duplicate data
  when nothing shows the boots are distinct; "no spread" when something
  does (the metric's steps are coarser than its boot-to-boot spread, as
  PageTables' 4 kB pages over two boots): not judged either way.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from benchctl.analyze.checks import raw_files
from benchctl.analyze.series import Series
from benchctl.results.metrics import MetricInfo
from benchctl.results.table import BootMeta, Frame

EXACT_TEXT = "exact: the same value on every boot of an arm"
VARIES_PREFIX = "exact metric varies"
UNSHOWN_PREFIX = "boots not shown distinct"


@dataclass(frozen=True)
class Evidence:
    """What shows that one arm's boots of one workload are distinct measurements."""

    raw: bool  # every boot has raw outputs, and no two raw outputs of the workload are byte-identical
    varying: frozenset[str]  # metrics of the workload whose per-boot values differ between these boots

    def for_metric(self, metric: str) -> str:
        """The evidence in words ('' when nothing shows it); a metric is no evidence for itself."""
        if self.raw:
            return "distinct raw outputs"
        others = sorted(self.varying - {metric})
        return f"{others[0]} differs between them" if others else ""


def cells(df: Frame) -> Frame:
    """Rows and mean value per (workload, arm, metric, boot): one grouping for the evidence and the design."""
    return df.groupby(["workload", "arm", "metric", "boot"], sort=False, observed=True)["value"].agg(["size", "mean"])


def evidence(
    df: Frame, boots: list[BootMeta], dup_workloads: set[str], per_cell: Frame | None = None
) -> dict[tuple[str, str], Evidence]:
    """(workload, arm) -> Evidence, from the rows (any source) and the run folders' raw/ files;
    per_cell is cells(df) when the caller has it."""
    with_raw: dict[tuple[str, str], set[str]] = {}
    all_boots: dict[tuple[str, str], set[str]] = {}
    for b in boots:
        all_boots.setdefault((b.workload, b.arm), set()).add(b.boot)
        if next(raw_files(b), None) is not None:
            with_raw.setdefault((b.workload, b.arm), set()).add(b.boot)
    per_boot = (cells(df) if per_cell is None else per_cell)["mean"]
    spread = per_boot.groupby(level=[0, 1, 2], sort=False, observed=True).agg(
        lambda x: len(x) >= 2 and np.ptp(x.to_numpy()) > 0
    )
    varying: dict[tuple[str, str], set[str]] = {}
    for (workload, arm, metric), differs in spread.items():
        if differs:
            varying.setdefault((workload, arm), set()).add(metric)
    keys = set(all_boots) | {(w, a) for w, a, _ in spread.index}
    return {
        k: Evidence(
            raw=k[0] not in dup_workloads and bool(all_boots.get(k)) and with_raw.get(k, set()) >= all_boots[k],
            varying=frozenset(varying.get(k, ())),
        )
        for k in keys
    }


def constant(s: Series) -> str | None:
    """'boots' when >= 2 boots share one value, 'values' when every value is the same, else None."""
    if s.arm.n_boots >= 2 and np.ptp(s.arm.boot_stats()) == 0:
        return "boots"
    if len(s.values) >= 2 and np.ptp(s.values) == 0:
        return "values"
    return None


def no_spread(name: str, s: Series, shown: str) -> str | None:
    """Why a metric that varies by chance cannot be judged on these values, or None.

    Without evidence of distinct boots, identical values are what a file
    imported several times looks like (issue 13); with it they are a
    metric too coarse for its spread, still no basis for an interval.
    """
    kind = constant(s)
    if kind is None:
        return None
    what = f"all {s.arm.n_boots} boots of {name}" if kind == "boots" else f"all {len(s.values)} values of {name}"
    if shown:
        return (
            f"no spread: {what} gave the same value although they are distinct measurements ({shown}): "
            "the metric moves in steps coarse against its spread, and a side without spread understates the noise"
        )
    if kind == "boots":
        return f"duplicate data: {what} gave exactly the same value (a repeated output, or a constant)"
    return f"duplicate data: {what} are identical: no spread, no interval"


def exact_values(base: Series, cand: Series) -> tuple[float, float] | None:
    """(baseline, candidate) when every value of each arm is one number over >= 2 boots, else None."""
    for s in (base, cand):
        if s.arm.n_boots < 2 or np.ptp(s.values) != 0:
            return None
    return float(base.values[0]), float(cand.values[0])


def unshown(metric: str, sides: list[tuple[str, Series, str]]) -> str | None:
    """Exact values, but nothing shows an arm's boots are distinct measurements: the reason, or None."""
    bare = [f"{s.arm.n_boots} boots of {name}" for name, s, shown in sides if not shown]
    if not bare:
        return None
    return (
        f"{UNSHOWN_PREFIX}: {metric} is exact, so its {' and '.join(bare)} agree as they should, but "
        "nothing shows they are distinct measurements rather than copies (no raw outputs, no other "
        "metric of these runs differs between them); give the raw outputs or another metric such as MemFree"
    )


def _value(v: float, unit: str) -> str:
    text = f"{int(v)}" if float(v).is_integer() else f"{v:.6g}"
    return f"{text} {unit}".rstrip()


def varies(name: str, s: Series, m: MetricInfo) -> str | None:
    """An exact metric that takes several values in one arm: what that means, or None."""
    if len(s.values) < 2 or np.ptp(s.values) == 0:
        return None
    counts = Counter(float(x) for x in s.arm.boot_stats())
    if len(counts) == 1:
        where = "within a boot"
        shown = ", ".join(_value(v, s.unit) for v in sorted(set(s.values.tolist()))[:3])
    else:
        where = "between boots"
        shown = "; ".join(
            f"{_value(v, s.unit)} on {n} boot{'s' if n > 1 else ''}" for v, n in counts.most_common(3)
        ) + ("; ..." if len(counts) > 3 else "")
    return (
        f"{VARIES_PREFIX} in {name}: {m.name} takes {len(set(s.values.tolist()))} values {where} ({shown}), "
        f"though it should not vary: something changed, {m.moved_by}; its interval counts that as noise"
    )
