"""kmsg taint scan, hygiene warnings, perf planning, effective status: the engine's helpers on recorded data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchctl.results.store import effective_status
from benchctl.run import counters, hygiene, kernel_log

# Real splats as the kernel prints them (format of lib/bug.c / kernel/sched/core.c / lockdep)
SPLATS = [
    "[  12.345678] BUG: sleeping function called from invalid context at mm/page_alloc.c:4321",
    "[  12.345680] in_atomic(): 1, irqs_disabled(): 128, non_block: 0, pid: 1, name: swapper/0",
    "[  13.000001] WARNING: CPU: 3 PID: 77 at arch/arm64/mm/pageattr.c:55 split_kernel_leaf_mapping+0x1c/0x90",
    "[  14.2] [ BUG: Invalid wait context ]",
    "[  15.0] memcached[1234]: segfault at 0 ip 0000 sp 0000 error 4",
]


def test_taint_lines_pick_only_the_splats():
    bad = kernel_log.taint_lines(SPLATS)
    assert bad == [SPLATS[0], SPLATS[2], SPLATS[3]]
    assert kernel_log.taint_lines(["[ 1.0] loop0: detected capacity change", "[ 2.0] EXT4-fs (loop0): mounted"]) == []


def test_kmsg_reader_sees_lines_after_mark():
    if not os.access("/dev/kmsg", os.R_OK):
        pytest.skip("/dev/kmsg not readable here")
    m = kernel_log.mark()
    assert m.source == "kmsg" and m.seq is not None
    lines, warn = kernel_log.since(m)
    assert isinstance(lines, list) and warn is None
    # a mark before the whole buffer returns every record currently there
    everything, _ = kernel_log.since(kernel_log.Mark("kmsg", seq=-1))
    assert len(everything) >= len(lines)


def fp(**tuning):
    return {
        "tuning": {"governor": {"policy0": "performance"}, "thp_enabled": "madvise", **tuning},
        "memory": {"available_kb": 8 << 20},
    }


def test_hygiene_from_fingerprint():
    assert hygiene.from_fingerprint(fp(), 1024) == []
    w = hygiene.from_fingerprint(fp(governor={"policy0": "performance", "policy1": "schedutil"}), 1024)
    assert len(w) == 1 and "schedutil" in w[0]
    assert "always" in hygiene.from_fingerprint(fp(thp_enabled="always"), 0)[0]
    assert "unknown" in hygiene.from_fingerprint(fp(governor=None), 0)[0]
    low = hygiene.from_fingerprint(fp(), 16 * 1024)
    assert len(low) == 1 and "8192 MiB" in low[0] and "16384 MiB" in low[0]


def test_hygiene_sees_another_benchctl_run():
    code = "import time; time.sleep(30)"
    p = subprocess.Popen([sys.executable, "-c", code, "benchctl", "run"])  # argv mentions benchctl: not a run
    try:
        # (its start-up may still count as a busy process; only "another benchctl run" would be wrong)
        runs = [w for w in hygiene.other_processes(0.05) if w.startswith("another benchctl run")]
        assert not any(f"pid {p.pid}:" in w for w in runs), runs
    finally:
        p.kill()
        p.wait(timeout=10)
    assert hygiene.is_benchctl_run(["/usr/bin/python3", "-m", "benchctl", "run", "memcached"])
    assert hygiene.is_benchctl_run(["/opt/venv/bin/benchctl", "run", "--suite", "bbml2"])
    assert not hygiene.is_benchctl_run(["/opt/venv/bin/benchctl", "export", "x"])


def test_pmu_detection(tmp_path):
    devs = tmp_path / "sys/bus/event_source/devices"
    for n in ("breakpoint", "software", "tracepoint", "msr"):
        (devs / n).mkdir(parents=True)
    assert not counters.pmu_present(tmp_path / "sys")
    (devs / "armv8_pmuv3_0").mkdir()
    assert counters.pmu_present(tmp_path / "sys")


def test_perf_plan_by_cpu(tmp_path, monkeypatch):
    (tmp_path / "sys/bus/event_source/devices/cpu").mkdir(parents=True)
    p = counters.configure({"host": {"arch": "aarch64"}}, sys_root=tmp_path, probe=False)
    if p.enabled:
        assert p.events.name == "arm64-architected" and all(e.endswith(":k") for e in p.events.events)
        argv = p.wrap(["memcaslap", "-t", "1s"], Path("/x/perf.csv"))
        assert argv[:6] == [p.perf, "stat", "-x,", "-a", "-o", "/x/perf.csv"] and argv[-3:] == ["memcaslap", "-t", "1s"]
    nopmu = counters.configure({"host": {"arch": "x86_64"}}, sys_root=tmp_path / "none", probe=False)
    assert nopmu.events.name == "software"
    assert not counters.configure({}, enabled=False).enabled
    monkeypatch.setattr(counters.shutil, "which", lambda name: None)
    gone = counters.configure({"host": {"arch": "x86_64"}}, probe=False)
    assert not gone.enabled and "linux-perf" in gone.warnings[0]
    assert gone.wrap(["a"], Path("f")) == ["a"]


def test_perf_read_of_real_output(tmp_path):
    src = Path(__file__).parents[1] / "fixtures/tools/perf-stat-x-hw-unsupported.txt"
    text = "".join(ln for ln in src.read_text().splitlines(keepends=True) if not ln.startswith("$ "))
    f = tmp_path / counters.PERF_FILE
    f.write_text(text)
    ms, warns, _ = counters.read(f)
    names = {m.metric for m in ms}
    assert "perf:task-clock" in names and "perf:cycles" not in names
    assert any("not supported" in w for w in warns)
    ms, warns, _ = counters.read(tmp_path / "absent.csv")
    assert ms == [] and "missing" in warns[0]


def test_effective_status():
    assert effective_status({"status": "complete"}) == "complete"
    assert effective_status({"status": "running", "owner": {"pid": 2**22 + 7, "start_time": 1}}) == "interrupted"
    from benchctl.osutil.processes import process_identity

    assert effective_status({"status": "running", "owner": process_identity()}) == "running"


@pytest.mark.live
def test_perf_probe_drops_event_names_this_cpu_lacks(tmp_path, monkeypatch):
    import shutil as _sh

    if _sh.which("perf") is None:
        pytest.skip("perf not installed")
    from benchctl.parsers.perf_events import EventSet

    bogus = EventSet("test", ("task-clock", "no_such_event_xyz:k"), {}, "probe test")
    monkeypatch.setattr(counters, "event_set", lambda arch, pmu: bogus)
    p = counters.configure({"host": {"arch": "x86_64"}})
    if not p.enabled:
        pytest.skip(f"perf cannot run here: {p.warnings}")
    assert p.events.events == ("task-clock",)
    assert any("no_such_event_xyz:k" in w for w in p.warnings)
