"""perf stat parsers on the recorded perf 6.1 outputs (x86 VM without a PMU) and the MPKI mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchctl.parsers import ParseError, detect
from benchctl.parsers.perf_events import ARM64, SOFTWARE, X86, canonical_event, default_mapping, event_set
from benchctl.parsers.perf_stat import parse_csv, parse_json, parse_text, parse_version, perf_counts_to_measurements

OWN = Path(__file__).parents[1] / "fixtures" / "parsers"


def _by_event(r):
    return {e["event"]: e for e in r.info["events"]}


def test_software(tools_dir):
    r = parse_csv((tools_dir / "perf-stat-x-software.txt").read_text())
    ev = _by_event(r)
    assert ev["task-clock"]["value"] == 6.65 and ev["task-clock"]["unit"] == "msec"
    assert ev["task-clock"]["run_ns"] == 6651326 and ev["task-clock"]["pct_running"] == 100.0
    assert ev["task-clock"]["metric_value"] == 0.907 and ev["task-clock"]["metric_unit"] == "CPUs utilized"
    assert ev["page-faults"]["value"] == 333 and ev["cpu-migrations"]["value"] == 0
    assert r.info["started_on"] == "Thu Nov 26 06:30:14 2026"
    assert r.get("perf:page-faults").value == 333
    assert r.warnings == []


def test_hw_unsupported_is_never_zero(tools_dir):
    r = parse_csv((tools_dir / "perf-stat-x-hw-unsupported.txt").read_text())
    ev = _by_event(r)
    for name in ("cycles", "instructions", "cache-references", "cache-misses", "branches", "branch-misses"):
        assert ev[name]["status"] == "not-supported" and ev[name]["value"] is None
        assert r.info["totals"][name]["status"] == "not-supported"
        assert r.get(f"perf:{name}") is None
    assert ev["task-clock"]["value"] == 6.02
    assert sum("not supported" in w for w in r.warnings) == 6


def test_not_counted(tools_dir):
    r = parse_csv((tools_dir / "perf-stat-x-not-counted-delay.txt").read_text())
    assert [e["status"] for e in r.info["events"]] == ["not-counted", "not-counted", "not-supported"]
    assert r.measurements == []


def test_group_member_unsupported(tools_dir):
    r = parse_csv((tools_dir / "perf-stat-x-group-member-unsupported.txt").read_text())
    ev = _by_event(r)
    assert ev["task-clock"]["status"] == "not-counted" and ev["cycles"]["status"] == "not-supported"
    assert ev["page-faults"]["value"] == 48


def test_group_leader_unsupported_is_an_error(tools_dir):
    with pytest.raises(ParseError, match="cycles event is not supported"):
        parse_csv((tools_dir / "perf-stat-x-group-unsupported-error.txt").read_text())


def test_default_events(tools_dir):
    r = parse_csv((tools_dir / "perf-stat-x-default-events.txt").read_text())
    assert _by_event(r)["context-switches"]["value"] == 2
    assert len(r.info["events"]) == 8


def test_percpu(tools_dir):
    r = parse_csv((tools_dir / "perf-stat-x-percpu.txt").read_text())
    rows = [e for e in r.info["events"] if e["event"] == "context-switches"]
    assert [(e["aggr"], e["value"]) for e in rows] == [("CPU0", 5), ("CPU1", 58)]
    assert r.info["totals"]["context-switches"]["value"] == 63
    assert r.info["totals"]["task-clock"]["value"] == pytest.approx(201.90 + 201.91)
    assert r.info["totals"]["cycles"]["status"] == "not-supported"


def test_per_socket(tools_dir):
    r = parse_csv((tools_dir / "perf-stat-x-per-socket.txt").read_text())
    e = r.info["events"][0]
    assert (e["aggr"], e["aggr_cpus"], e["value"], e["event"]) == ("S0", 2, 203.10, "task-clock")
    assert r.info["events"][1]["value"] == 34


def test_semicolon(tools_dir):
    r = parse_csv((tools_dir / "perf-stat-x-semicolon.txt").read_text())
    assert r.info["separator"] == ";"
    assert _by_event(r)["page-faults"]["value"] == 47


def test_semicolon_per_core():
    r = parse_csv((OWN / "perf-stat-x-semicolon-per-core.txt").read_text())
    assert [(e["aggr"], e["aggr_cpus"], e["value"]) for e in r.info["events"]] == [
        ("S0-D0-C0", 1, 101.41),
        ("S0-D0-C1", 1, 101.44),
    ]


def test_interval_with_not_counted_intervals():
    r = parse_csv((OWN / "perf-stat-x-interval.txt").read_text())
    assert r.info["intervals"] == 4
    first = r.info["events"][0]
    assert first["interval"] == pytest.approx(0.100242628) and first["value"] == 0.78
    t = r.info["totals"]["page-faults"]
    assert t["status"] == "partial" and t["value"] == 75 and t["counted_rows"] == 2 and t["rows"] == 4


def test_interval_percpu():
    r = parse_csv((OWN / "perf-stat-x-interval-percpu.txt").read_text())
    assert r.info["intervals"] == 3 and r.info["aggregation"] == ["CPU0", "CPU1"]
    assert r.info["totals"]["task-clock"]["value"] == pytest.approx(100.38 + 100.42 + 100.65 + 100.65 + 50.70 + 50.75)


def test_repeat_variance_column():
    r = parse_csv((OWN / "perf-stat-x-repeat.txt").read_text())
    ev = _by_event(r)
    assert ev["task-clock"]["variance_pct"] == 9.46 and ev["task-clock"]["run_ns"] == 383222
    assert ev["page-faults"]["value"] == 49
    assert ev["cycles"]["status"] == "not-supported"


def test_event_names_containing_the_separator():
    text = "1234,,cpu/event=0x3c,umask=0/k,1000,66.00,,\n"
    e = parse_csv(text).info["events"][0]
    assert e["event"] == "cpu/event=0x3c,umask=0/k" and e["value"] == 1234 and e["pct_running"] == 66.0


def test_json_lines(tools_dir):
    r = parse_json((tools_dir / "perf-stat-json.txt").read_text())
    ev = _by_event(r)
    assert ev["task-clock"]["value"] == 6.010350 and ev["task-clock"]["run_ns"] == 6010350
    assert ev["page-faults"]["value"] == 335
    assert ev["cycles"]["status"] == "not-supported" and ev["cycles"]["value"] is None


def test_json_interval_percpu():
    r = parse_json((OWN / "perf-stat-json-interval-percpu.txt").read_text())
    assert r.info["intervals"] == 3 and r.info["aggregation"] == ["CPU0", "CPU1"]
    assert len(r.info["events"]) == 12


def test_human(tools_dir):
    r = parse_text((tools_dir / "perf-stat-human.txt").read_text())
    ev = _by_event(r)
    assert ev["task-clock"]["value"] == 8.08 and ev["page-faults"]["value"] == 331
    assert ev["cycles"]["status"] == "not-supported"
    assert r.info["seconds_time"] == 0.008907412


def test_human_repeat_and_thousands():
    r = parse_text((OWN / "perf-stat-human-repeat.txt").read_text())
    assert r.info["runs"] == 3 and _by_event(r)["task-clock"]["variance_pct"] == 3.0
    r = parse_text("  1,234,567      page-faults      #   1.000 K/sec      (66.67%)\n")
    e = r.info["events"][0]
    assert e["value"] == 1234567 and e["pct_running"] == 66.67


def test_nothing():
    for fn in (parse_csv, parse_json, parse_text):
        with pytest.raises(ParseError):
            fn("")


# --- event sets and MPKI ----------------------------------------------------------------


def _rows(pairs, pct=100.0):
    return [
        {
            "event": ev,
            "value": v,
            "unit": "",
            "status": "counted" if v is not None else "not-supported",
            "run_ns": 1,
            "pct_running": pct,
            "variance_pct": None,
            "interval": None,
            "aggr": None,
            "aggr_cpus": None,
            "metric_value": None,
            "metric_unit": "",
        }
        for ev, v in pairs
    ]


def test_canonical_spellings_collapse():
    assert (
        canonical_event("r34:k")
        == canonical_event("DTLB_WALK:k")
        == canonical_event("armv8_pmuv3_0/event=0x34/k")
        == "arm:0x34:k"
    )
    assert canonical_event("r8:k") == canonical_event("INST_RETIRED:k")
    assert canonical_event("dtlb_load_misses.walk_completed:k") == "dtlb_load_misses.walk_completed:k"


def test_arm64_mpki_is_a_ratio_of_sums():
    # two CPUs: per-CPU ratios 10 and 1 MPKI; ratio of sums = 1000 * (100 + 10) / (10000 + 10000) = 5.5
    rows = _rows([("r34:k", 100), ("r34:k", 10), ("r35:k", 40), ("r8:k", 10000), ("r8:k", 10000), ("r11:k", 5e4)])
    ms = {m.metric: m for m in perf_counts_to_measurements(rows, default_mapping())}
    assert ms["dtlb_walk_k"].value == 110 and ms["inst_retired_k"].value == 20000
    assert ms["kernel_dtlb_walk_mpki"].value == pytest.approx(5.5)
    assert ms["kernel_tlb_walk_mpki"].value == pytest.approx(1000 * 150 / 20000)
    assert ms["cycles_k"].value == 5e4 and ms["kernel_dtlb_walk_mpki"].unit == "MPKI"


def test_named_and_pmu_forms_and_multiplexing():
    rows = _rows([("DTLB_WALK:k", 30), ("ITLB_WALK:k", 10)], pct=66.0) + _rows([("armv8_pmuv3_0/event=0x8/k", 1000)])
    warns: list[str] = []
    ms = {m.metric: m for m in perf_counts_to_measurements(rows, default_mapping(), warns)}
    assert ms["kernel_tlb_walk_mpki"].value == pytest.approx(40.0)
    assert ms["kernel_tlb_walk_mpki"].note["multiplexed_pct"] == 66.0
    assert ms["dtlb_walk_k"].note["multiplexed_pct"] == 66.0
    assert "multiplexed_pct" not in ms["inst_retired_k"].note


def test_same_counter_twice_is_counted_once():
    rows = _rows([("r34:k", 100), ("DTLB_WALK:k", 100), ("r8:k", 1000), ("instructions:k", 1000)])
    warns: list[str] = []
    ms = {m.metric: m for m in perf_counts_to_measurements(rows, default_mapping(), warns)}
    assert ms["dtlb_walk_k"].value == 100 and ms["inst_retired_k"].value == 1000
    assert ms["kernel_dtlb_walk_mpki"].value == pytest.approx(100.0)
    assert any("same counter; counted once" in w for w in warns)
    assert any("rather than the generic instructions:k" in w for w in warns)


def test_x86_load_and_store_walks_sum():
    rows = _rows(
        [
            ("dtlb_load_misses.walk_completed:k", 60),
            ("dtlb_store_misses.walk_completed:k", 40),
            ("itlb_misses.walk_completed:k", 20),
            ("instructions:k", 50000),
            ("cycles:k", 1e5),
        ]
    )
    ms = {m.metric: m for m in perf_counts_to_measurements(rows, X86.mapping)}
    assert ms["dtlb_walk_k"].value == 100
    assert ms["kernel_dtlb_walk_mpki"].value == pytest.approx(2.0)
    assert ms["kernel_tlb_walk_mpki"].value == pytest.approx(2.4)


def test_unsupported_counter_gives_no_ratio():
    rows = _rows([("r34:k", None), ("r8:k", 1000)])
    warns: list[str] = []
    ms = {m.metric for m in perf_counts_to_measurements(rows, default_mapping(), warns)}
    assert ms == {"inst_retired_k"}
    assert any("dtlb_walk_k" in w for w in warns) and any("kernel_dtlb_walk_mpki" in w for w in warns)


def test_mapped_events_in_a_csv_become_catalogue_metrics():
    text = "120,,r34:k,1000,50.00,,\n80,,r35:k,1000,50.00,,\n100000,,r8:k,1000,100.00,,\n"
    r = parse_csv(text)
    assert r.get("kernel_tlb_walk_mpki").value == pytest.approx(2.0)
    assert r.get("kernel_tlb_walk_mpki").note["multiplexed_pct"] == 50.0
    assert r.get("perf:r34:k") is None


def test_event_sets():
    assert event_set("aarch64", True) is ARM64
    assert event_set("x86_64", True) is X86
    assert event_set("x86_64", False) is SOFTWARE
    assert ARM64.perf_args() == ["-e", "r34:k,r35:k,r5:k,r2d:k,r8:k,r11:k,r2:k"]
    assert "{" not in ",".join(X86.events)


def test_version():
    assert parse_version("perf version 6.1.192\n") == "6.1.192"
    with pytest.raises(ParseError):
        parse_version("perf")


def test_detect(tools_dir):
    assert detect((tools_dir / "perf-stat-json.txt").read_text()) == "perf-stat-json"
    assert detect((tools_dir / "perf-stat-human.txt").read_text()) == "perf-stat-text"
    for f in tools_dir.glob("perf-stat-x-*.txt"):
        assert detect(f.read_text()) == "perf-stat-csv", f.name
    for f in OWN.glob("perf-stat-x-*.txt"):
        assert detect(f.read_text()) == "perf-stat-csv", f.name


def test_per_thread():
    r = parse_csv((OWN / "perf-stat-x-per-thread.txt").read_text())
    assert len(r.info["events"]) == 20 and r.warnings == []
    first = r.info["events"][0]
    assert (first["aggr"], first["value"], first["event"]) == ("python-16175", 106.97, "task-clock")
    assert "kworker/u8:2-flush-254:0-35" in r.info["aggregation"]


def test_per_node_and_interval_per_socket():
    r = parse_csv((OWN / "perf-stat-x-per-node.txt").read_text())
    assert [(e["aggr"], e["aggr_cpus"], e["value"]) for e in r.info["events"]] == [("N0", 2, 208.04), ("N0", 2, 35)]
    r = parse_csv((OWN / "perf-stat-x-interval-per-socket.txt").read_text())
    e = r.info["events"][1]
    assert (e["interval"], e["aggr"], e["aggr_cpus"], e["value"], e["event"]) == (
        pytest.approx(0.100170861),
        "S0",
        2,
        36,
        "context-switches",
    )
    assert r.info["totals"]["context-switches"]["value"] == 50


def test_interval_rows_with_a_not_counted_interval_are_partial():
    text = (
        "     0.1,100,,r34:k,1000,100.00,,\n     0.1,10000,,r8:k,1000,100.00,,\n"
        "     0.2,<not counted>,,r34:k,0,100.00,,\n     0.2,<not counted>,,r8:k,0,100.00,,\n"
    )
    r = parse_csv(text)
    m = r.get("kernel_dtlb_walk_mpki")
    assert m.value == pytest.approx(10.0) and m.note["partial"] is True


def test_json_per_socket():
    r = parse_json((OWN / "perf-stat-json-per-socket.txt").read_text())
    e = r.info["events"][0]
    assert (e["aggr"], e["aggr_cpus"], e["event"]) == ("S0", 2, "task-clock")
    assert r.info["events"][1]["event"] == "context-switches"
