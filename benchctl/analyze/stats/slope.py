"""A straight line through (machine size, change) points: the slope and its interval.

"The larger the machine, the more memory saved" is a claim about a slope.
Ordinary least squares (e.g. Montgomery, Peck & Vining, Introduction to
Linear Regression Analysis, 5th ed., sec. 2.3): with n points,
Sxx = sum (x - xbar)^2, b = sum (x - xbar)(y - ybar) / Sxx, a = ybar - b xbar,
s^2 = sum (y - a - b x)^2 / (n - 2), se(b) = s / sqrt(Sxx), and the
interval b +- t_{1-alpha/2, n-2} se(b). The residual s measures how far the
points are from a line: with exact per-size values (MemTotal) it is the
line's misfit, not noise. scipy.stats.linregress gives the same b and
se(b) (tests/analyze/stats/test_equivalence.py checks it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from benchctl.analyze.resulttypes import SlopeFit


@dataclass(frozen=True)
class Slope:
    slope: float
    intercept: float
    ci: tuple[float, float]
    se: float
    n: int
    residual_sd: float

    def as_dict(self) -> SlopeFit:
        return {
            "slope": self.slope,
            "intercept": self.intercept,
            "ci": list(self.ci),
            "se": self.se,
            "n": self.n,
            "residual_sd": self.residual_sd,
        }


def fit(x: ArrayLike, y: ArrayLike, confidence: float = 0.95) -> Slope:
    """OLS slope of y on x with its t interval; needs >= 3 points at >= 2 distinct x."""
    from scipy import special  # stdtrit: scipy.stats' t.ppf

    xs, ys = np.asarray(x, float), np.asarray(y, float)
    n = len(xs)
    if n < 3 or len(set(xs.tolist())) < 2:
        raise ValueError("a slope with an interval needs >= 3 points at >= 2 sizes")
    sxx = float(((xs - xs.mean()) ** 2).sum())
    b = float(((xs - xs.mean()) * (ys - ys.mean())).sum()) / sxx
    a = float(ys.mean()) - b * float(xs.mean())
    s = math.sqrt(float(((ys - a - b * xs) ** 2).sum()) / (n - 2))
    se = s / math.sqrt(sxx)
    h = float(special.stdtrit(n - 2, 1 - (1 - confidence) / 2)) * se
    return Slope(b, a, (b - h, b + h), se, n, s)
