"""The hierarchical bootstrap: K&J indices, loop equivalence, seeding, ratio of sums."""

import math

import numpy as np
import pytest

from benchctl.analyze.stats import bootstrap as bs


def arm(rng, boots=4, iters=6, mean=100.0, boot_sd=2.0, it_sd=1.0, ragged=False):
    groups = []
    for b in range(boots):
        n = iters + (b if ragged else 0)
        groups.append(mean + rng.normal(0, boot_sd) + rng.normal(0, it_sd, n))
    return bs.Arm.from_groups(groups)


def test_percentile_indices_follow_libkalibera():
    # _confidence_slice_indicies: floor(0.025 B), ceil(0.975 B); upper is exclusive.
    assert bs.percentile_indices(10_000, 0.95) == (250, 9750)
    assert bs.percentile_indices(1000, 0.95) == (25, 975)
    assert bs.percentile_indices(99, 0.95) == (2, 97)  # 2.475 -> 2, 96.525 -> 97
    assert bs.percentile_indices(10, 0.9) == (0, 10)


def test_vectorised_equals_straightforward_loop():
    rng = np.random.default_rng(5)
    a = arm(rng, ragged=True)
    fast, exact = bs.resample_arm(a, np.random.default_rng(42), 200)
    slow = bs.reference_loop(a, np.random.default_rng(42), 200)
    assert exact
    np.testing.assert_allclose(fast, slow, rtol=1e-12)


def test_seeded_results_repeat_and_seeds_differ():
    rng = np.random.default_rng(1)
    a, b = arm(rng), arm(rng, mean=103)
    r1 = bs.bootstrap_ratio(a, b, resamples=2000, seed_seq=np.random.SeedSequence(7))
    r2 = bs.bootstrap_ratio(a, b, resamples=2000, seed_seq=np.random.SeedSequence(7))
    r3 = bs.bootstrap_ratio(a, b, resamples=2000, seed_seq=np.random.SeedSequence(8))
    assert (r1.low, r1.high) == (r2.low, r2.high)
    assert (r1.low, r1.high) != (r3.low, r3.high)
    assert r1.low < r1.ratio < r1.high


def test_boot_level_dominates_interval_width():
    """Same iteration noise, plus boot offsets: a boot-aware interval must widen."""
    rng = np.random.default_rng(3)
    noise = [rng.normal(0, 1, 6) for _ in range(8)]
    flat = bs.Arm.from_groups([100 + n for n in noise])
    offsets = [-5, 5, -4, 4, -3, 3, -2, 2]
    shifted = bs.Arm.from_groups([100 + o + n for o, n in zip(offsets, noise, strict=True)])
    narrow = bs.bootstrap_ratio(flat, flat, resamples=2000, expand=False)
    wide = bs.bootstrap_ratio(shifted, shifted, resamples=2000, expand=False)
    assert (wide.high - wide.low) > 3 * (narrow.high - narrow.low)


def test_ratio_metric_is_ratio_of_sums_not_mean_of_ratios():
    # One boot, two iterations: walks (1, 100), instructions (1000, 1000000).
    num, den = np.array([1.0, 100.0]), np.array([1000.0, 1_000_000.0])
    a = bs.Arm(num, np.array([0, 2]), den, 1000.0)
    assert a.boot_stats()[0] == pytest.approx(1000 * 101 / 1_001_000)
    assert a.boot_stats()[0] != pytest.approx(1000 * np.mean(num / den))


def test_normal_limit_agrees_with_exact_for_large_boots(monkeypatch):
    rng = np.random.default_rng(11)
    a, b = arm(rng, boots=6, iters=400), arm(rng, boots=6, iters=400, mean=102)
    exact = bs.bootstrap_ratio(a, b, resamples=4000, expand=False)
    monkeypatch.setattr(bs, "EXACT_BUDGET", 1)
    approx = bs.bootstrap_ratio(a, b, resamples=4000, expand=False)
    assert "normal limit" in approx.method and "normal limit" not in exact.method
    assert approx.low == pytest.approx(exact.low, abs=0.004)
    assert approx.high == pytest.approx(exact.high, abs=0.004)


def test_normal_limit_ratio_metric_close_to_exact(monkeypatch):
    rng = np.random.default_rng(2)
    groups_n, groups_d = [], []
    for _ in range(5):
        d = rng.uniform(1e6, 2e6, 300)
        groups_d.append(d)
        groups_n.append(d * (0.002 + rng.normal(0, 0.0002)) + rng.normal(0, 50, 300))
    a = bs.Arm.from_groups(groups_n, groups_d, 1000)
    b = bs.Arm.from_groups([g * 0.7 for g in groups_n], groups_d, 1000)
    exact = bs.bootstrap_ratio(a, b, resamples=3000, expand=False)
    monkeypatch.setattr(bs, "EXACT_BUDGET", 1)
    approx = bs.bootstrap_ratio(a, b, resamples=3000, expand=False)
    assert approx.ratio == pytest.approx(0.7)
    assert approx.low == pytest.approx(exact.low, abs=0.01)
    assert approx.high == pytest.approx(exact.high, abs=0.01)


def test_one_boot_resamples_iterations_only():
    rng = np.random.default_rng(4)
    a, b = arm(rng, boots=1, iters=20), arm(rng, boots=1, iters=20, mean=105)
    r = bs.bootstrap_ratio(a, b, resamples=2000)
    assert r.level_used == r.level  # no expansion possible
    assert r.low < r.ratio < r.high


def test_expanded_level_grows_as_boots_shrink():
    l3 = bs.expanded_level(0.95, 3, 3, 4.0)
    l10 = bs.expanded_level(0.95, 10, 10, 18.0)
    assert 0.95 < l10 < l3 < 1
    assert bs.expanded_level(0.95, 1, 5, math.nan) == 0.95


def test_t_interval_ratio_matches_welch_on_logs_for_equal_variance():
    from scipy import stats

    a = np.array([100.0, 101.0, 99.0, 100.5])
    b = np.array([103.0, 104.0, 102.0, 103.5])
    lo, hi = bs.t_interval_ratio(a, b, 0.95)
    assert lo < b.mean() / a.mean() < hi
    # Symmetric on the log scale around log(mean ratio).
    c = math.log(b.mean() / a.mean())
    assert math.log(hi) - c == pytest.approx(c - math.log(lo))
    se = math.sqrt(a.var(ddof=1) / (4 * a.mean() ** 2) + b.var(ddof=1) / (4 * b.mean() ** 2))
    assert (math.log(hi) - c) / se == pytest.approx(stats.t.ppf(0.975, bs.welch_df(a / a.mean(), b / b.mean())))


def test_vectorised_equals_loop_balanced_ratio_metric():
    rng = np.random.default_rng(8)
    den = [rng.uniform(1e6, 2e6, 5) for _ in range(3)]
    num = [d * 0.002 for d in den]
    a = bs.Arm.from_groups(num, den, 1000.0)
    fast, _ = bs.resample_arm(a, np.random.default_rng(1), 100)
    slow = bs.reference_loop(a, np.random.default_rng(1), 100)
    np.testing.assert_allclose(fast, slow, rtol=1e-12)
