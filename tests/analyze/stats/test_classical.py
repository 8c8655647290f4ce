"""Welch, Mann-Whitney, Holm, drift and power checked against scipy / by hand."""

import numpy as np
import pytest
from scipy import stats

from benchctl.analyze.stats import classical, power, trend

A = np.array([100.2, 99.1, 101.5, 100.8, 99.9])
B = np.array([103.1, 104.0, 102.2, 103.9, 105.1])


def test_welch_matches_scipy():
    r = classical.welch(A, B)
    ref = stats.ttest_ind(B, A, equal_var=False)
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert r.statistic == pytest.approx(ref.statistic, rel=1e-12)


def _samples(rng, n1, n2, kind):
    a = rng.normal(100, rng.uniform(0.01, 10), n1)
    b = rng.normal(100 + rng.normal(), rng.uniform(0.01, 10), n2)
    if kind == "ties":
        a, b = np.round(a), np.round(b)
    elif kind == "large":
        a, b = a * 1e6, b * 1e6
    return a, b


@pytest.mark.parametrize("kind", ["float", "ties", "large"])
def test_welch_and_mann_whitney_are_scipys_numbers_to_the_bit(kind):
    # classical computes both on scipy.special (no scipy.stats import): the same numbers, every path:
    # Welch; Mann-Whitney exact (<= 8 a side, no ties) and normal (ties, or > 8 a side)
    rng = np.random.default_rng(5)
    for n1, n2 in [(2, 2), (2, 7), (4, 4), (5, 8), (8, 8), (9, 9), (4, 13), (12, 10)]:
        a, b = _samples(rng, n1, n2, kind)
        w, ref = classical.welch(b, a), stats.ttest_ind(a, b, equal_var=False)
        assert (w.p_value, w.statistic) == (float(ref.pvalue), float(ref.statistic))
        if min(n1, n2) >= classical.MWU_MIN_BOOTS:
            u, ref = classical.mann_whitney(b, a), stats.mannwhitneyu(a, b, alternative="two-sided")
            assert (u.p_value, u.statistic) == (float(ref.pvalue), float(ref.statistic))


def test_welch_warns_of_lost_precision_where_scipy_does():
    a, b = np.array([1e9, 1e9 + 1e-6, 1e9]), np.array([2.0, 3.0, 4.0])
    with pytest.warns(RuntimeWarning):
        stats.ttest_ind(a, b, equal_var=False)
    with pytest.warns(RuntimeWarning):
        classical.welch(b, a)


@pytest.mark.parametrize("n", [3, 8, 20, 33, 34, 200, 3000])
def test_kendall_is_scipys_tau_and_p_to_the_bit(n):
    # trend computes tau-b on scipy.special alone: exact p (n <= 33, no ties), normal with ties
    rng = np.random.default_rng(n)
    for v in (
        rng.normal(size=n),
        rng.normal(size=n) + np.arange(n) / n,
        np.round(rng.normal(size=n), 1),
        rng.integers(0, 3, n).astype(float),
        np.arange(n, 0, -1.0),
    ):
        t, ref = trend.kendall(v), stats.kendalltau(np.arange(n), v)
        assert t is not None and (t.tau, t.p_value) == (float(ref[0]), float(ref[1]))


def test_kendall_bound_never_hides_a_flagged_boot():
    # Daniels' inequality may only skip boots whose exact |tau| is below the flag
    rng = np.random.default_rng(3)
    for _ in range(400):
        n = int(rng.integers(8, 400))
        v = rng.normal(size=n) + rng.uniform(-4, 4) * np.arange(n) / n
        if rng.random() < 0.5:
            v = np.round(v, 1)
        t = trend.kendall(v)
        if trend.below(v, trend.WITHIN_TAU):
            assert t is None or abs(t.tau) < trend.WITHIN_TAU
    assert not trend.below(np.arange(50.0), trend.WITHIN_TAU)


def test_inversions_by_hand():
    assert trend.inversions(np.array([3, 1, 2])) == 2
    assert trend.inversions(np.array([0, 0, 1, 1])) == 0
    assert trend.inversions(np.array([2, 2, 1, 0])) == 5


def test_welch_needs_two_boots_per_side():
    r = classical.welch(A[:1], B)
    assert r.p_value is None and "2 boots" in r.note


def test_mann_whitney_matches_scipy():
    r = classical.mann_whitney(A, B)
    ref = stats.mannwhitneyu(B, A, alternative="two-sided")
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert r.statistic == ref.statistic


def test_mann_whitney_says_why_not_with_three_boots():
    r = classical.mann_whitney(A[:3], B[:3])
    assert r.p_value is None
    assert ">= 4 boots" in r.note and "0.1" in r.note
    assert classical.min_mwu_p(4, 4) == pytest.approx(0.0286, abs=1e-4)


def test_holm_by_hand():
    # p sorted: 0.01, 0.02, 0.04 (m=3): 0.03, 0.04, max(0.04, 0.04) = 0.04
    assert classical.holm([0.04, 0.01, 0.02]) == pytest.approx([0.04, 0.03, 0.04])
    # Monotone step-down and capping at 1; None stays out of the family.
    assert classical.holm([0.5, None, 0.3]) == [0.6, None, 0.6]
    assert classical.holm([0.9, 0.8]) == [1.0, 1.0]


def test_drift_detected_across_boots_and_within_a_boot():
    w = trend.drift_warnings("pte", np.arange(8.0), [("b1", np.arange(12.0)), ("b2", np.ones(12))])
    assert any("rising with boot order" in x for x in w)
    assert any("rises over iterations in boot b1" in x for x in w)


def test_no_drift_on_noise_mostly():
    rng = np.random.default_rng(1)
    hits = sum(bool(trend.drift_warnings("a", rng.normal(size=8), [("b", rng.normal(size=20))])) for _ in range(200))
    assert hits <= 20  # about 5 % across boots + 1 % within


def test_power_matches_noncentral_t_and_simulation():
    within, between = (4.0, 4.0), (1.0, 1.0)
    p = power.power(2.0, within, between, boots=6, iters=4)
    var = (1 + 4 / 4 + 1 + 4 / 4) / 6
    crit = np.sqrt(6 / 5) * stats.t.ppf(0.975, 10)
    ncp = 2.0 / np.sqrt(var)
    assert p == pytest.approx(stats.nct.sf(crit, 10, ncp) + stats.nct.cdf(-crit, 10, ncp))
    assert power.power(2.0, within, between, 12, 4) > p > power.power(2.0, within, between, 3, 4)


def test_plan_is_cheapest_feasible_design():
    within, between = (9.0, 9.0), (1.0, 1.0)
    pl = power.cheapest_design(3.0, within, between, boot_cost=300, iter_cost=10)
    assert pl.power >= 0.8
    best = min(
        (2 * b * (300 + n * 10), b, n)
        for b in range(2, 40)
        for n in range(1, 80)
        if power.power(3.0, within, between, b, n) >= 0.8
    )
    assert pl.cost_s == best[0]
    # Expensive reboots push towards more iterations per boot.
    cheap = power.cheapest_design(3.0, within, between, boot_cost=1, iter_cost=10)
    assert cheap.iterations <= pl.iterations


def test_plan_unreachable_says_so():
    pl = power.cheapest_design(0.001, (1.0, 1.0), (100.0, 100.0), 300, 10, max_boots=5)
    assert pl.boots is None and "not reachable" in pl.note
