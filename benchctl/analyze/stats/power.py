"""Design planning: boots per arm and iterations per boot for a target power.

Kalibera & Jones give the cost-optimal ratio of repetitions between levels,
    r_1 = sqrt( (c_boot / c_iter) * (T_1^2 / T_2^2) ),
but not how many boots are needed to resolve a given effect. We extend it
with the effect size. Under the two-level model an arm measured with b boots
of n iterations has a per-boot-mean variance T_2^2 + T_1^2 / n, so the
difference of the arms' means has standard error
    SE(b, n) = sqrt( (T_2A^2 + T_1A^2/n + T_2B^2 + T_1B^2/n) / b ).
The verdict calls an effect when the interval excludes zero; with the
small-sample expansion used by the bootstrap, that is (approximately) a test
with critical value c = sqrt(b/(b-1)) * t_{1-alpha/2, 2b-2}. For a true change
delta = |claim| * mean_baseline the power is the noncentral-t probability
    P(|T| > c),  T ~ t'(df = 2b-2, ncp = delta / SE(b, n)).
Cost of the design: 2 arms * b * (c_boot + n * c_iter). We search integer
(b, n) with power >= target and take the cheapest; for each b the smallest n
reaching the target is found by bisection (power rises with n). K&J's r_1 is
reported next to it: at large b the optimum n approaches it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from benchctl.analyze.resulttypes import Decide

MAX_BOOTS = 200
MAX_ITERS = 10_000


@dataclass
class Design:
    boots: int | None
    iterations: int | None
    power: float | None
    cost_s: float | None
    kj_iterations: float | None
    note: str = ""

    def as_dict(self) -> Decide:
        return {
            "boots_per_arm": self.boots,
            "iterations_per_boot": self.iterations,
            "power": self.power,
            "cost_s": self.cost_s,
            "kj_optimal_iterations": self.kj_iterations,
            "note": self.note,
        }


def power(
    delta: float, within: tuple[float, float], between: tuple[float, float], boots: int, iters: int, alpha: float = 0.05
) -> float:
    """Power to see a difference delta with `boots` boots x `iters` iterations per arm."""
    from scipy import stats

    if boots < 2:
        return 0.0
    var = (between[0] + within[0] / iters + between[1] + within[1] / iters) / boots
    df = 2 * boots - 2
    crit = math.sqrt(boots / (boots - 1)) * stats.t.ppf(1 - alpha / 2, df)
    if var <= 0:
        return 1.0 if delta != 0 else alpha
    ncp = abs(delta) / math.sqrt(var)
    upper = float(stats.nct.sf(crit, df, ncp))
    lower = float(stats.nct.cdf(-crit, df, ncp))  # scipy can return nan deep in the tail
    return min(1.0, upper + (lower if math.isfinite(lower) else 0.0))


def kj_iterations(within: float, between: float, boot_cost: float, iter_cost: float) -> float | None:
    if iter_cost <= 0:
        return None
    if between <= 0:
        return math.inf
    return math.sqrt(boot_cost / iter_cost * within / between)


def cheapest_design(
    delta: float,
    within: tuple[float, float],
    between: tuple[float, float],
    boot_cost: float,
    iter_cost: float,
    target: float = 0.8,
    alpha: float = 0.05,
    max_boots: int = MAX_BOOTS,
    max_iters: int = MAX_ITERS,
) -> Design:
    """Cheapest (boots, iterations) per arm with power >= target (module doc)."""
    kj = kj_iterations((within[0] + within[1]) / 2, (between[0] + between[1]) / 2, boot_cost, iter_cost)
    if delta == 0:
        return Design(None, None, None, None, kj, "a zero effect cannot be resolved")
    best: Design | None = None
    best_cost = math.inf
    for b in range(2, max_boots + 1):
        if 2 * b * (boot_cost + iter_cost) >= best_cost:
            break  # even one iteration per boot would cost more than the best so far
        if power(delta, within, between, b, max_iters, alpha) < target:
            continue
        lo, hi = 1, max_iters
        while lo < hi:
            mid = (lo + hi) // 2
            if power(delta, within, between, b, mid, alpha) >= target:
                hi = mid
            else:
                lo = mid + 1
        cost = 2 * b * (boot_cost + lo * iter_cost)
        if cost < best_cost:
            best_cost = cost
            best = Design(b, lo, power(delta, within, between, b, lo, alpha), cost, kj)
    if best is None:
        return Design(
            None, None, None, None, kj, f"not reachable with <= {max_boots} boots x {max_iters} iterations per arm"
        )
    return best
