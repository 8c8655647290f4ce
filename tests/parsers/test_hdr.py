"""HdrHistogram text forms (benchctl.parsers.hdr) on memtier's recorded outputs."""

from pathlib import Path

import pytest

from benchctl.parsers import ParseError
from benchctl.parsers.hdr import (
    curve_from_histogram,
    decode_histogram,
    is_percentile_text,
    parse_percentile_text,
    percentile_measurements,
    read_log,
)

DRIVEN = Path(__file__).parents[1] / "fixtures" / "parsers" / "memtier-driven"


def test_memtier_full_run_percentiles(tools_dir):
    text = (tools_dir / "memtier-hdr" / "mt_FULL_RUN_1.txt").read_text()
    assert is_percentile_text(text.splitlines()[0])
    c = parse_percentile_text(text)
    assert len(c.values) == 172  # 177 lines - header - blank - 3 footer lines
    assert c.percentiles[0] == 0.0 and c.percentiles[-1] == 1.0
    assert c.values[0] == 0.01 and c.values[-1] == 9.73
    assert c.counts[0] == 981 and c.counts[-1] == 124708
    assert c.total_count == 124708 and c.mean == pytest.approx(0.080) and c.max == pytest.approx(9.727)
    assert c.skipped == []
    p50 = next(v for v, p in zip(c.values, c.percentiles, strict=True) if p >= 0.5)
    assert p50 == 0.06  # stdout.txt reports p50 0.063 ms for Totals


def test_not_percentile_text():
    with pytest.raises(ParseError, match="header"):
        parse_percentile_text("Type Ops/sec\n")
    with pytest.raises(ParseError, match="found none"):
        parse_percentile_text(
            "       Value   Percentile   TotalCount 1/(1-Percentile)\n\n#[Mean = 1, StdDeviation = 0]\n"
        )


def test_log_adds_intervals_and_keeps_the_recorded_precision():
    log = read_log((DRIVEN / "memtier_FULL_RUN_1.hgrm").read_text())
    h = log.histogram
    assert log.intervals == 1 and log.end - log.start == pytest.approx(2.001)
    assert h.get_total_count() == 124215 and h.significant_figures == 2 and h.lowest_trackable_value == 10
    assert log.warnings == []
    with pytest.raises(ParseError, match="start,end,max"):
        read_log("#[comment only]\n")
    with pytest.raises(ParseError, match="HdrHistogram"):
        decode_histogram("HISTFAAAbroken")


def test_percentiles_carry_their_bucket():
    """memtier printed p50/p99/p99.9 = 0.063/0.135/0.879 ms; buckets are 8 us wide below 2048 us."""
    ms = {
        m.metric: m
        for m in percentile_measurements(read_log((DRIVEN / "memtier_FULL_RUN_1.hgrm").read_text()).histogram, "hgrm")
    }
    assert [ms[k].value for k in ("p50_latency_us", "p99_latency_us", "p999_latency_us")] == [63, 135, 879]
    p99 = ms["p99_latency_us"].note
    assert p99["bracket_us"] == [128, 135] and p99["value_is"] == "bucket upper bound"
    assert p99["resolution_pct"] == pytest.approx(100 * 8 / 135, abs=1e-3)
    assert p99["latency_resolution"] == "hdr-2sig" and p99["count"] == 124215 and p99["source"] == "hgrm"
    assert ms["p999_latency_us"].note["resolution_pct"] < 1.0  # 872..879 us: below 1 %
    assert "resolution_pct" not in ms["mean_latency_us"].note


def test_full_resolution_curve_matches_the_printed_table():
    """Every row of the printed .txt is the decoded .hgrm's bucket at that percentile, rounded to 2 decimals."""
    table = parse_percentile_text((DRIVEN / "memtier_FULL_RUN_1.txt").read_text())
    curve = curve_from_histogram(read_log((DRIVEN / "memtier_FULL_RUN_1.hgrm").read_text()).histogram, scale=1000.0)
    assert curve.total_count == table.total_count == 124215 and curve.counts[-1] == 124215
    assert curve.percentiles[-1] == 1.0 and curve.values == sorted(curve.values)
    assert len(table.values) == 152 and len(curve.values) == 144  # ticks vs recorded buckets
    for value, pct, count in zip(table.values, table.percentiles, table.counts, strict=True):
        j = next(i for i, c in enumerate(curve.counts) if c >= pct * curve.total_count)
        assert (round(curve.values[j], 2), curve.counts[j]) == (value, count), (value, pct)
    assert curve.values[1] - curve.values[0] == pytest.approx(0.008)  # 8 us buckets, not 10 us rows
    assert curve.mean == pytest.approx(table.mean, abs=0.0005) and curve.max == pytest.approx(table.max, abs=0.0005)


def test_a_missing_hdrh_is_a_missing_tool_not_a_traceback(monkeypatch):
    """The arm64 guest first ran without hdrh (its pyhdrh codec has no arm64 wheel): an ImportError
    deep in a run became a traceback. It is a ToolMissingError that says how to install it."""
    import sys

    from benchctl.errors import ToolMissingError

    monkeypatch.setitem(sys.modules, "hdrh.histogram", None)  # `import` of a None entry raises ImportError
    with pytest.raises(ToolMissingError, match="pip install hdrhistogram"):
        decode_histogram("HISTFAAAAB94nJNpmSzMwMDAxgABzFAaRDGCOSAeRNbv")
