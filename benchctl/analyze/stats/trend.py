"""Drift over run order within an arm.

A benchmark that drifts (thermal throttling, page-cache growth, a linear map
that keeps splitting with uptime) violates the "independent, identically
distributed iterations" model the intervals rest on. Kendall's tau of value
against order is distribution-free and needs no linear-trend assumption.
Two checks, because boots and iterations are different units:
- across boots: per-boot means against boot start order (>= 5 boots);
- within boots: value against iteration order in each boot with >= 8
  iterations; flagged when |tau| >= 0.5 and p < 0.01 in a boot, a threshold
  strict enough that a handful of boots x metrics rarely trips it by chance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACROSS_MIN_BOOTS = 5
WITHIN_MIN_ITERS = 8
WITHIN_TAU = 0.5
WITHIN_P = 0.01
ACROSS_P = 0.05


@dataclass
class Trend:
    tau: float
    p_value: float
    n: int


def kendall(values: np.ndarray) -> Trend | None:
    from scipy import stats
    v = np.asarray(values, float)
    if len(v) < 3 or np.all(v == v[0]):
        return None
    r = stats.kendalltau(np.arange(len(v)), v)
    return Trend(float(r.statistic), float(r.pvalue), len(v))


def drift_warnings(arm: str, boot_means_in_order: np.ndarray,
                   iterations_by_boot: list[tuple[str, np.ndarray]]) -> list[str]:
    out = []
    if len(boot_means_in_order) >= ACROSS_MIN_BOOTS:
        t = kendall(boot_means_in_order)
        if t and t.p_value < ACROSS_P:
            way = "rising" if t.tau > 0 else "falling"
            out.append(f"{arm}: per-boot means are {way} with boot order "
                       f"(Kendall tau {t.tau:+.2f}, p={t.p_value:.3g}, {t.n} boots)")
    for boot, vals in iterations_by_boot:
        if len(vals) >= WITHIN_MIN_ITERS:
            t = kendall(vals)
            if t and abs(t.tau) >= WITHIN_TAU and t.p_value < WITHIN_P:
                way = "rises" if t.tau > 0 else "falls"
                out.append(f"{arm}: value {way} over iterations in boot {boot[:12]} "
                           f"(Kendall tau {t.tau:+.2f}, p={t.p_value:.2g}, {t.n} iterations)")
    return out
