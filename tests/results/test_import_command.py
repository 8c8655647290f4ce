"""`benchctl import`: every recorded memcached-generator and perf output becomes the right records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchctl.cli import cli
from benchctl.results.store import RunFolder
from tests.conftest import TOOLS


def run_import(tmp_path, tool, *files, arm="a"):
    res = CliRunner().invoke(cli, ["import", tool, *map(str, files), "--arm", arm, "-o", str(tmp_path)])
    assert res.exit_code == 0, (res.output, res.exception)
    folder = RunFolder.open(Path(res.stdout.strip().splitlines()[-1]))
    recs, skipped = folder.records()
    assert not skipped
    return folder, recs


def by_metric(recs, iteration=1):
    return {r["metric"]: r["value"] for r in recs if r["iteration"] == iteration}


def test_memtier_json_values_match_the_file(tmp_path):
    f = TOOLS / "memtier-memcache_text.json"
    folder, recs = run_import(tmp_path, "memtier", f)
    totals = json.loads(f.read_text())["ALL STATS"]["Totals"]
    m = by_metric(recs)
    assert m["ops_per_sec"] == pytest.approx(totals["Ops/sec"])
    # memtier latencies are ms in the JSON; benchctl records us
    assert m["p50_latency_us"] == pytest.approx(totals["Percentile Latencies"]["p50.00"] * 1000, rel=1e-3)
    assert m["p99_latency_us"] == pytest.approx(totals["Percentile Latencies"]["p99.00"] * 1000, rel=1e-3)
    assert "p999_latency_us" in m
    man = folder.manifest
    assert man["status"] == "imported" and man["imported"] is True and man["iterations_done"] == 1
    assert all(r["arm"] == "a" and r["workload"] == "memcached" and not r["warmup"] for r in recs)
    assert (folder.path / "raw/iter-0001/memtier-memcache_text.json").read_text() == f.read_text()


@pytest.mark.parametrize(
    "tool, name, metrics, ops",
    [
        (
            "memtier",
            "memtier-memcache_text.stdout.txt",
            {"ops_per_sec", "p50_latency_us", "p99_latency_us", "p999_latency_us"},
            67584.32,
        ),
        ("memtier", "memtier-populate-allkeys.stdout_stderr.txt", {"ops_per_sec", "p99_latency_us"}, 60017.49),
        ("memtier", "memtier-hdr/stdout.txt", {"ops_per_sec", "p50_latency_us", "p99_latency_us"}, 62348.05),
        ("memtier", "memtier-hdr/mt_FULL_RUN_1.hgrm", {"p50_latency_us", "p99_latency_us", "p999_latency_us"}, None),
        ("memtier", "memtier-hdr/mt_FULL_RUN_1.txt", {"p50_latency_us", "p99_latency_us", "p999_latency_us"}, None),
        ("mutilate", "mutilate-closedloop-peak.txt", {"ops_per_sec", "p99_latency_us"}, 56705.3),
        ("mutilate", "mutilate-openloop-save.txt", {"ops_per_sec", "p99_latency_us"}, 9946.3),
        (
            "mutilate",
            "mutilate-save-samples.head1000.txt",
            {"p50_latency_us", "p99_latency_us", "p999_latency_us"},
            None,
        ),
        ("memaslap", "memcaslap-default-5s.txt", {"ops_per_sec"}, 78989.0),
        ("memaslap", "memcaslap-cfgfile-3s.txt", {"ops_per_sec"}, 83920.0),
        ("memaslap", "memcaslap-P20k-not-throttled-3s.txt", {"ops_per_sec"}, 84451.0),
        ("memaslap", "memcaslap-execnum-100k.txt", {"ops_per_sec"}, 69840.0),
    ],
)
def test_generator_fixtures(tmp_path, tool, name, metrics, ops):
    _, recs = run_import(tmp_path, tool, TOOLS / name)
    m = by_metric(recs)
    assert metrics <= set(m), m
    if ops is not None:
        assert m["ops_per_sec"] == pytest.approx(ops)
        assert f"TPS: {int(ops)}" in (TOOLS / name).read_text() or str(ops) in (TOOLS / name).read_text()


def test_memaslap_latency_is_marked_coarse(tmp_path):
    extra = sorted(TOOLS.glob("memcaslap*S*.txt")) + sorted((TOOLS.parent / "parsers").rglob("*memcaslap*S*"))
    text_with_s = [p for p in extra if "Log2 Dist" in p.read_text(errors="replace")]
    if not text_with_s:
        pytest.skip("no recorded memcaslap -S output among the fixtures")
    _, recs = run_import(tmp_path, "memaslap", text_with_s[0])
    p99 = [r for r in recs if r["metric"] == "p99_latency_us"]
    assert p99 and p99[0]["note"]["latency_resolution"] == "coarse-pow2"


@pytest.mark.parametrize(
    "name, present, absent",
    [
        ("perf-stat-x-software.txt", {"perf:task-clock", "perf:context-switches", "perf:page-faults"}, set()),
        (
            "perf-stat-x-default-events.txt",
            {"perf:task-clock", "perf:page-faults"},
            {"perf:cycles", "perf:instructions"},
        ),
        ("perf-stat-x-hw-unsupported.txt", {"perf:task-clock"}, {"perf:cycles", "perf:instructions", "perf:branches"}),
        ("perf-stat-x-group-member-unsupported.txt", {"perf:page-faults"}, {"perf:task-clock", "perf:cycles"}),
        ("perf-stat-x-percpu.txt", {"perf:task-clock"}, set()),
        ("perf-stat-x-per-socket.txt", {"perf:task-clock"}, set()),
        ("perf-stat-x-semicolon.txt", {"perf:task-clock", "perf:page-faults"}, set()),
        ("perf-stat-json.txt", {"perf:task-clock", "perf:page-faults"}, set()),
        ("perf-stat-human.txt", {"perf:task-clock", "perf:page-faults"}, set()),
    ],
)
def test_perf_fixtures_never_record_unsupported_as_zero(tmp_path, name, present, absent):
    folder, recs = run_import(tmp_path, "perf", TOOLS / name)
    m = by_metric(recs)
    assert present <= set(m), m
    assert not (absent & set(m)), "unsupported / not-counted events must not become records"
    text = (TOOLS / name).read_text()
    if "<not supported>" in text:
        assert any("not supported" in w for w in folder.manifest["warnings"])


def test_percpu_counts_are_summed(tmp_path):
    _, recs = run_import(tmp_path, "perf", TOOLS / "perf-stat-x-percpu.txt")
    rows = [
        ln.split(",")
        for ln in (TOOLS / "perf-stat-x-percpu.txt").read_text().splitlines()
        if ln.startswith("CPU") and ",task-clock," in ln
    ]
    assert len(rows) >= 2
    assert by_metric(recs)["perf:task-clock"] == pytest.approx(sum(float(r[1]) for r in rows))


def test_not_counted_gives_no_records_and_says_so(tmp_path):
    folder, recs = run_import(tmp_path, "perf", TOOLS / "perf-stat-x-not-counted-delay.txt")
    assert recs == []
    assert any("not counted" in w or "no metrics" in w for w in folder.manifest["warnings"])


@pytest.mark.parametrize(
    "tool, name, needle",
    [
        ("mutilate", "mutilate-segfault-default-iadist.txt", "exponential:1"),
        ("perf", "perf-stat-x-group-unsupported-error.txt", "not supported"),
        ("memtier", "memtier-memcache_text.stderr.txt", "not recognised as memtier output"),
        ("mutilate", "memcaslap-default-5s.txt", "looks like memaslap"),
    ],
)
def test_bad_inputs_are_one_line_errors(tmp_path, tool, name, needle):
    p = subprocess.run(
        [sys.executable, "-m", "benchctl", "import", tool, str(TOOLS / name), "--arm", "a", "-o", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 3, p.stderr
    assert needle in p.stderr and name in p.stderr and "Traceback" not in p.stderr
    assert not any(tmp_path.rglob("run.json")), "nothing is written when an input is bad"


def test_export_of_import_is_tidy(tmp_path):
    run_import(tmp_path, "memaslap", TOOLS / "memcaslap-default-5s.txt", TOOLS / "memcaslap-cfgfile-3s.txt")
    res = CliRunner().invoke(cli, ["export", str(tmp_path), "--format", "csv"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.strip().splitlines()
    assert lines[0].startswith("arm,host,boot,run,workload,iteration,metric,value,unit")
    assert sum(",ops_per_sec," in ln for ln in lines) == 2


EXTRA = TOOLS.parent / "parsers"


@pytest.mark.parametrize(
    "name, expected",
    [
        # -I: interval deltas are summed; <not counted> intervals add nothing; cycles <not supported> is absent
        ("perf-stat-x-interval.txt", {"perf:task-clock": 0.78 + 0.07, "perf:page-faults": 75.0}),
        # -r: the mean over repeats, the variance column ignored
        ("perf-stat-x-repeat.txt", {"perf:task-clock": 0.38, "perf:page-faults": 49.0}),
        # -I -A: per-CPU rows of every interval
        ("perf-stat-x-interval-percpu.txt", {"perf:task-clock": 100.38 + 100.42 + 100.65 + 100.65 + 50.70 + 50.75}),
        # -I --per-socket: S0,<ncpus> columns
        ("perf-stat-x-interval-per-socket.txt", {"perf:task-clock": 202.43 + 107.93, "perf:context-switches": 50.0}),
    ],
)
def test_perf_column_layouts(tmp_path, name, expected):
    if not (EXTRA / name).is_file():
        pytest.skip(f"{name} not among the fixtures")
    _, recs = run_import(tmp_path, "perf", EXTRA / name)
    got = by_metric(recs)
    for metric, value in expected.items():
        assert got[metric] == pytest.approx(value), (metric, got)
    assert "perf:cycles" not in got
