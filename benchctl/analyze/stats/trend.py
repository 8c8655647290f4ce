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

Kendall's tau-b against order, as scipy.stats.kendalltau computes it
(Kendall 1970, "Rank Correlation Methods", 4th ed.; checked against scipy in
tests/analyze/stats/test_classical.py), on scipy.special alone: importing scipy.stats
costs analyze more than reading a million rows. The order has no ties, so
tau_b = (C - D) / sqrt(n0 (n0 - T)), n0 = n(n-1)/2, T the tied value pairs,
C - D = n0 - T - 2D with D the strict inversions of the values. p: exact
(Kendall's recurrence over permutations) without ties at n <= 33, else the
normal approximation with the tie-corrected variance
(n(n-1)(2n+5) - sum t(t-1)(2t+5)) / 18.

A boot's thousands of iterations need no exact tau to show it is below the
0.5 flag: Daniels' inequality |3 tau - 2 rho| <= 1 (Daniels 1950, Biometrika
37; Spearman's rho of the values with ties broken, one sort) bounds it, and
breaking T ties moves C - D by at most T. Only a boot whose bound reaches
0.5 has its inversions counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ACROSS_MIN_BOOTS = 5
WITHIN_MIN_ITERS = 8
WITHIN_TAU = 0.5
WITHIN_P = 0.01
ACROSS_P = 0.05
EXACT_MAX_N = 33  # scipy's choice: the exact null distribution without ties up to 33 values


@dataclass
class Trend:
    tau: float
    p_value: float
    n: int


def _ranks(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ordinal ranks with ties broken somehow, dense ranks, size of each group of equal values)."""
    order = np.argsort(v)  # any order of ties does: Daniels' bound holds for every tie-break
    s = v[order]
    new = np.empty(len(v), dtype=bool)
    new[0] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    ordinal = np.empty(len(v), dtype=np.int64)
    ordinal[order] = np.arange(len(v))
    dense = np.empty(len(v), dtype=np.int64)
    dense[order] = np.cumsum(new) - 1
    counts = np.diff(np.append(np.flatnonzero(new), len(v)))
    return ordinal, dense, counts


def inversions(ranks: np.ndarray) -> int:
    """Pairs i < j with ranks[i] > ranks[j] (ties are not inversions), in O(n log n).

    Bit by bit from the top: the elements sharing the bits above are kept
    together in their original order, and a pair is counted at the first
    bit where they differ (a 1 before a 0).
    """
    arr = np.array(ranks, dtype=np.int64)  # a copy: sorted in place below
    n = len(arr)
    if n < 2:
        return 0
    idx = np.arange(n)
    start, end = np.zeros(n, np.int64), np.full(n, n, np.int64)  # the group each element is in
    ones = np.zeros(n + 1, np.int64)
    total = 0
    for b in range(int(arr.max()).bit_length() - 1, -1, -1):
        bit = (arr >> b) & 1
        np.cumsum(bit, out=ones[1:])
        before = ones[:-1] - ones[start]  # ones ahead of each element in its group
        zero = bit == 0
        total += int(before[zero].sum())
        zeros_in = (end - start) - (ones[end] - ones[start])
        pos = np.where(zero, idx - before, start + zeros_in + before)  # zeros first, order kept
        new_start, new_end = np.where(zero, start, start + zeros_in), np.where(zero, start + zeros_in, end)
        for a, v in ((arr, arr.copy()), (start, new_start), (end, new_end)):
            a[pos] = v
    return total


def _tie_sums(counts: np.ndarray) -> tuple[int, int]:
    """(tied pairs, sum t(t-1)(2t+5)) over groups of t equal values."""
    c = counts[counts > 1].astype(np.int64)
    return int((c * (c - 1) // 2).sum()), int((c * (c - 1.0) * (2 * c + 5)).sum())


def kendall_p_exact(n: int, c: int) -> float:
    """Two-sided exact p of c concordant pairs among n values without ties (Kendall 1970; scipy's recurrence).

    Called with n <= 33, or with c or its complement <= 1.
    """
    c = int(min(c, (n * (n - 1)) // 2 - c))
    if n <= 2:
        return 1.0
    if c == 0:
        prob = 2.0 / math.factorial(n) if n < 171 else 0.0
    elif c == 1:
        prob = 2.0 / math.factorial(n - 1) if n < 172 else 0.0
    elif 4 * c == n * (n - 1):
        prob = 1.0
    else:
        new = np.zeros(c + 1)
        new[0:2] = 1.0
        for j in range(3, n + 1):
            new = np.cumsum(new)
            if j <= c:
                new[j:] -= new[: c + 1 - j]
        prob = 2.0 * np.sum(new) / math.factorial(n)
    return float(np.clip(prob, 0, 1))


def kendall(values: np.ndarray) -> Trend | None:
    """Kendall's tau-b of the values against their order, and its two-sided p (module doc)."""
    from scipy import special

    v = np.asarray(values, float)
    if len(v) < 3 or np.all(v == v[0]):
        return None
    n = len(v)
    _, dense, counts = _ranks(v)
    dis = inversions(dense)
    tot = (n * (n - 1)) // 2
    ytie, y1 = _tie_sums(counts)
    con_minus_dis = tot - ytie - 2 * dis
    tau = float(np.minimum(1.0, max(-1.0, con_minus_dis / np.sqrt(tot) / np.sqrt(tot - ytie))))
    if ytie == 0 and (n <= EXACT_MAX_N or min(dis, tot - dis) <= 1):
        return Trend(tau, kendall_p_exact(n, tot - dis), n)
    m = n * (n - 1.0)
    var = (m * (2 * n + 5) - y1) / 18  # scipy's terms for ties in the order are 0 here
    z = con_minus_dis / np.sqrt(var)
    return Trend(tau, float(2 * special.ndtr(-np.abs(z))), n)


def below(values: np.ndarray, limit: float) -> bool:
    """True when |tau| of the values against their order is surely below limit (Daniels' bound, module doc)."""
    v = np.asarray(values, float)
    n = len(v)
    if n < 3:
        return True
    ordinal, _, counts = _ranks(v)
    tot = (n * (n - 1)) // 2
    ties, _ = _tie_sums(counts)
    if ties == tot:
        return True
    d = (ordinal - np.arange(n)).astype(float)
    rho = 1 - 6 * float(d @ d) / (n * (n * n - 1.0))
    bound = (tot * (1 + 2 * abs(rho)) / 3 + ties) / math.sqrt(tot * (tot - ties))
    return bound < limit - 1e-9


def drift_warnings(
    arm: str, boot_means_in_order: np.ndarray, iterations_by_boot: list[tuple[str, np.ndarray]]
) -> list[str]:
    out = []
    if len(boot_means_in_order) >= ACROSS_MIN_BOOTS:
        t = kendall(boot_means_in_order)
        if t and t.p_value < ACROSS_P:
            way = "rising" if t.tau > 0 else "falling"
            out.append(
                f"{arm}: per-boot means are {way} with boot order "
                f"(Kendall tau {t.tau:+.2f}, p={t.p_value:.3g}, {t.n} boots)"
            )
    for boot, vals in iterations_by_boot:
        if len(vals) >= WITHIN_MIN_ITERS and not below(vals, WITHIN_TAU):
            t = kendall(vals)
            if t and abs(t.tau) >= WITHIN_TAU and t.p_value < WITHIN_P:
                way = "rises" if t.tau > 0 else "falls"
                out.append(
                    f"{arm}: value {way} over iterations in boot {boot[:12]} "
                    f"(Kendall tau {t.tau:+.2f}, p={t.p_value:.2g}, {t.n} iterations)"
                )
    return out
