"""predict: mechanisms named, joint intervals, the negative control derived, nothing read from the claims."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchctl.errors import UsageError
from benchctl.model.predict import predict
from benchctl.model.render import markdown_table

CLAIM_IDS = {
    "boot-memory",
    "boot-memory-total",
    "memcached-ops",
    "memcached-p99",
    "memcached-tlb",
    "dmcrypt-iops",
    "seqread-bw",
}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "model.md"


@pytest.fixture(scope="module")
def ampere():
    return predict("ampereone")


def test_output_shape(ampere):
    assert ampere["simulated"] is True and ampere["format"] == "benchctl-model-prediction/2"
    assert {p["claim"] for p in ampere["predictions"]} == CLAIM_IDS
    for p in ampere["predictions"]:
        lo, hi = p["interval_pct"]
        assert lo <= p["median_pct"] <= hi
        assert p["mechanism"] and isinstance(p["published_inside_interval"], bool)
        assert all(0 < a["variance_share"] <= 1 for a in p["top_assumptions"])
    assert ampere["inside_count"] == sum(p["published_inside_interval"] for p in ampere["predictions"])
    assert ampere["arms"]["block"]["linear_map"] == "block" and ampere["arms"]["pte"]["linear_map"] == "pte"


def test_ampereone_gains_have_the_published_signs(ampere):
    for p in ampere["predictions"]:
        pub = p["published_pct"][0]
        assert (p["median_pct"] > 0) == (pub > 0), p["claim"]


def test_boot_memory_separates_memtotal_and_memfree(ampere):
    p = next(p for p in ampere["predictions"] if p["claim"] == "boot-memory")
    mt = p["mem_total"]
    # memblock tables for ~251.4..256 GiB mapped: 8 bytes per 4 KiB plus the PMD tables
    assert 515_000 <= mt["interval_kb"][0] <= mt["median_kb"] <= mt["interval_kb"][1] <= 526_000
    assert p["mem_free_kb"]["median"] < mt["median_kb"]  # splits after boot cost MemFree only
    lo, hi = p["one_boot_interval_pct"]
    assert lo < p["interval_pct"][0] and hi > p["interval_pct"][1]  # one boot per arm adds noise


@pytest.mark.parametrize("cpu", ["neoverse-n1", "neoverse-v1", "neoverse-v2"])
def test_off_list_cpus_predict_exactly_zero_by_derivation(cpu):
    r = predict(cpu, draws=200)
    assert r["on_allow_list"] is False and r["arms"]["block"]["linear_map"] == "pte"
    assert "lacks BBML2_NOABORT" in r["arms"]["block"]["why"]
    for p in r["predictions"]:
        assert p["median_pct"] == 0.0 and p["interval_pct"] == [0.0, 0.0], p["claim"]
        assert p["mechanism"].startswith("none:")


def test_the_midr_decides_not_the_profile_name(tmp_path):
    """The same N1 figures with AmpereOne's MIDR gain; AmpereOne's figures with N1's MIDR do not."""
    text = (Path(__file__).resolve().parents[2] / "benchctl/model/data/cpus.toml").read_text()
    swapped = text.replace('value = "0x413FD0C1"', 'value = "0xC00FAC30"', 1)
    f = tmp_path / "cpus.toml"
    f.write_text(swapped)
    r = predict("neoverse-n1", cpu_file=f, draws=200, workloads=["memcached"])
    assert r["on_allow_list"] is True and all(p["median_pct"] != 0 for p in r["predictions"])
    f.write_text(text.replace('value = "0xC00FAC30"', 'value = "0x413FD0C1"', 1))
    r = predict("ampereone", cpu_file=f, draws=200, workloads=["memcached"])
    assert r["on_allow_list"] is False and all(p["median_pct"] == 0 for p in r["predictions"])


def test_free_walks_and_no_prefetch_loss_mean_no_throughput_change():
    """If a walk cost nothing and prefetch never cared about translations, fewer walks change no time."""
    zero = ["cpu.walk_fixed_ns=0", "cpu.l2_cycles=0", "cpu.slc_ns=0", "cpu.dram_ns=0", "cpu.prefetch_boundary=0"]
    r = predict("ampereone", workloads=["memcached", "seqread"], overrides=zero, draws=200)
    by = {p["claim"]: p for p in r["predictions"]}
    assert abs(by["memcached-ops"]["median_pct"]) < 1e-9 and abs(by["seqread-bw"]["median_pct"]) < 1e-9
    assert by["memcached-tlb"]["median_pct"] < 0  # the walks still fall


def test_the_claims_are_not_an_input(tmp_path):
    """Changing the published values changes nothing but the published column."""
    claims = (Path(__file__).resolve().parents[2] / "analysis/claims/bbml2.toml").read_text()
    f = tmp_path / "c.toml"
    f.write_text(re.sub(r"value = 3\.5", "value = 35.0", claims).replace("tolerance = 0.9", "tolerance = 9.0"))
    a = predict("ampereone", workloads=["memcached"], draws=300)
    b = predict("ampereone", workloads=["memcached"], draws=300, claims_file=f)
    for pa, pb in zip(a["predictions"], b["predictions"], strict=True):
        assert pa["median_pct"] == pb["median_pct"] and pa["interval_pct"] == pb["interval_pct"]


def test_unknown_workload_and_too_few_draws():
    with pytest.raises(UsageError, match="unknown workload"):
        predict("ampereone", workloads=["postgres"])
    with pytest.raises(UsageError, match="draws"):
        predict("ampereone", draws=10)


def test_docs_table_is_current(ampere):
    assert markdown_table(ampere) in DOCS.read_text(), "regenerate the table in docs/model.md (see that file)"
