"""Classical tests on per-boot means, and Holm's family-wise correction.

The per-boot mean is the unit of replication (Georges et al. 2007: a JVM
invocation; for us a boot), so both tests take one number per boot.
- Welch's t-test (scipy.stats.ttest_ind, equal_var=False): no equal-variance
  assumption, df by Welch-Satterthwaite.
- Mann-Whitney U (scipy.stats.mannwhitneyu, two-sided): distribution-free,
  but with few boots its smallest possible p is large: 2 / C(n1+n2, n1),
  0.1 at 3+3 and 0.029 at 4+4, so it is run only from 4 boots per side
  (benchstat's rule) and otherwise we say why not.
- Holm (1979) step-down: sort p ascending, p_adj(k) = max_{j<=k} min(1,
  (m - j + 1) p_(j)). Controls the family-wise error across claims.

Both tests are computed here on scipy.special, step for step as
scipy.stats computes them (tests/analyze/stats/test_classical.py holds them to
scipy's numbers): importing scipy.stats costs analyze more than reading a
million rows.
- Welch: t = (m1 - m2) / sqrt(v1/n1 + v2/n2), v with ddof 1, df =
  (v1/n1 + v2/n2)^2 / ((v1/n1)^2/(n1-1) + (v2/n2)^2/(n2-1)), p = 2 F_t(-|t|).
- Mann-Whitney: U1 = R1 - n1(n1+1)/2 from average ranks, U = max(U1, U2);
  exact when both samples have <= 8 values and no ties (the null counts
  by Loeffler's 1982 recurrence, as scipy), else the normal approximation
  with tie correction and continuity correction:
  z = (U - n1 n2/2 - 0.5) / sqrt(n1 n2/12 ((n+1) - sum(t^3 - t)/(n(n-1)))).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from benchctl.analyze.resulttypes import TestOutcome

MWU_MIN_BOOTS = 4


@dataclass
class TestResult:
    name: str
    p_value: float | None
    statistic: float | None
    note: str = ""

    def as_dict(self) -> TestOutcome:
        return {"test": self.name, "p_value": self.p_value, "statistic": self.statistic, "note": self.note}


def _var(x: np.ndarray) -> float:
    """Sample variance (ddof 1) in scipy.stats' order of operations, so the last bit agrees; the same
    RuntimeWarning as scipy when the values are so close that subtracting the mean cancels them."""
    mean = np.mean(x, keepdims=True)
    dev = x - mean
    with np.errstate(divide="ignore", invalid="ignore"):
        lost = len(x) > 1 and bool(np.max(np.abs(dev)) / np.abs(mean[0]) < np.finfo(float).eps * 10)
    if lost:
        warnings.warn("precision loss in the variance: the values are nearly identical", RuntimeWarning, stacklevel=2)
    n = np.asarray(len(x), dtype=float)
    var: float = np.mean(dev**2) * (n / (n - 1))  # a numpy float: / 0 stays inf, as in scipy
    return var


def welch(baseline_means: np.ndarray, candidate_means: np.ndarray) -> TestResult:
    from scipy import special

    a, b = np.asarray(candidate_means, float), np.asarray(baseline_means, float)
    if len(a) < 2 or len(b) < 2:
        return TestResult("welch", None, None, "needs >= 2 boots per side (one per-boot mean has no variance)")
    if np.var(a) == 0 and np.var(b) == 0:
        p = 1.0 if a.mean() == b.mean() else 0.0
        return TestResult("welch", p, None, "all per-boot means identical within each arm")
    vn1, vn2 = _var(a) / len(a), _var(b) / len(b)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = (vn1 + vn2) ** 2 / (vn1**2 / (len(a) - 1) + vn2**2 / (len(b) - 1))
        t = (np.mean(a) - np.mean(b)) / np.sqrt(vn1 + vn2)
    df = 1.0 if np.isnan(df) else df
    return TestResult("welch", float(2 * special.stdtr(df, -np.abs(t))), float(t))


def min_mwu_p(n1: int, n2: int) -> float:
    return min(1.0, 2.0 / math.comb(n1 + n2, n1))


def _u_cdf(n1: int, n2: int, k: int) -> float:
    """P(U <= k) under the null without ties: Loeffler's (1982) recurrence over the counts, as scipy."""
    from scipy import special

    n1, n2 = min(n1, n2), max(n1, n2)
    sigma = np.zeros(k + 1, dtype=int)
    for d in range(1, n1 + 1):
        sigma[d::d] += d
    for d in range(n2 + 1, n2 + n1 + 1):
        sigma[d::d] -= d
    sigma = sigma[1:]
    counts = np.zeros(k + 1, dtype=np.uint64)  # ways to reach U = u (floats once past uint64)
    counts[0] = 1
    for u in range(1, k + 1):
        new = np.dot(counts[:u], sigma[u - 1 :: -1]) / u
        if new > np.iinfo(np.uint64).max and counts.dtype == np.uint64:
            counts = counts.astype(float)
        counts[u] = new
    return float(np.cumsum(counts / special.binom(n1 + n2, n1))[k])


def _mwu_p(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(U1, two-sided p) of x against y (module doc)."""
    from scipy import special

    n1, n2 = len(x), len(y)
    xy = np.concatenate([x, y])
    order = np.argsort(xy, kind="stable")
    s = xy[order]
    first = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    t = np.diff(first, append=len(s)).astype(float)  # sizes of the groups of equal values
    ranks = np.empty(len(xy))
    ranks[order] = np.repeat(first + 1 + (t - 1) / 2, t.astype(int))
    u1 = np.sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    u = max(u1, n1 * n2 - u1)
    if (n1 > 8 and n2 > 8) or np.any(t > 1):
        n = n1 + n2
        sd = np.sqrt(n1 * n2 / 12 * ((n + 1) - np.sum(t**3 - t) / (n * (n - 1))))
        p = special.ndtr(-(u - n1 * n2 / 2 - 0.5) / sd)
    else:
        p = _u_cdf(n1, n2, int(n1 * n2 - u))
    return float(u1), float(np.clip(2 * p, 0.0, 1.0))


def mann_whitney(baseline_means: np.ndarray, candidate_means: np.ndarray) -> TestResult:
    n1, n2 = len(candidate_means), len(baseline_means)
    if min(n1, n2) < MWU_MIN_BOOTS:
        return TestResult(
            "mann-whitney",
            None,
            None,
            f"not run: needs >= {MWU_MIN_BOOTS} boots per side; with {n2}+{n1} boots "
            f"the smallest possible p is {min_mwu_p(n1, n2):.3g}",
        )
    u1, p = _mwu_p(np.asarray(candidate_means, float), np.asarray(baseline_means, float))
    return TestResult("mann-whitney", p, u1)


def holm(pvalues: list[float | None]) -> list[float | None]:
    """Holm-adjusted p-values; None entries are left out of the family."""
    family = {i: p for i, p in enumerate(pvalues) if p is not None}
    m = len(family)
    order = sorted(family, key=family.__getitem__)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        adj = min(1.0, (m - rank) * family[i])
        running = max(running, adj)
        out[i] = running
    return out
