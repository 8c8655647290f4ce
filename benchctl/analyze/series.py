"""One arm's numbers for one (workload, metric), ordered by boot: what every statistic takes.

Boots are ordered by their first start time (records' t, else run.json),
iterations within a boot by time; ratio metrics (MPKI) are rebuilt as
per-iteration sums of raw counters so that a boot's value is a ratio of
sums, never a mean of ratios.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchctl.analyze.stats import bootstrap
from benchctl.results.metrics import RatioMetric
from benchctl.results.table import Frame, Tidy


@dataclass
class Series:
    """One arm's data for one (workload, metric)."""

    arm: bootstrap.Arm
    boots: list[str]  # in start order
    values: np.ndarray  # per-iteration values (ratio metrics: per-iteration ratios)
    notes: set[str]
    unit: str

    def groups(self) -> list[np.ndarray]:
        o = self.arm.offsets
        return [self.values[o[i] : o[i + 1]] for i in range(len(o) - 1)]


def boot_order(tidy: Tidy, df: Frame) -> dict[tuple[str, str], float]:
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
        for key, t in df.groupby(["arm", "boot"], observed=True)["t"].min().items():
            if not math.isnan(t):
                order[key] = min(order.get(key, t), t)
    return order


def codes(col: Frame) -> tuple[np.ndarray, list[Any]]:
    """(integer codes, values): codes ordered as the values sort; free from a sorted categorical
    (results/table.category), else one factorize."""
    import pandas as pd

    if isinstance(col.dtype, pd.CategoricalDtype) and col.cat.categories.is_monotonic_increasing:
        return col.cat.codes.to_numpy(), list(col.cat.categories)
    codes, values = pd.factorize(col, sort=True)
    return codes, list(values)


def split(df: Frame, cols: list[str]) -> dict[tuple[str, str], dict[str, object]]:
    """(workload, metric) -> arm -> its rows, in one pass: a stable sort on the integer codes, then slices.

    Each slice keeps the table's row order (as groupby and a mask would) and
    is a view of one sorted copy of the needed columns, not a copy per group.
    """
    (w, wn), (m, mn), (a, an) = codes(df["workload"]), codes(df["metric"]), codes(df["arm"])
    perm = np.lexsort((a, m, w))
    key = ((w.astype(np.int64) * len(mn) + m) * len(an) + a)[perm]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, np.int64)
    rows = df[[c for c in cols if c in df.columns]].take(perm)
    out: dict[tuple[str, str], dict[str, object]] = {}
    for s, e in zip(starts, np.append(starts[1:], len(key)), strict=True):
        i = perm[s]
        out.setdefault((wn[w[i]], mn[m[i]]), {})[an[a[i]]] = rows.iloc[s:e]
    return out


def build_series(sub: Frame, order: dict[tuple[str, str], float], ratio: RatioMetric | None = None) -> Series:
    """Build an Arm from rows of one arm: sorted by boot start, then t/iteration."""
    arm = str(sub["arm"].iloc[0]) if len(sub) else ""
    by_boot = {b: t for (a, b), t in order.items() if a == arm}
    if ratio is None:
        boot, names = codes(sub["boot"])
        start = np.array([by_boot.get(b, math.inf) for b in names], dtype=float)[boot]
        run, _ = codes(sub["run"])
        # the stable sort by (start, boot, run, iteration) that pandas' sort_values does, on integer codes
        perm = np.lexsort((sub["iteration"].to_numpy(), run, boot, start))
        boot = boot[perm]
        first = np.flatnonzero(np.r_[True, boot[1:] != boot[:-1]]) if len(boot) else np.zeros(0, np.int64)
        boots = [names[c] for c in boot[first]]
        offsets = np.append(first, len(boot)).astype(np.int64)
        vals = sub["value"].to_numpy(dtype=float)[perm]
        notes = set(sub["note"].unique()) if "note" in sub else set()
        unit = str(sub["unit"].iloc[0]) if len(sub) else ""
        return Series(bootstrap.Arm(vals, offsets), boots, vals, notes, unit)
    sub = sub.assign(_o=sub["boot"].map(by_boot).astype(float).fillna(math.inf))
    # Ratio metric: one row per (boot, run, iteration) with numerator and denominator sums.
    wide = sub.pivot_table(
        index=["_o", "boot", "run", "iteration"], columns="metric", values="value", aggfunc="sum", observed=True
    ).reset_index()
    need = list(ratio.numerators) + [ratio.denominator]
    wide = wide.dropna(subset=need)
    wide = wide[wide[ratio.denominator] > 0].sort_values(["_o", "boot", "run", "iteration"], kind="stable")
    num = wide[list(ratio.numerators)].sum(axis=1).to_numpy(dtype=float)
    den = wide[ratio.denominator].to_numpy(dtype=float)
    boots = list(dict.fromkeys(wide["boot"].to_numpy()))
    sizes = wide.groupby("boot", sort=False, observed=True).size().reindex(boots).to_numpy()
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    notes = set(sub["note"].unique()) if "note" in sub else set()  # the counters' setup (crypt, op, ...)
    return Series(bootstrap.Arm(num, offsets, den, ratio.scale), boots, ratio.scale * num / den, notes, "MPKI")
