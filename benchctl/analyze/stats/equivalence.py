"""Equivalence of two arms within a margin: Schuirmann's two one-sided tests (TOST) on per-boot means.

"On par with" is a claim that the change is smaller than a margin, which a
test of "different from zero" cannot support (a large p-value is absence of
evidence). Schuirmann (1987, J. Pharmacokinet. Biopharm. 15:657-680): with
d = mean(candidate) - mean(baseline) and margin m (here m = margin_pct/100 x
the baseline's mean, taken as known), test H01: d <= -m and H02: d >= +m,
each one-sided at level alpha, with Welch's standard error and
Welch-Satterthwaite degrees of freedom:

    t1 = (d + m) / se,  p1 = 1 - F_t(t1; df)      t2 = (d - m) / se,  p2 = F_t(t2; df)
    p_TOST = max(p1, p2);  equivalent when p_TOST < alpha,

which is the same as the (1 - 2 alpha) interval d +- t_{1-alpha, df} se
lying inside [-m, +m]. Not equivalent is the converse claim: the ordinary
(1 - alpha) interval lies wholly outside the margin (the change is beyond it,
significantly). Anything else is inconclusive. The one-sided tests are
scipy.stats.ttest_ind(equal_var=False, alternative=...) on shifted data,
which tests/analyze/stats/test_equivalence.py uses as the independent check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from benchctl.analyze.resulttypes import Equivalence


@dataclass(frozen=True)
class Tost:
    change_pct: float
    ci_pct: tuple[float, float]  # the (1 - 2 alpha) interval, in percent of the baseline mean
    outer_pct: tuple[float, float]  # the (1 - alpha) interval
    p_value: float | None  # p_TOST
    verdict: str  # equivalent | not-equivalent | inconclusive
    df: float | None

    def as_dict(self, margin_pct: float, level: float) -> Equivalence:
        """The claim result's `equivalence` field: this test at its margin and level."""
        return {
            "change_pct": self.change_pct,
            "ci_pct": list(self.ci_pct),
            "outer_pct": list(self.outer_pct),
            "p_value": self.p_value,
            "verdict": self.verdict,
            "df": self.df,
            "margin_pct": margin_pct,
            "level": level,
        }


def welch_se_df(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Welch's standard error of mean(a) - mean(b) and the Welch-Satterthwaite df."""
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if se > 0 else math.inf
    return se, df


def verdict_of(low: float, high: float, outer: tuple[float, float], margin: float) -> str:
    if -margin <= low and high <= margin:
        return "equivalent"
    if outer[0] > margin or outer[1] < -margin:
        return "not-equivalent"
    return "inconclusive"


def tost(baseline_means: ArrayLike, candidate_means: ArrayLike, margin_pct: float, alpha: float = 0.05) -> Tost:
    """TOST of candidate vs baseline per-boot means within +-margin_pct % of the baseline mean."""
    from scipy import special  # stdtr / stdtrit: what scipy.stats' t.cdf and t.ppf call

    b, c = np.asarray(baseline_means, float), np.asarray(candidate_means, float)
    if len(b) < 2 or len(c) < 2:
        raise ValueError("TOST needs >= 2 boots per arm")
    base = float(b.mean())
    scale = 100.0 / base
    d = float(c.mean()) - base
    m = margin_pct / 100.0 * abs(base)
    se, df = welch_se_df(c, b)
    if se == 0:  # every boot of each arm the same value: the change is known exactly
        pct = d * scale
        return Tost(pct, (pct, pct), (pct, pct), None, verdict_of(pct, pct, (pct, pct), margin_pct), None)
    p1 = float(special.stdtr(df, -(d + m) / se))
    p2 = float(special.stdtr(df, (d - m) / se))
    inner = float(special.stdtrit(df, 1 - alpha)) * se
    outer = float(special.stdtrit(df, 1 - alpha / 2)) * se
    ci = ((d - inner) * scale, (d + inner) * scale)
    wide = ((d - outer) * scale, (d + outer) * scale)
    return Tost(d * scale, ci, wide, max(p1, p2), verdict_of(ci[0], ci[1], wide, margin_pct), df)
