"""Joint draws, weighted quantiles, variance shares: checked against numpy and a function with known shares."""

from __future__ import annotations

import numpy as np
import pytest

from benchctl.model import montecarlo
from benchctl.model.profiles import Figure


def test_weighted_quantile_matches_numpy_with_equal_weights():
    x = np.random.default_rng(1).normal(size=5001)
    assert montecarlo.weighted_quantile(x, [0.05, 0.5, 0.95], np.ones_like(x)) == pytest.approx(
        np.quantile(x, [0.05, 0.5, 0.95]), abs=0.01
    )


def test_weights_move_the_median():
    x = np.linspace(0, 1, 1001)
    w = np.where(x > 0.5, 3.0, 1.0)
    assert montecarlo.weighted_quantile(x, 0.5, w)[0] == pytest.approx(2 / 3, abs=0.01)


def test_variance_shares_of_a_linear_function():
    rng = np.random.default_rng(2)
    a, b = rng.uniform(0, 1, 20000), rng.uniform(0, 1, 20000)
    shares = montecarlo.variance_shares(3 * a + b, {"a": a, "b": b, "c": np.zeros_like(a)})
    assert shares["a"] == pytest.approx(0.9, abs=0.02) and shares["b"] == pytest.approx(0.1, abs=0.02)
    assert "c" not in shares


def test_draws_are_reproducible_and_independent_of_other_figures():
    f = {"x": Figure(2.0, "assumed", "s", 1.0, 3.0, "uniform"), "y": Figure(1, "published", "s")}
    d1 = montecarlo.draw(f, 100, 7)
    d2 = montecarlo.draw(dict(f, z=Figure(5.0, "assumed", "s", 4.0, 6.0, "uniform")), 100, 7)
    assert np.array_equal(d1["x"], d2["x"]) and (d1["y"] == 1).all()
