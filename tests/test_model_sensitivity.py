"""sensitivity: one-at-a-time swings, ranked; zero everywhere off the allow-list."""

from __future__ import annotations

import pytest

from benchctl.model.sensitivity import render, sensitivity

FAST = ["model.ops=1500"]


@pytest.fixture(scope="module")
def ampere():
    return sensitivity("ampereone", workloads=["memcached"], overrides=FAST)


def test_rows_ranked_by_swing(ampere):
    assert ampere["simulated"] is True
    for c in ampere["claims"]:
        swings = [r["swing_pct"] for r in c["parameters"]]
        assert swings == sorted(swings, reverse=True)
        for r in c["parameters"]:
            assert r["swing_pct"] == pytest.approx(abs(r["high_pct"] - r["low_pct"]), abs=1e-6)


def test_only_assumed_figures_are_swept(ampere):
    names = {r["parameter"] for c in ampere["claims"] for r in c["parameters"]}
    assert "cpu.walk_cycles" in names
    assert not any("L1D.page_sizes" in n or n.endswith("midr") for n in names)
    assert "model.ops" not in names  # a simulation length, not an assumption about the machine


def test_more_walk_cost_means_more_gain(ampere):
    ops = next(c for c in ampere["claims"] if c["claim"] == "memcached-ops")
    row = next(r for r in ops["parameters"] if r["parameter"] == "cpu.walk_cycles")
    assert row["low_pct"] < ops["change_pct"] < row["high_pct"]


def test_off_list_nothing_moves():
    r = sensitivity("neoverse-n1", workloads=["memcached"], overrides=FAST)
    assert all(row["swing_pct"] == 0 for c in r["claims"] for row in c["parameters"])
    assert render(r).startswith("SIMULATED")
