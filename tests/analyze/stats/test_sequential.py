"""The confidence sequence of stats/sequential.py and the sequential claim states of analyze/adaptive.py.

Checks: the closed-form mixture against scipy's numerical integration of its
defining integrals; the large-n width against the known-variance normal
mixture boundary (Robbins 1970); time-uniform coverage by Monte Carlo with a
fixed seed, and the same Monte Carlo showing that a fixed-design t interval
looked at after every pair does not keep its level (so the check can fail).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from benchctl.analyze.adaptive import apply_sequential, expected_more, judge_sequential
from benchctl.analyze.result import analyze
from benchctl.analyze.stats import sequential
from benchctl.claims import load_claims
from benchctl.model.simulate import simulate
from benchctl.results.loader import load_runs
from benchctl.results.store import RunFolder


def _numeric_mixture(u: np.ndarray, e: np.ndarray, tau: float) -> float:
    """M_n by integrating the densities over scale c and effect theta (the module doc's definition)."""
    big_n = len(u) + len(e)

    def log_density(c: float, theta: float) -> float:
        return -0.5 * (np.sum((c * u - theta) ** 2) + np.sum((c * e) ** 2)) + (big_n - 1) * math.log(c)

    def inner(c: float) -> float:
        f = lambda th: math.exp(log_density(c, th)) * stats.norm.pdf(th, 0, tau)  # noqa: E731
        return integrate.quad(f, -12 * tau, 12 * tau, limit=200, epsabs=0)[0]

    num = integrate.quad(inner, 0, np.inf, limit=200, epsabs=0)[0]
    den = integrate.quad(lambda c: math.exp(log_density(c, 0.0)), 0, np.inf, epsabs=0)[0]
    return num / den


@pytest.mark.parametrize("tau", [0.5, 1.0, 3.0])
def test_closed_form_matches_numerical_integration(tau):
    rng = np.random.default_rng(3)
    u, e = rng.normal(0.8, 1.0, 3), rng.normal(0.0, 1.0, 2)
    t, s = float(u.sum()), float((u * u).sum() + (e * e).sum())
    closed = math.exp(sequential.log_mixture(t, s, len(u), len(u) + len(e), taus=(tau,)))
    assert closed == pytest.approx(_numeric_mixture(u, e, tau), rel=1e-6)


def test_large_n_approaches_known_variance_normal_mixture():
    """With many pairs the variance is as good as known: the half-width tends to Robbins' boundary."""
    n, tau, alpha, sigma = 200_000, 1.0, 0.05, 1.0
    ss = (2 * n - 2) * sigma**2  # the pooled sum of squares its expectation
    ours = float(sequential.half_width(n, ss, alpha, taus=(tau,)))
    rho = 1 / tau**2
    robbins = math.sqrt(2) * sigma * math.sqrt((n + rho) * math.log((n + rho) / (rho * alpha**2))) / n
    assert ours == pytest.approx(robbins, rel=2e-3)
    assert ours > robbins  # an unknown variance costs width, never buys it


def _miss_rate(y, x, truth, alpha, taus=sequential.TAUS) -> float:
    lo, hi = sequential.running_intersection(*sequential.paths(y, x, alpha, taus))
    return float(((lo > truth) | (hi < truth)).any(axis=1).mean())


@pytest.mark.parametrize("alpha", [0.05, 0.05 / 7])
def test_time_uniform_coverage_monte_carlo(alpha):
    """P(the truth leaves the sequence at any of 50 pairs) <= alpha, within 3 MC standard errors."""
    rng = np.random.default_rng(20)
    reps, pairs, truth = 20_000, 50, 0.03
    y, x = rng.normal(0, 0.01, (reps, pairs)), rng.normal(truth, 0.01, (reps, pairs))
    miss = _miss_rate(y, x, truth, alpha)
    assert miss <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / reps)


def test_unequal_variances_2_to_1_keep_the_level():
    rng = np.random.default_rng(21)
    reps, pairs, alpha = 20_000, 50, 0.05
    miss = _miss_rate(rng.normal(0, 1, (reps, pairs)), rng.normal(0, 2, (reps, pairs)), 0.0, alpha)
    assert miss <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / reps)


def test_fixed_t_interval_looked_at_every_pair_does_not_keep_its_level():
    """The failure the sequence exists for, seen by the same Monte Carlo: optional stopping."""
    rng = np.random.default_rng(22)
    reps, pairs, alpha = 20_000, 50, 0.05
    y, x = rng.normal(0, 1, (reps, pairs)), rng.normal(0, 1, (reps, pairs))
    n = np.arange(2, pairs + 1)
    mx, my = np.cumsum(x, 1)[:, 1:] / n, np.cumsum(y, 1)[:, 1:] / n
    ss = np.cumsum(x * x, 1)[:, 1:] - n * mx**2 + np.cumsum(y * y, 1)[:, 1:] - n * my**2
    half = stats.t.ppf(1 - alpha / 2, 2 * n - 2) * np.sqrt(ss / (2 * n - 2) * 2 / n)
    miss = float((np.abs(mx - my) > half).any(axis=1).mean())
    assert miss > 3 * alpha
    assert _miss_rate(y, x, 0.0, alpha) <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / reps)


def test_interval_shape_and_errors():
    one = sequential.interval([100.0], [103.0], 0.05)
    assert not one.bounded and one.n_pairs == 1
    iv = sequential.interval([100.0, 101.0, 99.5, 100.2], [103.1, 104.0, 102.9, 103.3], 0.05)
    lo, hi = iv.pct
    assert iv.bounded and lo < 100 * math.expm1(iv.estimate) < hi and lo > 0
    assert sequential.interval([100.0, 101.0, 99.0], [103.0, 104.0], 0.05).n_pairs == 2  # pairs in order
    assert sequential.pairs_needed(0.05) == 2
    with pytest.raises(ValueError):
        sequential.interval([1.0, -1.0], [1.0, 1.0], 0.05)


@pytest.fixture(scope="module")
def boot_memory(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    return simulate("ampereone", out, arms=["pte", "block"], boots=4, iterations=1, seed=5, workloads=["boot"])


def _states(paths, boots: int) -> dict[str, dict]:
    dirs = [p for p in paths if RunFolder.open(p).manifest["spec"]["boot"] < boots]
    claims = [c for c in load_claims("bbml2") if c.workload == "boot-memory"]
    res = analyze(load_runs(dirs), "pte", "block", claims, resamples=200)
    comps = {(c["workload"], c["metric"]): c for c in res["comparisons"]}
    return {r["id"]: r for r in judge_sequential(claims, comps, 0.95)}


def test_exact_memtotal_keeps_its_exact_rule(boot_memory):
    one = _states(boot_memory, 1)
    assert one["boot-memory-total"]["verdict"] == "inconclusive" and not one["boot-memory-total"]["decided"]
    two = _states(boot_memory, 2)
    total = two["boot-memory-total"]
    assert total["decided"] and total["ci_pct"][0] == total["ci_pct"][1]
    assert "exact" in total["method"]


def test_memfree_is_judged_on_the_sequence(boot_memory):
    four = _states(boot_memory, 4)["boot-memory"]
    assert four["n_pairs"] == 4 and "anytime-valid" in four["method"]
    lo, hi = four["ci_pct"]
    assert math.isfinite(lo) and math.isfinite(hi) and lo < hi


def test_expected_more_and_apply_sequential(tmp_path):
    """An undecided claim forecasts the pairs it still needs; analyze's claims switch to the sequence.

    The model's memcached change is about +13 %, so 2 boots per arm with 1 iteration leave seed 3's
    sequence across zero and a pair or two from a decision."""
    paths = simulate(
        "ampereone", tmp_path, arms=["pte", "block"], boots=2, iterations=1, seed=3, workloads=["memcached"]
    )
    claims = [c for c in load_claims("bbml2") if c.id == "memcached-ops"]
    res = analyze(load_runs(paths), "pte", "block", claims, resamples=200)
    comps = {(c["workload"], c["metric"]): c for c in res["comparisons"]}
    (state,) = judge_sequential(claims, comps, 0.95)
    more = expected_more(claims[0], comps[("memcached", "ops_per_sec")], 0.05, 20)
    assert state["verdict"] == "inconclusive" and state["n_pairs"] == 2  # this seed: undecided after 2 pairs
    assert more is not None and 1 <= more <= 18
    fixed = res["claims"][0]["verdict"]
    apply_sequential(res, claims, 0.95)
    row = res["claims"][0]
    assert row["verdict"] == state["verdict"] and row["sequential"] == state
    assert row["warnings"][0].startswith("anytime-valid: ") and f"fixed-design verdict {fixed}" in row["warnings"][0]
    assert any(n.startswith("adaptive campaign (plan.json)") for n in res["notes"])
