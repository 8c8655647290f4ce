"""Anytime-valid intervals for the change between two arms, boot pair by boot pair.

A fixed-design interval (bootstrap, Welch) is valid once, at a number of
boots chosen before the data. Looked at after every boot and stopped when it
looks decided, it claims effects that are not there far more often than its
level says (optional stopping). A confidence sequence (CS) C_1, C_2, ...
holds the true change in every C_n at once with probability >= 1 - alpha,
so it may be looked at after every boot and stopped at any time.

Data. Boots come in pairs (ABAB: the n-th baseline boot and the n-th
candidate boot); per boot one value, its mean over iterations (a ratio of
sums for MPKI). On logs, x_i = log cand_i, y_i = log base_i, and the
parameter is delta = E x - E y, the log of the ratio of the arms' means when
both arms share one multiplicative noise law; the change in percent is
100 (exp(delta) - 1). Model: per-boot logs Gaussian, independent between
boots, with one variance sigma^2 in both arms (the pooled two-sample t
model, df 2n - 2, the same as benchctl plan's power, stats/power.py).

Statistic. Rotate each pair: u_i = (x_i - y_i - delta) / sqrt(2) and
s_i = (x_i + y_i) / sqrt(2); the sequential Helmert contrasts of the s_i,
e_j = (s_{j+1} - mean(s_1..s_j)) sqrt(j / (j + 1)), j = 1..n-1, remove the
unknown common level. After n pairs the N = 2n - 1 numbers (u, e) are
independent N(theta sigma, sigma^2) (u, theta = 0 under the hypothesised
delta) and N(0, sigma^2) (e). With T = sum u_i and S = sum u_i^2 + sum e_j^2,
the likelihood ratio of the scale-invariant part of the data (Wijsman's
representation: the densities integrated over every scale c > 0 with weight
c^(N-1)), mixed over theta ~ N(0, tau^2), is in closed form

    M_n(tau) = (1 + n tau^2)^(-1/2) * (1 - tau^2 T^2 / ((1 + n tau^2) S))^(-N/2).

Lai (1976, "On confidence sequences", Ann. Statist. 4(2):265-280) built
the CS for a normal mean with unknown variance from this invariant
reduction with a flat mixture over the mean; Wang & Ramdas ("Anytime-valid
t-tests and confidence sequences for Gaussian means with unknown variance",
arXiv:2310.03722, 2023-2024) replace the flat mixture by a Gaussian one,
which makes it a test martingale in the reduced (scale-invariant)
filtration. The closed form above is that Gaussian mixture, derived here
by doing both integrals (over theta, then over c) by hand; the tests check
it against scipy's numerical integration of the same two integrals. The
rotation extends it to two arms: it adds the n - 1 contrasts e_j, so the
variance has 2n - 2 degrees of freedom rather than the paired n - 1. Under
the hypothesised delta, M_n is a nonnegative martingale with mean 1, and so
is any average sum_k w_k M_n(tau_k) with weights summing to 1; by Ville's
inequality P(exists n: M_n >= 1/alpha) <= alpha. The CS is
{delta : M_n(delta) < 1/alpha}. The average is over a grid of tau (TAUS,
equal weights), so one rule serves effects of 1 and of 50 boot standard
deviations (a single tau is tuned to one effect size).

M_n grows with |mean(u)| (below), so the CS is an interval around the
pooled estimate; it is the whole line until sum_k w_k (1 + n tau_k^2)^((N-1)/2)
exceeds 1/alpha, which with TAUS and alpha = 0.05 happens at n = 2 pairs.

Equal variances: the rotation needs Var x = Var y (else u and s are
correlated). Monte Carlo (tests/analyze/stats/test_sequential.py) finds the
time-uniform error over 50 pairs at alpha = 0.05 is 1.7 % with equal sds,
2.1 % at a 2:1 ratio, 3.8 % at 4:1 and 6.1 % at 10:1.

Checks (tests/analyze/stats/test_sequential.py): M_n against scipy's numerical
integration of its defining integrals; for large n the interval against the
known-variance two-sided normal-mixture boundary |sum| <= sigma
sqrt((n + rho) log((n + rho) / (rho alpha^2))), rho = 1/tau^2 (Robbins
1970, "Statistical methods related to the law of the iterated logarithm",
Ann. Math. Statist. 41(5); Howard, Ramdas, McAuliffe & Sekhon 2021,
"Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann.
Statist. 49(2)), which the invariant mixture approaches as the variance
becomes known; time-uniform coverage by Monte Carlo with a fixed seed.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

TAUS = (1.0, 4.0, 16.0, 64.0)  # prior sd of the standardised effect theta, equal weights


@dataclass(frozen=True)
class Interval:
    """A confidence-sequence interval for delta (log ratio) after n_pairs pairs of boots."""

    low: float  # log scale; -inf when not yet bounded
    high: float
    estimate: float | None
    n_pairs: int

    @property
    def pct(self) -> tuple[float, float]:
        """The interval as a change in percent, 100 (exp(delta) - 1)."""
        return (_pct(self.low), _pct(self.high))

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)


def _pct(x: float) -> float:
    if x == -math.inf:
        return -100.0
    if x == math.inf:
        return math.inf
    return 100.0 * math.expm1(x)


def log_mixture(t: float, s: float, n: int, dims: int, taus: tuple[float, ...] = TAUS) -> float:
    """log of (1/K) sum_k M_n(tau_k) (module doc) for T = t, S = s over `dims` numbers, n of them u."""
    if s <= 0:
        return 0.0 if t == 0 else math.inf
    return _log_mix(t * t / s, n, dims, taus)


def _log_mix(q: float, n: int, dims: int, taus: tuple[float, ...]) -> float:
    """log_mixture as a function of q = T^2 / S, which lies in [0, n] (Cauchy-Schwarz)."""
    terms = []
    for tau in taus:
        a = 1.0 + n * tau * tau
        rest = 1.0 - tau * tau * q / a
        terms.append(-0.5 * math.log(a) - 0.5 * dims * math.log(max(rest, 1e-300)))
    top = max(terms)
    return top + math.log(sum(math.exp(x - top) for x in terms) / len(terms))


@functools.lru_cache(maxsize=4096)
def boundary(n: int, alpha: float, taus: tuple[float, ...] = TAUS) -> float | None:
    """r* in [0, 1): the CS after n pairs is {delta : n D^2 / (ss + n D^2) < r*}, or None (unbounded).

    With D = mean(u) - delta/sqrt 2, T = n D and S = ss + n D^2, so T^2/S = n r
    with r = n D^2 / S; the mixture rises with r and depends on the data only
    through it, so the threshold is the same for every data set of n pairs.
    """
    dims, limit = 2 * n - 1, -math.log(alpha)
    if n < 2 or _log_mix(float(n), n, dims, taus) <= limit:  # r -> 1: even an infinite D is kept
        return None
    lo, hi = 0.0, 1.0
    while hi - lo > 1e-13:
        mid = (lo + hi) / 2
        if _log_mix(n * mid, n, dims, taus) > limit:
            hi = mid
        else:
            lo = mid
    return hi


def half_width(
    n: int | np.ndarray, ss: float | np.ndarray, alpha: float, taus: tuple[float, ...] = TAUS
) -> float | np.ndarray:
    """Half-width of the CS for delta after n pairs with pooled within-arm sum of squares ss (of logs).

    ss = sum (x_i - mean x)^2 + sum (y_i - mean y)^2, the same as
    sum (u_i - mean u)^2 + sum e_j^2 (module doc). inf while unbounded;
    n and ss may be numpy arrays of one n.
    """
    r = boundary(int(n), alpha, taus)
    if r is None:
        return np.full(np.shape(ss), math.inf) if np.ndim(ss) else math.inf
    return math.sqrt(2.0) * np.sqrt(r * np.asarray(ss, dtype=float) / ((1.0 - r) * n))


def paths(
    base_logs: np.ndarray, cand_logs: np.ndarray, alpha: float, taus: tuple[float, ...] = TAUS
) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of the CS after 1..N pairs, for many campaigns at once (rows), on log values.

    Arrays of shape (campaigns, N); column n - 1 is the interval after n
    pairs, not intersected with the earlier ones (running_intersection does that).
    """
    y, x = np.atleast_2d(base_logs), np.atleast_2d(cand_logs)
    n = np.arange(1, y.shape[1] + 1)
    mx, my = np.cumsum(x, 1) / n, np.cumsum(y, 1) / n
    ss = np.cumsum(x * x, 1) - n * mx * mx + np.cumsum(y * y, 1) - n * my * my
    ss = np.maximum(ss, 0.0)
    centre = mx - my
    half = np.column_stack([half_width(k, ss[:, k - 1], alpha, taus) for k in n])
    return centre - half, centre + half


def running_intersection(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The CS intersected with all earlier ones (still a CS: Howard et al. 2021, section 2)."""
    return np.maximum.accumulate(low, axis=-1), np.minimum.accumulate(high, axis=-1)


def interval(base: ArrayLike, cand: ArrayLike, alpha: float, taus: tuple[float, ...] = TAUS) -> Interval:
    """The CS for delta = log(mean cand / mean base) from per-boot values in start order, after the
    last pair, intersected with the earlier ones (module doc).

    Pairs the first min(len(base), len(cand)) boots of each arm, in order.
    Values must be positive and finite (logs); ValueError otherwise.
    """
    b, c = np.asarray(base, dtype=float), np.asarray(cand, dtype=float)
    if not (np.all(np.isfinite(b)) and np.all(np.isfinite(c))) or np.any(b <= 0) or np.any(c <= 0):
        raise ValueError("a confidence sequence on logs needs positive finite per-boot values")
    n = min(len(b), len(c))
    if n == 0:
        return Interval(-math.inf, math.inf, None, 0)
    low, high = running_intersection(*paths(np.log(b[:n]), np.log(c[:n]), alpha, taus))
    centre = float(np.log(c[:n]).mean() - np.log(b[:n]).mean())
    return Interval(float(low[0, -1]), float(high[0, -1]), centre, n)


def pairs_needed(alpha: float, taus: tuple[float, ...] = TAUS, max_pairs: int = 1000) -> int:
    """The fewest pairs after which the CS can be bounded at all (module doc)."""
    for n in range(2, max_pairs + 1):
        if boundary(n, alpha, taus) is not None:
            return n
    return max_pairs + 1
