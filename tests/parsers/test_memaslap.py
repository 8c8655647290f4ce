"""memaslap/memcaslap parser on the recorded outputs (libmemcached-tools 1.1.4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchctl.parsers import ParseError, detect
from benchctl.parsers.memaslap import parse, pow2_quantile_bracket

OWN = Path(__file__).parents[1] / "fixtures" / "parsers"


@pytest.mark.parametrize(
    "name,tps,ops",
    [
        ("memcaslap-default-5s.txt", 78989, 394978),
        ("memcaslap-cfgfile-3s.txt", 83920, 251782),
        ("memcaslap-P20k-not-throttled-3s.txt", 84451, 253373),
        ("memcaslap-execnum-100k.txt", 69840, 100000),
    ],
)
def test_tps_without_stats(tools_dir, name, tps, ops):
    r = parse((tools_dir / name).read_text())
    assert r.get("ops_per_sec").value == tps
    assert r.info["final"]["ops"] == ops
    assert r.get("p99_latency_us") is None and r.get("mean_latency_us") is None
    assert any("-S" in w for w in r.warnings)
    assert r.info["settings"]["threads"] == 2 and r.info["settings"]["concurrency"] == 16
    assert r.info["settings"]["set_proportion"] == 0.1 and r.info["settings"]["get_proportion"] == 0.9


def test_execnum_settings(tools_dir):
    r = parse((tools_dir / "memcaslap-execnum-100k.txt").read_text())
    assert r.info["settings"]["execute_number"] == 100000
    assert r.info["counters"]["cmd_get"] == 90000


def test_stats_blocks():
    r = parse((OWN / "memcaslap-S-1s-3s.txt").read_text())
    assert r.get("ops_per_sec").value == 135490
    assert r.get("mean_latency_us").value == 117
    p99 = r.get("p99_latency_us")
    # 0.99 x 406547 events falls in bucket 11: 1024 < t <= 2048 us
    assert p99.note == {
        "latency_resolution": "coarse-pow2",
        "bracket_us": [1024.0, 2048.0],
        "value_is": "bracket upper bound",
        "op": "all",
    }
    assert p99.value == 2048.0
    total = r.info["statistics"]["Total"]
    assert total["events"] == 406547 and sum(total["dist"].values()) == 406547
    assert total["dist"][4] == 12020 and total["dist"][14] == 3
    assert {p["type"] for p in r.info["periods"]} == {"Get", "Set", "Total"}


def test_pow2_bracket():
    assert pow2_quantile_bracket({4: 50, 5: 49, 6: 1}, 0.99) == (16.0, 32.0)
    assert pow2_quantile_bracket({0: 100}, 0.5) == (0.0, 1.0)
    with pytest.raises(ParseError):
        pow2_quantile_bracket({}, 0.99)


def test_cut_short():
    with pytest.raises(ParseError, match="Run time"):
        parse("servers: 127.0.0.1:11311\nthreads count: 2\n")


def test_detect(tools_dir):
    for f in tools_dir.glob("memcaslap-*.txt"):
        assert detect(f.read_text()) == "memaslap"
    assert detect((OWN / "memcaslap-S-1s-3s.txt").read_text()) == "memaslap"
