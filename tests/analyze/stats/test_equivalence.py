"""TOST and the slope interval against scipy's own tests (independent implementations)."""

import numpy as np
import pytest
from scipy import stats

from benchctl.analyze.stats.equivalence import tost
from benchctl.analyze.stats.slope import fit


def _scipy_tost(b, c, margin_pct):
    m = margin_pct / 100 * np.mean(b)
    p1 = stats.ttest_ind(np.asarray(c) + m, b, equal_var=False, alternative="greater").pvalue
    p2 = stats.ttest_ind(np.asarray(c) - m, b, equal_var=False, alternative="less").pvalue
    return max(p1, p2)


@pytest.mark.parametrize("seed", range(5))
def test_tost_p_matches_two_one_sided_welch_tests_in_scipy(seed):
    rng = np.random.default_rng(seed)
    b = rng.normal(100, 1.5, 5)
    c = rng.normal(100.4, 2.0, 6)
    r = tost(b, c, 2.0)
    assert r.p_value == pytest.approx(_scipy_tost(b, c, 2.0), rel=1e-9)
    # duality: equivalent at alpha iff the (1 - 2 alpha) interval lies inside the margin
    assert (r.p_value < 0.05) == (r.verdict == "equivalent") == (-2 <= r.ci_pct[0] and r.ci_pct[1] <= 2)


def test_tost_verdicts():
    b = [100.0, 100.2, 99.8, 100.1, 99.9]
    assert tost(b, [100.1, 100.0, 99.9, 100.2, 100.0], 1.0).verdict == "equivalent"
    assert tost(b, [105.0, 105.2, 104.9, 105.1, 105.0], 1.0).verdict == "not-equivalent"
    assert tost([100.0, 104.0], [101.0, 97.0], 1.0).verdict == "inconclusive"


def test_tost_exact_arms_and_too_few_boots():
    r = tost([100.0, 100.0], [100.5, 100.5], 1.0)
    assert (r.verdict, r.p_value, r.ci_pct) == ("equivalent", None, (0.5, 0.5))
    assert tost([100.0, 100.0], [102.0, 102.0], 1.0).verdict == "not-equivalent"
    with pytest.raises(ValueError):
        tost([1.0], [1.0, 2.0], 1.0)


def test_slope_matches_linregress():
    x = [0.93, 1.92, 3.82, 7.64]
    y = [1980.0, 4032.0, 8136.0, 16250.0]
    s = fit(x, y, 0.95)
    r = stats.linregress(x, y)
    assert s.slope == pytest.approx(r.slope) and s.se == pytest.approx(r.stderr)
    h = stats.t.ppf(0.975, 2) * r.stderr
    assert s.ci == pytest.approx((r.slope - h, r.slope + h))
    with pytest.raises(ValueError):
        fit([1, 1, 1], [2, 3, 4])
