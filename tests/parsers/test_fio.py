"""fio parser on the recorded fio-3.33 outputs and the stream/version/error edge cases."""

from __future__ import annotations

import json

import pytest

from benchctl.parsers import ParseError, detect
from benchctl.parsers.fio import parse_json, parse_text, parse_version, percentile_from_bins, split_documents


def _m(r, metric):
    m = r.get(metric)
    assert m is not None, metric
    return m.value


def test_json(tools_dir):
    r = parse_json((tools_dir / "fio-json.json").read_text())
    assert _m(r, "iops") == 67493.30587
    assert _m(r, "bandwidth_kib_s") == 269973
    assert _m(r, "clat_mean_us") == pytest.approx(2.872862503)
    assert _m(r, "clat_p50_us") == 2.448
    assert _m(r, "clat_p99_us") == 14.272
    assert _m(r, "clat_p999_us") == 40.192
    assert r.info["version"] == "fio-3.33" and r.info["direction"] == "write"
    assert r.info["global_options"]["ioengine"] == "sync"
    assert r.info["disk_util"][0]["name"] == "loop0"
    assert r.warnings == []


def test_jsonplus_bins_reproduce_printed_percentiles(tools_dir):
    r = parse_json((tools_dir / "fio-jsonplus.json").read_text())
    assert _m(r, "iops") == 175699.731903
    assert _m(r, "clat_p99_us") == 18.816
    assert r.info["json_plus"] is True
    for metric, pair in r.info["percentile_crosscheck"].items():
        assert pair["printed_ns"] == pair["bins_ns"], metric
    assert set(r.info["percentile_crosscheck"]) == {"clat_p50_us", "clat_p99_us", "clat_p999_us"}


def test_percentile_list(tools_dir):
    r = parse_json((tools_dir / "fio-json-percentile_list.json").read_text())
    assert (_m(r, "clat_p50_us"), _m(r, "clat_p99_us"), _m(r, "clat_p999_us")) == (2.672, 7.072, 61.696)
    assert r.info["lat_ns_percentile"]["99.900000"] == 61696


def test_missing_percentile_is_computed_from_bins(tools_dir):
    doc = json.loads((tools_dir / "fio-jsonplus.json").read_text())
    del doc["jobs"][0]["write"]["clat_ns"]["percentile"]["99.900000"]
    r = parse_json(json.dumps(doc))
    assert r.get("clat_p999_us").value == 73.216
    assert r.get("clat_p999_us").note["source"] == "bins"


def test_missing_percentile_without_bins_is_a_warning(tools_dir):
    doc = json.loads((tools_dir / "fio-json.json").read_text())
    del doc["jobs"][0]["write"]["clat_ns"]["percentile"]["99.900000"]
    r = parse_json(json.dumps(doc))
    assert r.get("clat_p999_us") is None
    assert any("99.9th" in w for w in r.warnings)


def test_interim_reports_and_surrounding_text_keep_the_last(tools_dir):
    final = (tools_dir / "fio-json.json").read_text()
    interim = json.loads(final)
    interim["jobs"][0]["write"]["iops"] = 1.0
    text = (
        "iops-test-job: (g=0): rw=write\nJobs: 1 (f=1)\r[W(1)][eta 00m:01s]\r\n"
        + json.dumps(interim)
        + "\n"
        + json.dumps(interim)
        + final
        + "\nRun status group 0 (all jobs):\n"
    )
    r = parse_json(text)
    assert r.get("iops").value == 67493.30587
    assert r.info["reports_in_stream"] == 3
    assert any("interim" in w for w in r.warnings)


def test_split_documents_skips_broken_braces():
    docs, skipped = split_documents('x {"a": 1} {broken {"b": 2}')
    assert docs == [{"a": 1}, {"b": 2}] and skipped > 0


def test_fio2_is_refused(tools_dir):
    doc = json.loads((tools_dir / "fio-json.json").read_text())
    doc["fio version"] = "fio-2.2.10"
    with pytest.raises(ParseError, match="fio >= 3"):
        parse_json(json.dumps(doc))
    doc["fio version"] = "fio-3.33"
    w = doc["jobs"][0]["write"]
    w["clat"] = w.pop("clat_ns")
    with pytest.raises(ParseError, match="clat_ns"):
        parse_json(json.dumps(doc))


def test_job_error_is_refused(tools_dir):
    doc = json.loads((tools_dir / "fio-json.json").read_text())
    doc["jobs"][0]["error"] = 28
    with pytest.raises(ParseError, match="error 28"):
        parse_json(json.dumps(doc))


def test_dm_disk_util_is_kept(tools_dir):
    doc = json.loads((tools_dir / "fio-json.json").read_text())
    doc["disk_util"] = [{"name": "dm-0", "read_ios": 0, "write_ios": 5, "aggr_write_ios": 7, "aggr_util": 50.0}]
    assert parse_json(json.dumps(doc)).info["disk_util"][0]["aggr_write_ios"] == 7


def test_percentile_from_bins_follows_fios_rule():
    # 10 samples: 1..10 ns; p50 is the first value whose cumulative count >= 5
    bins = {v: 1 for v in range(1, 11)}
    assert percentile_from_bins(bins, 50.0) == 5
    assert percentile_from_bins(bins, 99.0) == 10
    assert percentile_from_bins({}, 50.0) is None


def test_not_fio():
    with pytest.raises(ParseError):
        parse_json('{"a": 1}')
    with pytest.raises(ParseError):
        parse_json("")


def test_text_report(tools_dir):
    r = parse_text((tools_dir / "fio-normal.txt").read_text())
    assert _m(r, "iops") == 45700
    assert _m(r, "bandwidth_kib_s") == 179 * 1024
    assert _m(r, "clat_mean_us") == 12.25
    assert (_m(r, "clat_p50_us"), _m(r, "clat_p99_us"), _m(r, "clat_p999_us")) == (12, 24, 129)
    assert r.info["version"] == "fio-3.33"


def test_text_report_with_eta_lines(tools_dir):
    r = parse_text((tools_dir / "fio-normal-eta-always.txt").read_text())
    assert _m(r, "iops") == 19500
    assert _m(r, "bandwidth_kib_s") == pytest.approx(76.2 * 1024)
    assert _m(r, "clat_p999_us") == 121


def test_text_job_error():
    with pytest.raises(ParseError, match="err=5"):
        parse_text("job: (groupid=0, jobs=1): err= 5: pid=1\n  write: IOPS=1, BW=4KiB/s\n")


def test_version():
    assert parse_version("fio-3.33\n") == "3.33"
    with pytest.raises(ParseError):
        parse_version("fio\n")


def test_detect(tools_dir):
    assert detect((tools_dir / "fio-json.json").read_text()) == "fio-json"
    assert detect((tools_dir / "fio-jsonplus.json").read_text()) == "fio-json"
    assert detect((tools_dir / "fio-normal.txt").read_text()) == "fio-text"
    assert detect((tools_dir / "fio-normal-eta-always.txt").read_text()) == "fio-text"


OWN = __import__("pathlib").Path(__file__).parents[1] / "fixtures" / "parsers"


def test_recorded_status_interval_stream_takes_the_final_report():
    r = parse_json((OWN / "fio-json-status-interval-1s.json").read_text())
    docs, _ = split_documents((OWN / "fio-json-status-interval-1s.json").read_text())
    assert [d["jobs"][0]["write"]["total_ios"] for d in docs] == [1422, 3022, 4096]
    assert r.info["total_ios"] == 4096 and r.info["reports_in_stream"] == 3
    assert r.get("iops").value == 1600.0


def test_recorded_json_and_normal_in_one_stream():
    text = (OWN / "fio-json-normal.txt").read_text()
    assert detect(text) == "fio-json"
    r = parse_json(text)
    assert r.info["total_ios"] == 4096 and r.get("iops").value == 1024000.0
    assert any("non-JSON" in w for w in r.warnings)


def test_mixed_read_write_reports_write_and_keeps_read(tools_dir):
    doc = json.loads((tools_dir / "fio-json.json").read_text())
    job = doc["jobs"][0]
    job["read"].update(io_bytes=4096, total_ios=1, iops=10.0, bw=40)
    r = parse_json(json.dumps(doc))
    assert r.get("iops").value == 67493.30587 and r.info["other_directions"]["read"]["iops"] == 10.0
    assert any("write and read" in w for w in r.warnings)
