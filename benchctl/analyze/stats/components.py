"""Variance components of a nested (boots, iterations) design.

Kalibera & Jones, "Rigorous Benchmarking in Reasonable Time" (ISMM 2013),
with the corrected estimators of libkalibera (softdevteam/libkalibera
python/pykalibera/data.py). Levels are numbered from the bottom: level 1 is
iterations, level 2 boots, level 3 (if any) builds.

    S_i^2 = 1 / (r_n...r_{i+1} (r_i - 1)) * sum (mean_{..i} - mean_{..i+1})^2
    T_1^2 = S_1^2,   T_i^2 = S_i^2 - S_{i-1}^2 / r_{i-1}
    r_i   = sqrt( (c_{i+1}/c_i) * (T_i^2 / T_{i+1}^2) )         (optimal reps)

T_i^2 can come out negative (the paper's own example gives T_2^2 = -5.7);
callers clamp to 0 and warn, because a negative variance means "too little
data to see this level", not "this level removes noise".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from benchctl.analyze.resulttypes import VarianceComponents


def level_variances(y: np.ndarray) -> list[float]:
    """Biased S_i^2 for a balanced array shaped (r_n, ..., r_1), i = 1..n.

    Index 0 of the result is S_1^2 (iterations), the last is S_n^2.
    """
    y = np.asarray(y, dtype=float)
    n = y.ndim
    reps = y.shape  # high to low
    out = []
    for i in range(1, n + 1):
        axes_i = tuple(range(n - i + 1, n))  # average away levels below i
        m_i = y.mean(axis=axes_i) if axes_i else y  # shape reps[:n-i+1]
        parent = m_i.mean(axis=-1, keepdims=True)
        r_i = reps[n - i]
        above = math.prod(reps[: n - i])
        out.append(float(((m_i - parent) ** 2).sum() / (above * (r_i - 1))))
    return out


def unbiased_components(s2: list[float], reps_low_to_high: list[int]) -> list[float]:
    """T_i^2 from S_i^2 (corrected K&J estimator); may be negative."""
    t2 = [s2[0]]
    for i in range(1, len(s2)):
        t2.append(s2[i] - s2[i - 1] / reps_low_to_high[i - 1])
    return t2


def optimal_reps(t2: list[float], costs_low_to_high: list[float]) -> list[float]:
    """Unrounded K&J optimal repetition counts r_1..r_{n-1}.

    costs_low_to_high[i] is the cost of one repetition at level i+1 (for us:
    an iteration, then a reboot). Returns inf when the level above shows no
    variance (then only the lower level matters; repeat it as much as useful).
    """
    out = []
    for i in range(len(t2) - 1):
        upper = t2[i + 1]
        if upper <= 0:
            out.append(math.inf)
        else:
            out.append(math.sqrt(costs_low_to_high[i + 1] / costs_low_to_high[i] * t2[i] / upper))
    return out


@dataclass
class TwoLevel:
    """Variance components of one arm: boots x iterations (possibly unbalanced).

    within = T_1^2 (iteration noise inside a boot), between = T_2^2 (boot to
    boot), both clamped at 0; raw_between keeps the unclamped estimate.
    """

    within: float
    between: float
    raw_between: float
    s1: float
    s2: float
    n_boots: int
    iters_per_boot: float
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> VarianceComponents:
        return {
            "within_boot_var": self.within,
            "between_boot_var": self.between,
            "between_boot_var_raw": self.raw_between,
            "S1_sq": self.s1,
            "S2_sq": self.s2,
            "n_boots": self.n_boots,
            "iterations_per_boot": self.iters_per_boot,
        }


def two_level(groups: list[np.ndarray]) -> TwoLevel:
    """S_1^2, S_2^2, T_1^2, T_2^2 for a list of per-boot iteration arrays.

    Balanced data reproduces K&J exactly. Unbalanced boots: S_1^2 is the pooled
    within-boot variance (weights n_j - 1), S_2^2 the variance of boot means,
    and r_1 the harmonic mean of iteration counts (the weight under which the
    variance of a boot mean is T_2^2 + T_1^2 / n_j on average).
    """
    groups = [np.asarray(g, dtype=float) for g in groups if len(g)]
    warnings: list[str] = []
    nb = len(groups)
    ns = np.array([len(g) for g in groups], dtype=float)
    dof_within = float((ns - 1).sum())
    s1 = float(sum(((g - g.mean()) ** 2).sum() for g in groups) / dof_within) if dof_within > 0 else math.nan
    means = np.array([g.mean() for g in groups])
    s2 = float(means.var(ddof=1)) if nb >= 2 else math.nan
    r1 = float(nb / (1.0 / ns).sum()) if nb else math.nan
    within = s1 if not math.isnan(s1) else math.nan
    raw_between = s2 - (s1 if not math.isnan(s1) else 0.0) / r1 if nb >= 2 else math.nan
    between = raw_between
    if nb < 2:
        warnings.append("only one boot: between-boot variance cannot be estimated")
    elif raw_between < 0:
        between = 0.0
        warnings.append(
            f"between-boot variance estimate was negative ({raw_between:.3g}); "
            "clamped to 0: too few boots to see boot-to-boot variation"
        )
    if math.isnan(s1):
        warnings.append("one iteration per boot: within-boot variance cannot be estimated")
    return TwoLevel(within, between, raw_between, s1, s2, nb, r1, warnings)
