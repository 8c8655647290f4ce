"""perf on arm64 where the PMU does not implement the TLB-walk events: unsupported with the reason, never 0.

Recorded in the arm64 guest (tests/fixtures/arm64-suite/README.md): qemu TCG's
PMU lists only cpu_cycles, stall_frontend and stall_backend in sysfs, yet
`perf stat -e r34:k` runs and prints 0 -- the arm64 PMU driver accepts any raw
event number. Counted naively that 0 is a DTLB_WALK count and an MPKI of 0.
"""

from __future__ import annotations

from pathlib import Path

from benchctl.parsers.perf_events import ARM64_CODES
from benchctl.parsers.perf_stat import parse_csv
from benchctl.run import counters

FIX = Path(__file__).parents[1] / "fixtures" / "arm64-suite" / "perf"
ARM64 = {"host": {"arch": "aarch64"}}


def recorded_sys(tmp_path: Path) -> Path:
    """A /sys with the guest's PMU and the events/ files it listed (sysfs-events.txt: PMU/name content)."""
    for line in (FIX / "sysfs-events.txt").read_text().splitlines():
        path, content = line.split(" ", 1)
        pmu, name = path.split("/")
        d = tmp_path / "sys/bus/event_source/devices" / pmu / "events"
        d.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(content + "\n")
    return tmp_path


def test_the_hazard_raw_walk_events_read_zero_under_qemu():
    """What the fix is for: perf counts an event the PMU lacks as 0, not <not supported>."""
    res = parse_csv((FIX / "stat-r34k.csv").read_text())
    assert [(m.metric, m.value) for m in res.measurements] == [("dtlb_walk_k", 0.0)]
    generic = parse_csv((FIX / "stat-instructionsk.csv").read_text())
    assert not generic.measurements and "not supported" in generic.warnings[0]


def test_the_pmu_lists_only_what_it_counts(tmp_path):
    adv = counters.advertised_arm64_events(recorded_sys(tmp_path) / "sys")
    assert adv == {"armv8_pmuv3": {0x11, 0x23, 0x24}}


def test_walk_events_the_pmu_lacks_are_unsupported_with_the_reason(tmp_path):
    setup = counters.configure(ARM64, sys_root=recorded_sys(tmp_path), probe=False)
    if not setup.enabled:  # no perf on this host: the plan is still made
        assert setup.warnings
    assert setup.events.events == ("r11:k",)  # CPU_CYCLES, the one architected event counted
    for metric in ("dtlb_walk_k", "itlb_walk_k", "inst_retired_k", "l1d_tlb_refill_k"):
        assert "not implemented by this CPU's PMU" in setup.unsupported[metric]
    assert "DTLB_WALK (event 0x34)" in setup.unsupported["dtlb_walk_k"]
    assert setup.to_json()["unsupported"] == setup.unsupported


def test_no_mpki_from_what_is_counted_there(tmp_path):
    """The counted file has cycles only: no walk count, no MPKI, nothing recorded as 0."""
    res = parse_csv((FIX / "stat-r11k.csv").read_text())
    metrics = {m.metric for m in res.measurements}
    assert metrics == {"cycles_k"}
    assert not any("mpki" in m for m in metrics)


def test_a_pmu_that_lists_the_walk_events_keeps_the_whole_set(tmp_path):
    d = tmp_path / "sys/bus/event_source/devices/armv8_pmuv3_0/events"
    d.mkdir(parents=True)
    for code in ARM64_CODES.values():
        (d / f"e{code:x}").write_text(f"event=0x{code:04x}\n")
    setup = counters.configure(ARM64, sys_root=tmp_path, probe=False)
    assert not setup.unsupported and len(setup.events.events) == 7


def test_a_pmu_without_an_events_folder_is_not_judged(tmp_path):
    (tmp_path / "sys/bus/event_source/devices/armv8_pmuv3_0").mkdir(parents=True)
    setup = counters.configure(ARM64, sys_root=tmp_path, probe=False)
    assert not setup.unsupported and len(setup.events.events) == 7
