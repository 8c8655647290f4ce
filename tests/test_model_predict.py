"""predict: signs on AmpereOne, exact zero off the allow-list, structure of the output."""

from __future__ import annotations

import pytest

from benchctl.errors import UsageError
from benchctl.model.targets import load_claims
from benchctl.model.predict import Model, predict
from benchctl.model.profiles import load_cpu, load_workloads

CLAIM_IDS = {"boot-memory", "boot-memory-total", "memcached-ops", "memcached-p99", "memcached-tlb", "dmcrypt-iops",
             "seqread-bw"}


@pytest.fixture(scope="module")
def ampere():
    return predict("ampereone")


@pytest.fixture(scope="module")
def n1():
    return predict("neoverse-n1")


def test_output_shape(ampere):
    assert ampere["simulated"] is True
    assert {p["claim"] for p in ampere["predictions"]} == CLAIM_IDS
    for p in ampere["predictions"]:
        assert {"claim", "metric", "change_pct", "range_pct", "assumptions"} <= set(p)
        lo, hi = p["range_pct"]
        assert lo <= p["change_pct"] <= hi
        assert p["assumptions"] and all(isinstance(a, str) for a in p["assumptions"])


def test_ampereone_signs_match_published_claims(ampere):
    for p in ampere["predictions"]:
        pub = p["published_pct"]
        assert pub is not None
        assert (p["change_pct"] > 0) == (pub[0] > 0), p["claim"]
        assert p["change_pct"] != 0
        assert p["sign_matches_published"] is True


def test_ampereone_mpki_falls_and_walks_fall(ampere):
    for p in ampere["predictions"]:
        if "mpki" in p:
            assert p["mpki"]["block"] < p["mpki"]["pte"]
            assert p["walks_per_op"]["block"] < p["walks_per_op"]["pte"]


def test_neoverse_n1_is_a_negative_control(n1):
    assert n1["on_allow_list"] is False
    for p in n1["predictions"]:
        assert p["change_pct"] == 0.0 and p["range_pct"] == [0.0, 0.0], p["claim"]
        assert "not on the BBML2_NOABORT allow-list" in p["assumptions"][0]


@pytest.mark.parametrize("cpu", ["neoverse-v1", "neoverse-v2"])
def test_other_off_list_cpus_predict_zero(cpu):
    r = predict(cpu, workloads=["memcached"], overrides=["model.ops=1500"])
    assert r["predictions"] and all(p["change_pct"] == 0.0 for p in r["predictions"])


def test_boot_memory_prediction_is_the_exact_saving(ampere):
    p = next(p for p in ampere["predictions"] if p["claim"] == "boot-memory")
    # PTE arm: 1 PUD + 256 PMD + 131072 PTE tables; block arm: 1 PUD table, plus one PMD and one
    # PTE table for the PTE-mapped 2 MiB KFENCE pool; over 256 GiB x 0.967 usable x 0.984 free
    saving = (1 + 256 + 131072) * 4096 - 3 * 4096
    expected = 100 * saving / (256 * 2**30 * 0.967 * 0.984)
    assert p["change_pct"] == pytest.approx(expected, abs=1e-6)  # output is rounded to 1e-6 %


def test_free_walks_mean_no_throughput_change():
    """If a walk cost nothing, fewer walks could not speed anything up: the model must say 0."""
    r = predict("ampereone", workloads=["memcached"],
                overrides=["cpu.walk_cycles=0", "workload.memcached.walk_dram_fraction=0", "model.ops=1500"])
    ops = next(p for p in r["predictions"] if p["claim"] == "memcached-ops")
    tlb = next(p for p in r["predictions"] if p["claim"] == "memcached-tlb")
    assert ops["change_pct"] == 0.0
    assert tlb["change_pct"] < 0  # the walks still fall
    assert any("set on the command line" in a for a in ops["assumptions"])


def test_throughput_change_follows_the_cycle_formula():
    m = Model(load_cpu("ampereone"), load_workloads(), overrides=["model.ops=1500"])
    wl = m.workloads["seqread"]
    p, b = m.arm(wl, m.values, "pte"), m.arm(wl, m.values, "block")
    claim = next(c for c in load_claims()[0] if c.id == "seqread-bw")
    assert m.change_fn(claim)(m.values) == pytest.approx(100 * (p.cycles_per_op / b.cycles_per_op - 1), abs=1e-5)
    cost = 30 + 0.5 * 110 * 3.0
    assert p.cycles_per_op == pytest.approx(1500 + 50 + p.walks_per_op * cost)


def test_workload_filter_and_unknown():
    r = predict("ampereone", workloads=["seqread"], overrides=["model.ops=1500"])
    assert [p["claim"] for p in r["predictions"]] == ["seqread-bw"]
    with pytest.raises(UsageError, match="unknown workload"):
        predict("ampereone", workloads=["redis"])


def test_docs_table_is_current(ampere, n1):
    """docs/model.md pastes markdown_table(); regenerate it if this fails."""
    from pathlib import Path

    from benchctl.model.predict import markdown_table

    doc = (Path(__file__).resolve().parents[1] / "docs" / "model.md").read_text()
    assert markdown_table(ampere) in doc
    assert markdown_table(n1) in doc


def test_footprint_larger_than_ram_is_flagged():
    r = predict("ampereone", ram=64 << 30, workloads=["seqread"], overrides=["model.ops=1500"])
    assert any("seqread" in w and "exceeds" in w for w in r["warnings"])
    assert not predict("ampereone", workloads=["seqread"], overrides=["model.ops=1500"])["warnings"]
