"""Variance components and optimal repetitions against libkalibera's worked examples."""

import numpy as np
import pytest

from benchctl.analyze.stats.components import level_variances, optimal_reps, two_level, unbiased_components

TWO = np.array([[9, 5, 8, 3], [10, 6, 7, 11], [1, 12, 2, 4]], float)
PAPER = np.array([[[9, 5], [8, 3]], [[10, 6], [7, 11]], [[1, 12], [2, 4]]], float)
THIRD = np.array([[[3, 4, 3], [1.2, 3.1, 3]], [[0.2, 1, 1.5], [1, 2, 3]]], float)


def test_two_level_example():
    s = level_variances(TWO)
    assert s[0] == pytest.approx(12.7, abs=0.05)
    assert s[1] == pytest.approx(3.6, abs=0.05)
    t = unbiased_components(s, [4, 3])
    assert t[1] == pytest.approx(0.4, abs=0.05)
    assert TWO.mean() == 6.5


def test_paper_three_level_example_has_negative_component():
    s = level_variances(PAPER)
    assert s == pytest.approx([16.5, 2.6, 3.6], abs=0.05)
    t = unbiased_components(s, [2, 2, 3])
    assert t == pytest.approx([16.5, -5.7, 2.3], abs=0.05)


def test_third_example_and_optimal_reps():
    s = level_variances(THIRD)
    t = unbiased_components(s, [3, 2, 2])
    assert t == pytest.approx([0.72667, 0.26278, 0.7747], abs=1e-4)
    r = optimal_reps(t, [3, 20, 100])  # costs low to high: iteration, exec, build
    assert r == pytest.approx([4.2937, 1.3023], abs=1e-4)
    assert [int(np.ceil(x)) for x in r] == [5, 2]


def test_two_level_matches_balanced_formula():
    tl = two_level(list(TWO))
    s = level_variances(TWO)
    assert tl.s1 == pytest.approx(s[0])
    assert tl.s2 == pytest.approx(s[1])
    assert tl.between == pytest.approx(unbiased_components(s, [4, 3])[1])
    assert not tl.warnings


def test_negative_between_is_clamped_with_warning():
    groups = [np.array([0.0, 10.0]), np.array([5.0, 5.1]), np.array([10.0, 0.0])]
    tl = two_level(groups)
    assert tl.raw_between < 0
    assert tl.between == 0.0
    assert any("negative" in w and "clamped" in w for w in tl.warnings)


def test_one_boot_says_between_unknown():
    tl = two_level([np.array([1.0, 2.0, 3.0])])
    assert tl.n_boots == 1
    assert any("one boot" in w for w in tl.warnings)


def test_optimal_reps_infinite_when_upper_level_silent():
    assert optimal_reps([1.0, 0.0], [1, 100]) == [float("inf")]
