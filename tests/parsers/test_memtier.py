"""memtier_benchmark 2.3.0 parser on the recorded JSON, text and --hdr-file-prefix outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchctl.parsers import ParseError, detect
from benchctl.parsers.hdr import decode_histogram
from benchctl.parsers.memtier import parse_hdr_txt, parse_hgrm, parse_json, parse_text, parse_version, with_hdr

DRIVEN = Path(__file__).parents[1] / "fixtures" / "parsers" / "memtier-driven"


def _v(r, metric):
    m = r.get(metric)
    assert m is not None, metric
    return m.value


def test_json_uses_the_histogram(tools_dir):
    text = (tools_dir / "memtier-memcache_text.json").read_text()
    r = parse_json(text)
    assert _v(r, "ops_per_sec") == 67584.32
    # decoded histogram reproduces memtier's printed p50/p99/p99.9 (ms) and the text report's mean 0.29621 ms
    assert (_v(r, "p50_latency_us"), _v(r, "p99_latency_us"), _v(r, "p999_latency_us")) == (183, 2991, 5311)
    assert _v(r, "mean_latency_us") == pytest.approx(296.21, abs=0.005)
    assert r.get("p99_latency_us").note["latency_resolution"] == "hdr-2sig"
    assert r.get("p99_latency_us").note["count"] == 338028
    assert any("0.0" in w for w in r.warnings)  # the 2.3.0 Totals Average Latency bug
    assert r.info["threads"] == 2 and r.info["connections_per_thread"] == 10 and r.info["seconds"] == 5
    assert r.info["printed_percentiles_ms"]["p99.00"] == 2.991


def _without_histograms(doc):
    for row in doc["ALL STATS"].values():
        if isinstance(row, dict):
            row.get("Percentile Latencies", {}).pop("Histogram log format", None)
    return doc


def test_json_without_histogram_uses_keys_and_weighted_mean(tools_dir):
    doc = _without_histograms(json.loads((tools_dir / "memtier-memcache_text.json").read_text()))
    r = parse_json(json.dumps(doc))
    assert (_v(r, "p50_latency_us"), _v(r, "p99_latency_us"), _v(r, "p999_latency_us")) == pytest.approx(
        (183, 2991, 5311)
    )
    # Count-weighted Sets (30739 x 0.296) and Gets (307289 x 0.295) -> ms -> us
    expect = (30739 * 0.296 + 307289 * 0.295) / (30739 + 307289) * 1000
    assert _v(r, "mean_latency_us") == pytest.approx(expect)
    assert r.get("p99_latency_us").note["source"] == "json-percentiles"


def test_duplicate_truncated_keys_take_the_first(tools_dir):
    doc = _without_histograms(json.loads((tools_dir / "memtier-memcache_text.json").read_text()))
    text = json.dumps(doc)
    # memtier writes 99.99 and 99.999 both as "p99.99"; and 99.9 / 99.901 both as "p99.90"
    text = text.replace(
        '"p99.90": 5.311, "p99.99": 8.319', '"p99.90": 5.311, "p99.90": 7.0, "p99.99": 8.319, "p99.99": 9.9'
    )
    r = parse_json(text)
    assert _v(r, "p999_latency_us") == pytest.approx(5311)
    assert any("duplicate" in w for w in r.warnings)


def test_aggregated_section(tools_dir):
    doc = json.loads((tools_dir / "memtier-memcache_text.json").read_text())
    doc["AGGREGATED AVERAGE RESULTS (3 runs)"] = doc.pop("ALL STATS")
    r = parse_json(json.dumps(doc))
    assert r.info["section"].startswith("AGGREGATED AVERAGE") and _v(r, "ops_per_sec") == 67584.32


def test_json_errors():
    with pytest.raises(ParseError):
        parse_json("{")
    with pytest.raises(ParseError, match="ALL STATS"):
        parse_json('{"configuration": {}}')
    with pytest.raises(ParseError, match="Ops/sec"):
        parse_json('{"ALL STATS": {"Totals": {"Ops/sec": "x"}}}')
    with pytest.raises(ParseError, match="HdrHistogram"):
        decode_histogram("HISTFAAAbroken")


def test_text_report(tools_dir):
    r = parse_text((tools_dir / "memtier-memcache_text.stdout.txt").read_text())
    assert _v(r, "ops_per_sec") == 67584.32
    assert _v(r, "p50_latency_us") == pytest.approx(183)
    assert _v(r, "p99_latency_us") == pytest.approx(2991)
    assert _v(r, "p999_latency_us") == pytest.approx(5311)
    assert _v(r, "mean_latency_us") == pytest.approx(296.21)
    rows = r.info["sections"]["ALL STATS"]
    assert rows["Sets"]["Hits/sec"] is None  # '---'
    assert rows["Totals"]["p99.990 Latency"] == 8.319
    assert rows["Waits"]["Avg. Latency"] is None


def test_text_populate_with_progress_lines(tools_dir):
    r = parse_text((tools_dir / "memtier-populate-allkeys.stdout_stderr.txt").read_text())
    assert _v(r, "ops_per_sec") == 60017.49
    assert _v(r, "p99_latency_us") == pytest.approx(1943)
    assert r.info["requests_per_client"] == 12500


def test_text_single_space_headers():
    text = (
        "ALL STATS\n"
        "Type         Ops/sec     Hits/sec   Misses/sec    Avg. Latency     p50 Latency p99.900 Latency p99.990 Latency       KB/sec\n"  # noqa: E501 (a recorded report row)
        "Totals      10.00       1.00        2.00          0.50000         0.40000       3.00000       4.00000         5.00\n"  # noqa: E501 (a recorded report row)
    )
    r = parse_text(text)
    assert _v(r, "p999_latency_us") == pytest.approx(3000) and _v(r, "p50_latency_us") == pytest.approx(400)


def test_text_needs_totals():
    with pytest.raises(ParseError, match="Totals"):
        parse_text("ALL STATS\nType Ops/sec\n")


def test_hdr_files(tools_dir):
    d = tools_dir / "memtier-hdr"
    stdout = parse_text((d / "stdout.txt").read_text())
    hgrm = parse_hgrm((d / "mt_FULL_RUN_1.hgrm").read_text())
    # the .hgrm log reproduces the run's own printed percentiles exactly
    for metric in ("p50_latency_us", "p99_latency_us", "p999_latency_us"):
        assert _v(hgrm, metric) == pytest.approx(_v(stdout, metric)), metric
    assert _v(hgrm, "mean_latency_us") == pytest.approx(80.38, abs=0.005)
    assert hgrm.get("ops_per_sec") is None and hgrm.info["count"] == 124708
    txt = parse_hdr_txt((d / "mt_FULL_RUN_1.txt").read_text())
    lo, hi = txt.get("p99_latency_us").note["bracket_us"]
    assert lo <= _v(hgrm, "p99_latency_us") <= hi
    assert txt.info["count"] == 124708


def test_version():
    assert parse_version("memtier_benchmark 2.3.0\n") == "2.3.0"
    assert parse_version("v=2.3.0 sha=1655c39a") == "2.3.0"
    with pytest.raises(ParseError):
        parse_version("memtier")


def test_detect(tools_dir):
    assert detect((tools_dir / "memtier-memcache_text.json").read_text()) == "memtier-json"
    assert detect((tools_dir / "memtier-memcache_text.stdout.txt").read_text()) == "memtier-text"
    assert detect((tools_dir / "memtier-hdr" / "mt_FULL_RUN_1.hgrm").read_text()) == "memtier-hgrm"
    assert detect((tools_dir / "memtier-hdr" / "mt_FULL_RUN_1.txt").read_text()) == "memtier-hdr-txt"


def test_no_requests_is_refused(tools_dir):
    doc = json.loads((tools_dir / "memtier-memcache_text.json").read_text())
    doc["ALL STATS"]["Totals"]["Count"] = 0
    with pytest.raises(ParseError, match="no requests"):
        parse_json(json.dumps(doc))


def test_text_bare_latency_column_is_the_mean():
    text = (
        "ALL STATS\n"
        "Type        Ops/sec     Hits/sec   Misses/sec      Latency       KB/sec\n"
        "Totals     1000.00       500.00       500.00      0.25000        10.00\n"
    )
    r = parse_text(text)
    assert _v(r, "mean_latency_us") == pytest.approx(250) and _v(r, "ops_per_sec") == 1000


def test_histogram_disagreeing_with_printed_figures_is_warned(tools_dir):
    doc = json.loads((tools_dir / "memtier-memcache_text.json").read_text())
    doc["ALL STATS"]["Totals"]["Percentile Latencies"]["p99.00"] = 3.5
    doc["ALL STATS"]["Totals"]["Count"] = 5
    r = parse_json(json.dumps(doc))
    assert any("p99_latency_us: histogram gives 2991" in w for w in r.warnings)
    assert any("Totals.Count says 5" in w for w in r.warnings)
    assert not any(
        "histogram gives" in w for w in parse_json((tools_dir / "memtier-memcache_text.json").read_text()).warnings
    )


def test_driven_run_files_agree():
    """One run of the driver's argv: JSON histogram, .hgrm and printed report give the same percentiles."""
    js = parse_json((DRIVEN / "memtier.json").read_text())
    hgrm = parse_hgrm((DRIVEN / "memtier_FULL_RUN_1.hgrm").read_text())
    text = parse_text((DRIVEN / "stdout.txt").read_text())
    txt = parse_hdr_txt((DRIVEN / "memtier_FULL_RUN_1.txt").read_text())
    for metric, us in (("p50_latency_us", 63), ("p99_latency_us", 135), ("p999_latency_us", 879)):
        assert _v(js, metric) == _v(hgrm, metric) == us and _v(text, metric) == pytest.approx(us), metric
        lo, hi = txt.get(metric).note["bracket_us"]
        assert lo <= us <= hi
    assert _v(js, "ops_per_sec") == _v(text, "ops_per_sec") == 62097.60
    assert hgrm.info["count"] == js.get("p99_latency_us").note["count"] == 124215 == txt.info["count"]
    assert _v(hgrm, "mean_latency_us") == pytest.approx(_v(text, "mean_latency_us"), abs=0.005)
    assert not any("histogram gives" in w for w in js.warnings)


def test_with_hdr_takes_latencies_from_the_hgrm():
    js = parse_json((DRIVEN / "memtier.json").read_text())
    hgrm = parse_hgrm((DRIVEN / "memtier_FULL_RUN_1.hgrm").read_text())
    r = with_hdr(js, hgrm)
    assert _v(r, "ops_per_sec") == 62097.60 and r.info["latency_source"] == "hgrm"
    p99 = r.get("p99_latency_us")
    assert p99.value == 135 and p99.note["source"] == "hgrm" and p99.note["bracket_us"] == [128, 135]
    assert sorted(m.metric for m in r.measurements) == sorted(
        ["ops_per_sec", "p50_latency_us", "p99_latency_us", "p999_latency_us", "mean_latency_us"]
    )
    assert not any("not the same run" in w for w in r.warnings)
    assert any("Average Latency" in w for w in js.warnings) and not any("Average Latency" in w for w in r.warnings)


def test_with_hdr_warns_when_the_files_are_not_from_one_run(tools_dir):
    js = parse_json((DRIVEN / "memtier.json").read_text())
    other = parse_hgrm((tools_dir / "memtier-hdr" / "mt_FULL_RUN_1.hgrm").read_text())
    r = with_hdr(js, other)
    assert r.get("p99_latency_us").value == 463  # what the .hgrm says, with a warning
    assert any("124708 requests" in w and "124215" in w for w in r.warnings)
