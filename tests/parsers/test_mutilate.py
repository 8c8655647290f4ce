"""mutilate parser on the recorded outputs (leverich d65c6ef)."""

from __future__ import annotations

import numpy as np
import pytest

from benchctl.parsers import ParseError, detect
from benchctl.parsers.mutilate import parse, parse_samples, parse_version, quantile


def test_closed_loop_peak(tools_dir):
    r = parse((tools_dir / "mutilate-closedloop-peak.txt").read_text())
    assert r.get("ops_per_sec").value == 56705.3
    p99 = r.get("p99_latency_us")
    assert p99.value == 3481.2 and p99.note["latency_resolution"] == "log-bins-10pct" and p99.note["op"] == "get"
    assert r.get("mean_latency_us").value == 141.0
    assert r.get("p50_latency_us") is None and r.get("p999_latency_us") is None
    assert r.info["ops"] == 283545 and r.info["duration_s"] == 5.0
    assert r.info["rows"]["update"]["p99"] == 3361.3


def test_open_loop_save(tools_dir):
    r = parse((tools_dir / "mutilate-openloop-save.txt").read_text())
    assert r.get("ops_per_sec").value == 9946.3
    assert r.get("p99_latency_us").value == 206.3
    assert r.info["samples_file"] == "/tmp/mutilate-samples.txt"


def test_samples_exact_quantiles_match_numpy(tools_dir):
    text = (tools_dir / "mutilate-save-samples.head1000.txt").read_text()
    r = parse_samples(text)
    lat = np.array([float(line.split()[1]) for line in text.splitlines()])
    assert r.info["samples"] == 1000
    assert r.get("p50_latency_us").value == pytest.approx(np.percentile(lat, 50))
    assert r.get("p99_latency_us").value == pytest.approx(np.percentile(lat, 99))
    assert r.get("p999_latency_us").value == pytest.approx(np.percentile(lat, 99.9))
    assert r.get("mean_latency_us").value == pytest.approx(lat.mean())
    assert r.get("p50_latency_us").value == pytest.approx(20.027161)


def test_quantile_type7():
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert quantile([5.0], 0.99) == 5.0


def test_samples_errors():
    with pytest.raises(ParseError, match="none"):
        parse_samples("\n")
    with pytest.raises(ParseError, match="line 2"):
        parse_samples("0.1 20.0\n0.2\n")
    with pytest.raises(ParseError, match="finite"):
        parse_samples("0.1 nan\n")


def test_scan(tools_dir):
    r = parse((tools_dir / "mutilate-scan.txt").read_text())
    assert r.measurements == []
    scan = r.info["scan"]
    assert [row["target"] for row in scan] == [10000, 20000, 30000]
    assert scan[0]["std"] == 453.3 and scan[0]["qps"] == 9914.5 and scan[2]["p99"] == 2298.7


def test_segfault_says_to_pass_iadist(tools_dir):
    with pytest.raises(ParseError, match="-i exponential:1"):
        parse((tools_dir / "mutilate-segfault-default-iadist.txt").read_text())
    with pytest.raises(ParseError, match="-i exponential:1"):
        parse("")


def test_truncated_report():
    with pytest.raises(ParseError, match="Total QPS"):
        parse(
            "#type       avg     std     min     5th    10th    90th    95th    99th\n"
            "read      141.0   754.1    11.9    23.5    25.9   112.6   127.8  3481.2\n"
        )


def test_version():
    assert parse_version("mutilate 0.1\n") == "0.1"


def test_detect(tools_dir):
    for name in ("mutilate-closedloop-peak.txt", "mutilate-scan.txt", "mutilate-segfault-default-iadist.txt"):
        assert detect((tools_dir / name).read_text()) == "mutilate"
    assert detect((tools_dir / "mutilate-save-samples.head1000.txt").read_text()) == "mutilate-samples"
