"""benchctl.results.importer over every recorded output: the right format, metrics, and errors naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchctl.errors import InputError, UsageError
from benchctl.results.importer import import_file, import_files

TOOLS = Path(__file__).parents[1] / "fixtures" / "tools"
OWN = Path(__file__).parents[1] / "fixtures" / "parsers"

# file -> (tool, format, metric that must be present, its value)
EXPECTED = {
    "memtier-memcache_text.json": ("memtier", "memtier-json", "ops_per_sec", 67584.32),
    "memtier-memcache_text.stdout.txt": ("memtier", "memtier-text", "ops_per_sec", 67584.32),
    "memtier-populate-allkeys.stdout_stderr.txt": ("memtier", "memtier-text", "ops_per_sec", 60017.49),
    "memtier-hdr/stdout.txt": ("memtier", "memtier-text", "ops_per_sec", 62348.05),
    "memtier-hdr/mt_FULL_RUN_1.hgrm": ("memtier", "memtier-hgrm", "p99_latency_us", 463.0),
    "memtier-hdr/mt_FULL_RUN_1.txt": ("memtier", "memtier-hdr-txt", "p99_latency_us", 510.0),
    "mutilate-closedloop-peak.txt": ("mutilate", "mutilate", "ops_per_sec", 56705.3),
    "mutilate-openloop-save.txt": ("mutilate", "mutilate", "ops_per_sec", 9946.3),
    "mutilate-save-samples.head1000.txt": ("mutilate", "mutilate-samples", "p50_latency_us", 20.027161),
    "memcaslap-default-5s.txt": ("memaslap", "memaslap", "ops_per_sec", 78989.0),
    "memcaslap-cfgfile-3s.txt": ("memaslap", "memaslap", "ops_per_sec", 83920.0),
    "memcaslap-P20k-not-throttled-3s.txt": ("memaslap", "memaslap", "ops_per_sec", 84451.0),
    "memcaslap-execnum-100k.txt": ("memaslap", "memaslap", "ops_per_sec", 69840.0),
    "perf-stat-x-software.txt": ("perf", "perf-stat-csv", "perf:page-faults", 333.0),
    "perf-stat-x-default-events.txt": ("perf", "perf-stat-csv", "perf:page-faults", 334.0),
    "perf-stat-x-hw-unsupported.txt": ("perf", "perf-stat-csv", "perf:task-clock", 6.02),
    "perf-stat-x-group-member-unsupported.txt": ("perf", "perf-stat-csv", "perf:page-faults", 48.0),
    "perf-stat-x-percpu.txt": ("perf", "perf-stat-csv", "perf:context-switches", 63.0),
    "perf-stat-x-per-socket.txt": ("perf", "perf-stat-csv", "perf:context-switches", 34.0),
    "perf-stat-x-semicolon.txt": ("perf", "perf-stat-csv", "perf:page-faults", 47.0),
    "perf-stat-json.txt": ("perf", "perf-stat-json", "perf:page-faults", 335.0),
    "perf-stat-human.txt": ("perf", "perf-stat-text", "perf:page-faults", 331.0),
    "fio-json.json": ("fio", "fio-json", "iops", 67493.30587),
    "fio-jsonplus.json": ("fio", "fio-json", "iops", 175699.731903),
    "fio-json-percentile_list.json": ("fio", "fio-json", "clat_p999_us", 61.696),
    "fio-normal.txt": ("fio", "fio-text", "iops", 45700.0),
    "fio-normal-eta-always.txt": ("fio", "fio-text", "iops", 19500.0),
    # xfs_io: an iteration is the output's last command (the pwrite before a pread is left out)
    "xfs_io-small-64MiB.txt": ("xfs_io", "xfs_io", "bandwidth_bytes_s", 28.435 * (1 << 30)),
    "xfs_io-compact-C.txt": ("xfs_io", "xfs_io", "bandwidth_bytes_s", 28722153984.017),
    "xfs_io-misc.txt": ("xfs_io", "xfs_io", "bandwidth_bytes_s", 70566019.072),
}

REFUSED = {
    "mutilate-segfault-default-iadist.txt": ("mutilate", "-i exponential:1"),
    "perf-stat-x-group-unsupported-error.txt": ("perf", "cycles event is not supported"),
    "perf-stat-x-not-counted-delay.txt": None,  # parses: every value missing, no measurements
    "memcaslap-config.cnf": ("memaslap", "Run time"),
    "memtier-memcache_text.stderr.txt": ("memtier", "not recognised as memtier output"),
    "mutilate-scan.txt": None,  # parses: the scan rows go to info, no single-point metrics
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_fixture(name):
    tool, fmt, metric, value = EXPECTED[name]
    [(path, r)] = import_files(tool, [TOOLS / name])
    assert path == TOOLS / name
    assert r.info["parser_format"] == fmt
    assert r.get(metric).value == pytest.approx(value)


def test_every_shared_fixture_is_covered():
    names = {str(p.relative_to(TOOLS)) for p in TOOLS.rglob("*") if p.is_file() and p.name != "README.md"}
    assert names == set(EXPECTED) | set(REFUSED)


@pytest.mark.parametrize("name", sorted(k for k, v in REFUSED.items() if v))
def test_refused_with_the_file_named(name):
    tool, text = REFUSED[name]
    with pytest.raises(InputError) as e:
        import_file(tool, TOOLS / name)
    assert str(TOOLS / name) in str(e.value) and text in str(e.value)


def test_files_without_measurements():
    r = import_file("perf", TOOLS / "perf-stat-x-not-counted-delay.txt")
    assert r.measurements == [] and len(r.warnings) == 3
    r = import_file("mutilate", TOOLS / "mutilate-scan.txt")
    assert r.measurements == [] and len(r.info["scan"]) == 3


def test_own_recordings():
    assert import_file("memaslap", OWN / "memcaslap-S-1s-3s.txt").get("p99_latency_us").value == 2048.0
    for p in OWN.glob("perf-*.txt"):
        assert import_file("perf", p).info["events"]


def test_wrong_tool_is_refused():
    with pytest.raises(InputError, match="looks like fio output"):
        import_file("memtier", TOOLS / "fio-json.json")


def test_unknown_tool_missing_and_empty_files(tmp_path):
    with pytest.raises(UsageError):
        import_file("iperf", TOOLS / "fio-json.json")
    with pytest.raises(InputError, match="cannot read"):
        import_file("fio", tmp_path / "nope.json")
    (tmp_path / "empty").write_text("")
    with pytest.raises(InputError, match="empty"):
        import_file("fio", tmp_path / "empty")
    (tmp_path / "cut.json").write_text((TOOLS / "fio-json.json").read_text()[:500])
    with pytest.raises(InputError, match="cut.json"):
        import_file("fio", tmp_path / "cut.json")


def test_every_latency_resolution_label_is_documented():
    from benchctl.parsers import LATENCY_RESOLUTION

    labels = set()
    for name, (tool, *_rest) in EXPECTED.items():
        for m in import_file(tool, TOOLS / name).measurements:
            if "latency_resolution" in m.note:
                labels.add(m.note["latency_resolution"])
    labels |= {
        m.note["latency_resolution"]
        for m in import_file("memaslap", OWN / "memcaslap-S-1s-3s.txt").measurements
        if "latency_resolution" in m.note
    }
    assert labels <= set(LATENCY_RESOLUTION), labels - set(LATENCY_RESOLUTION)
    assert {"coarse-pow2", "hdr-2sig", "log-bins-10pct", "exact", "fio-log-linear-64"} <= labels


def test_tool_aliases():
    assert import_file("memcaslap", TOOLS / "memcaslap-default-5s.txt").get("ops_per_sec").value == 78989
    assert import_file("memtier_benchmark", TOOLS / "memtier-memcache_text.json").get("ops_per_sec")


def test_a_block_size_is_one_size_in_any_spelling():
    """import and analyze compare setups by one rule (results/metrics.setup_value): --set bs=4096 agrees
    with an output that shows bs=4k; 8k contradicts it."""
    from benchctl.results.measured import ImportSetup, apply_sets

    assert apply_sets(ImportSetup(setup={"bs": "4k"}), {"bs": "4096"})["bs"] == "4096"
    with pytest.raises(UsageError, match="contradicts"):
        apply_sets(ImportSetup(setup={"bs": "4k"}), {"bs": "8k"})
