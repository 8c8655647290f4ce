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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MWU_MIN_BOOTS = 4


@dataclass
class TestResult:
    name: str
    p_value: float | None
    statistic: float | None
    note: str = ""

    def as_dict(self) -> dict:
        return {"test": self.name, "p_value": self.p_value, "statistic": self.statistic, "note": self.note}


def welch(baseline_means: np.ndarray, candidate_means: np.ndarray) -> TestResult:
    from scipy import stats
    a, b = np.asarray(candidate_means, float), np.asarray(baseline_means, float)
    if len(a) < 2 or len(b) < 2:
        return TestResult("welch", None, None, "needs >= 2 boots per side (one per-boot mean has no variance)")
    if np.var(a) == 0 and np.var(b) == 0:
        p = 1.0 if a.mean() == b.mean() else 0.0
        return TestResult("welch", p, None, "all per-boot means identical within each arm")
    r = stats.ttest_ind(a, b, equal_var=False)
    return TestResult("welch", float(r.pvalue), float(r.statistic))


def min_mwu_p(n1: int, n2: int) -> float:
    return min(1.0, 2.0 / math.comb(n1 + n2, n1))


def mann_whitney(baseline_means: np.ndarray, candidate_means: np.ndarray) -> TestResult:
    from scipy import stats
    n1, n2 = len(candidate_means), len(baseline_means)
    if min(n1, n2) < MWU_MIN_BOOTS:
        return TestResult("mann-whitney", None, None,
                          f"not run: needs >= {MWU_MIN_BOOTS} boots per side; with {n2}+{n1} boots "
                          f"the smallest possible p is {min_mwu_p(n1, n2):.3g}")
    r = stats.mannwhitneyu(candidate_means, baseline_means, alternative="two-sided")
    return TestResult("mann-whitney", float(r.pvalue), float(r.statistic))


def holm(pvalues: list[float | None]) -> list[float | None]:
    """Holm-adjusted p-values; None entries are left out of the family."""
    idx = [i for i, p in enumerate(pvalues) if p is not None]
    m = len(idx)
    order = sorted(idx, key=lambda i: pvalues[i])
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        adj = min(1.0, (m - rank) * pvalues[i])
        running = max(running, adj)
        out[i] = running
    return out
