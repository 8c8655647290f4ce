"""The confidence sequence of stats/sequential.py and the sequential claim states of analyze/adaptive.py.

Checks: each look's interval and p-value against scipy.stats.ttest_ind
(pooled, equal_var=True) at the look's spent level, an independent
implementation; the spending sums to 1; time-uniform coverage by Monte
Carlo with a fixed seed, and the same Monte Carlo showing that a
fixed-design t interval looked at after every pair does not keep its level
(so the check can fail).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from benchctl.analyze.adaptive import apply_sequential, expected_more, judge_sequential
from benchctl.analyze.result import analyze
from benchctl.analyze.stats import sequential
from benchctl.claims import load_claims
from benchctl.model.simulate import simulate
from benchctl.results.loader import load_runs
from benchctl.results.store import RunFolder

H = 8  # planned pairs in these checks


def test_each_look_is_scipys_pooled_t_interval_at_its_spent_level():
    rng = np.random.default_rng(3)
    y, x = rng.normal(0.0, 0.01, 12), rng.normal(0.03, 0.01, 12)
    low, high = sequential.paths(y, x, 0.05, H)
    p = sequential.p_paths(y, x, H)
    assert np.isinf(low[0, 0]) and np.isinf(high[0, 0]) and p[0, 0] == 1.0
    best = 1.0
    for n in range(2, 13):
        r = stats.ttest_ind(x[:n], y[:n], equal_var=True)
        w = sequential.weight(n, H)
        # each end is where scipy's two-sided test of that shift has p = alpha w (interval-test duality;
        # scipy < 1.11 has no ttest_ind(...).confidence_interval)
        for end in (low[0, n - 1], high[0, n - 1]):
            assert stats.ttest_ind(x[:n] - end, y[:n], equal_var=True).pvalue == pytest.approx(0.05 * w, rel=1e-7)
        assert low[0, n - 1] < x[:n].mean() - y[:n].mean() < high[0, n - 1]
        best = min(best, min(1.0, r.pvalue / w))
        assert p[0, n - 1] == pytest.approx(best, rel=1e-9)


def test_spending_sums_to_one_and_is_equal_over_the_planned_looks():
    assert sum(sequential.weight(n, H) for n in range(0, 200_000)) == pytest.approx(1.0, abs=1e-5)
    inside = {sequential.weight(n, H) for n in range(2, H + 1)}
    assert len(inside) == 1 and sequential.weight(H + 1, H) < min(inside)


def _miss_rate(y, x, truth, alpha, horizon=H) -> float:
    lo, hi = sequential.running_intersection(*sequential.paths(y, x, alpha, horizon))
    return float(((lo > truth) | (hi < truth)).any(axis=1).mean())


@pytest.mark.parametrize("alpha", [0.05, 0.05 / 7])
def test_time_uniform_coverage_monte_carlo(alpha):
    """P(the truth leaves the sequence at any of 50 pairs, past the horizon too) <= alpha, within 3 MC se."""
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
    one = sequential.interval([100.0], [103.0], 0.05, H)
    assert not one.bounded and one.n_pairs == 1
    iv = sequential.interval([100.0, 101.0, 99.5, 100.2], [103.1, 104.0, 102.9, 103.3], 0.05, H)
    lo, hi = iv.pct
    assert iv.bounded and lo < 100 * math.expm1(iv.estimate) < hi and lo > 0
    assert iv.p_value < 0.05
    assert sequential.interval([100.0, 101.0, 99.0], [103.0, 104.0], 0.05, H).n_pairs == 2  # pairs in order
    with pytest.raises(ValueError):
        sequential.interval([1.0, -1.0], [1.0, 1.0], 0.05, H)


@pytest.fixture(scope="module")
def boot_memory(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    return simulate("ampereone", out, arms=["pte", "block"], boots=4, iterations=1, seed=5, workloads=["boot"])


def _states(paths, boots: int) -> dict[str, dict]:
    dirs = [p for p in paths if RunFolder.open(p).manifest["spec"]["boot"] < boots]
    claims = [c for c in load_claims("bbml2") if c.workload == "boot-memory"]
    res = analyze(load_runs(dirs), "pte", "block", claims, resamples=200)
    comps = {(c["workload"], c["metric"]): c for c in res["comparisons"]}
    return {r["id"]: r for r in judge_sequential(claims, comps, 0.95, H)}


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
    (state,) = judge_sequential(claims, comps, 0.95, H)
    more = expected_more(claims[0], comps[("memcached", "ops_per_sec")], 0.05, 20)
    assert state["verdict"] == "inconclusive" and state["n_pairs"] == 2  # this seed: undecided after 2 pairs
    assert more is not None and 1 <= more <= 18
    fixed = res["claims"][0]["verdict"]
    apply_sequential(res, claims, 0.95, H)
    row = res["claims"][0]
    assert row["verdict"] == state["verdict"] and row["sequential"] == state
    assert row["warnings"][0].startswith("anytime-valid: ") and f"fixed-design verdict {fixed}" in row["warnings"][0]
    assert any(n.startswith("adaptive campaign (plan.json)") for n in res["notes"])
