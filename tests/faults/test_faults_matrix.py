"""The fault-injection scenarios as pytest tests (tests/faults/README.md).

Plain `pytest` runs the fast subset (one or more scenarios of every kind:
each signal, each phase, each workload, storage, bad input, devices,
concurrency, security). BENCHCTL_FAULTS_FULL=1 runs the whole matrix, as
`python tests/faults/run_faults.py --full` does with a table.
"""

from __future__ import annotations

import os

import pytest

from tests.faults.registry import Skip, all_scenarios

FULL = os.environ.get("BENCHCTL_FAULTS_FULL") == "1"
SCENARIOS = all_scenarios()

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(os.geteuid() != 0, reason="fault scenarios need root (mounts, loop devices)"),
]


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(sc):
    if not (sc.fast or FULL):
        pytest.skip("full matrix only: BENCHCTL_FAULTS_FULL=1 or python tests/faults/run_faults.py --full")
    try:
        out = sc.fn()
    except Skip as e:
        pytest.skip(str(e))
    assert out.leftovers == [], f"left behind: {out.leftovers}"
    assert out.records_lost == 0, f"{out.records_lost} records lost"


def test_registry_covers_the_matrix():
    """Every workload x phase x signal is a scenario, and the fast subset has each signal, phase, workload."""
    from tests.faults import sc_signals

    names = {s.name for s in SCENARIOS}
    for wl in sc_signals.WORKLOADS:
        for ph in sc_signals.PHASES:
            for sig in sc_signals.SIGNALS:
                assert f"{wl} {sig} during {ph}" in names
    fast = [s.name for s in SCENARIOS if s.fast and s.group == "signals"]
    for token in [*sc_signals.WORKLOADS, *sc_signals.SIGNALS, *sc_signals.PHASES]:
        assert any(token in n for n in fast), token
    assert {s.group for s in SCENARIOS if s.fast} == {s.group for s in SCENARIOS}
