"""Fast version of tests/support/calibration.py: fewer datasets, loose bounds.

The full script (1000 datasets per design) is the evidence; this guards
against a change that breaks calibration outright.
"""

import calibration


def test_boot_aware_verdicts_are_calibrated_and_pooled_are_not():
    res = calibration.run(datasets=60, seed=11, boots=5, iters=6, resamples=1000)
    aware, pooled = res["boot-aware"], res["pooled"]
    assert aware["false_effect"] <= 0.10
    assert aware["cover"] >= 0.86
    # Ignoring boots makes intervals far too narrow: the reason for all this.
    assert pooled["false_effect"] > aware["false_effect"] + 0.1
    assert pooled["cover"] < aware["cover"] - 0.2
