"""Within-boot CV at the end of a run (issue 21): s (ddof=1) / mean, checked against numpy and scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from benchctl.run import variance

SAMPLES = [
    [111836.0, 67010.2, 199805.0, 163840.0, 144352.0],  # fio IOPS passes measured on this host
    [1.0, 2.0, 3.0, 4.0],
    [5.0e9, 5.1e9, 4.9e9],
    [-2.0, -3.0, -4.0],  # a negative mean: CV of the magnitude
]


@pytest.mark.parametrize("xs", SAMPLES)
def test_cv_is_sample_sd_over_mean_as_numpy_and_scipy_compute_it(xs: list[float]) -> None:
    expected = np.std(xs, ddof=1) / abs(np.mean(xs))
    assert variance.cv(xs) == pytest.approx(expected, rel=1e-12)
    assert variance.cv(xs) == pytest.approx(abs(stats.variation(xs, ddof=1)), rel=1e-12)


def test_cv_worked_example() -> None:
    """2, 4, 4, 4, 5, 5, 7, 9: mean 5, sample variance 32/7, so CV = sqrt(32/7)/5 = 0.42762..."""
    assert variance.cv([2, 4, 4, 4, 5, 5, 7, 9]) == pytest.approx((32 / 7) ** 0.5 / 5, rel=1e-12)


def test_cv_undefined_for_one_value_or_a_zero_mean() -> None:
    assert variance.cv([3.0]) is None and variance.cv([]) is None
    assert variance.cv([-1.0, 1.0]) is None


def rec(it: int, metric: str, value: float, warmup: bool = False, **note) -> dict:
    return {"iteration": it, "metric": metric, "value": value, "unit": "u", "warmup": warmup, "note": note}


def test_per_metric_leaves_warmups_out_and_says_why_a_cv_is_missing() -> None:
    recs = [rec(1, "iops", 999.0, warmup=True)] + [rec(i, "iops", v) for i, v in enumerate([10.0, 12.0, 14.0], 1)]
    recs.append(rec(1, "only_once", 5.0))
    out = variance.per_metric(recs)
    assert out["iops"]["n"] == 3 and out["iops"]["cv_pct"] == pytest.approx(
        100 * np.std([10, 12, 14], ddof=1) / 12, abs=5e-4
    )
    assert out["only_once"]["cv_pct"] is None and out["only_once"]["why"] == "fewer than 2 iterations"


def test_quiesce_summary_counts_the_passes_that_started_outside() -> None:
    q = {"quiesce_s": 0.01, "dirty_kb": 10, "writeback_kb": 0}
    recs = [
        rec(1, "iops", 1.0, **q),
        rec(1, "bw", 1.0, **q),
        rec(2, "iops", 1.0, quiesce_s=10.0, dirty_kb=90000, writeback_kb=300, not_quiesced=True),
        rec(3, "iops", 1.0, **q),
        rec(1, "iops", 1.0, warmup=True, quiesce_s=99.0, dirty_kb=1, writeback_kb=1),
    ]
    s = variance.quiesce_summary(recs, {"max_dirty_kb": 4096, "deadline_s": 10, "drop_caches": 0})
    assert s is not None
    assert (s["iterations"], s["not_quiesced"], s["seconds_max"], s["dirty_kb_max"]) == (3, [2], 10.0, 90000)
    lines = variance.lines(variance.per_metric(recs), s)
    assert "1 of 3 iterations started outside it (2: not_quiesced)" in " ".join(" ".join(lines).split())
    assert all(len(ln) <= 72 for ln in lines)
    assert variance.quiesce_summary(recs, None) is None, "no rule, no quiesce summary"
