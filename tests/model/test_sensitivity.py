"""sensitivity: variance shares from the joint draws, ranked; nothing varies off the allow-list."""

from __future__ import annotations

import pytest

from benchctl.model.sensitivity import render, sensitivity


@pytest.fixture(scope="module")
def ampere():
    return sensitivity("ampereone", workloads=["memcached", "seqread"], draws=1500)


def test_rows_ranked_by_share(ampere):
    assert ampere["simulated"] is True
    for c in ampere["claims"]:
        shares = [r["variance_share"] for r in c["parameters"]]
        assert shares == sorted(shares, reverse=True) and all(0 < s <= 1 for s in shares)


def test_only_uncertain_figures_appear(ampere):
    names = {r["name"] for c in ampere["claims"] for r in c["parameters"]}
    assert not any(n.endswith(("l2_kib", "slc_mib", "midr")) for n in names)  # published, fixed


def test_prefetch_behaviour_matters_for_the_streaming_read(ampere):
    seq = next(c for c in ampere["claims"] if c["claim"] == "seqread-bw")
    assert "cpu.prefetch_boundary" in [r["name"] for r in seq["parameters"][:3]]


def test_off_list_nothing_varies():
    r = sensitivity("neoverse-n1", workloads=["memcached"], draws=300)
    assert all(not c["parameters"] for c in r["claims"])
    text = render(r)
    assert text.startswith("SIMULATED") and all(len(line) <= 72 for line in text.splitlines())
