"""Quiesced iterations (issue 21): the rule, the wait on a fake /proc/meminfo, and the engine's records."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest

from benchctl.errors import InputError, RunFailed
from benchctl.run import engine, quiesce
from benchctl.run.drivers.base import RunContext
from benchctl.run.specs import load_workload

REPO = Path(__file__).resolve().parents[2]

MEMINFO = "MemTotal:       24683468 kB\nMemFree:        20000000 kB\nDirty:          {d} kB\nWriteback:      {w} kB\n"


class FakeHost:
    """A /proc root whose Dirty/Writeback move to the next reading at each sleep, on a clock of its own."""

    def __init__(self, root: Path, readings: list[tuple[int, int]]):
        self.root, self.readings, self.now, self.syncs, self.sleeps = root, list(readings), 100.0, 0, 0
        (root / "proc" / "sys" / "vm").mkdir(parents=True)
        self._write()

    def _write(self) -> None:
        d, w = self.readings[0]
        (self.root / "proc" / "meminfo").write_text(MEMINFO.format(d=d, w=w))

    def sync(self) -> None:
        self.syncs += 1

    def sleep(self, s: float) -> None:
        self.sleeps += 1
        self.now += s
        if len(self.readings) > 1:
            self.readings.pop(0)
            self._write()

    def clock(self) -> float:
        return self.now

    def settle(self, rule: quiesce.Rule) -> quiesce.State:
        return quiesce.settle(rule, root=self.root, sync=self.sync, sleep=self.sleep, clock=self.clock)


def test_waits_until_dirty_and_writeback_drain_syncing_each_time(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, [(90000, 2000), (30000, 5000), (5000, 0), (100, 12)])
    state = host.settle(quiesce.Rule(max_dirty_kb=4096, deadline_s=10, poll_s=0.5))
    assert state.met and (state.dirty_kb, state.writeback_kb) == (100, 12)
    assert host.syncs == 4 and host.sleeps == 3, "one sync per reading: others dirty pages while we wait"
    assert state.seconds == pytest.approx(1.5)
    assert state.note() == {"quiesce_s": 1.5, "dirty_kb": 100, "writeback_kb": 12}


def test_writeback_alone_above_the_threshold_is_not_quiet(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, [(0, 8000), (0, 0)])
    state = host.settle(quiesce.Rule(max_dirty_kb=4096, deadline_s=10, poll_s=0.5))
    assert state.met and host.sleeps == 1


def test_never_drains_deadline_hit_is_flagged(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, [(50000, 3000)])
    state = host.settle(quiesce.Rule(max_dirty_kb=4096, deadline_s=2, poll_s=0.25))
    assert not state.met and "Dirty 50000 kB, Writeback 3000 kB at the deadline" in state.why
    assert host.clock() - 100.0 <= 2, "never waits past the deadline"
    assert state.note()["not_quiesced"] is True and state.note()["dirty_kb"] == 50000


def test_a_sync_stuck_past_the_deadline_is_flagged_and_not_started_twice(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, [(0, 0)])
    release, started = threading.Event(), []

    def stuck_sync() -> None:
        started.append(1)
        release.wait(30)

    rule = quiesce.Rule(max_dirty_kb=4096, deadline_s=0.2, poll_s=0.01)
    try:
        s1 = quiesce.settle(rule, root=tmp_path, sync=stuck_sync)
        s2 = quiesce.settle(rule, root=tmp_path, sync=stuck_sync)
    finally:
        release.set()
    assert not s1.met and "sync(2) still running" in s1.why and not s2.met
    assert len(started) == 1, "the second pass waited for the stuck sync instead of starting another"
    assert s1.seconds < 10 and (s1.dirty_kb, s1.writeback_kb) == (0, 0)
    s3 = quiesce.settle(rule, root=tmp_path, sync=host.sync)  # the stuck one has ended: back to normal
    assert s3.met


def test_drop_caches_is_written_when_the_workload_declares_it(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, [(0, 0)])
    assert host.settle(quiesce.Rule(drop_caches=3)).met
    assert (tmp_path / "proc/sys/vm/drop_caches").read_text() == "3\n"
    host2 = FakeHost(tmp_path / "b", [(0, 0)])
    host2.settle(quiesce.Rule())
    assert not (tmp_path / "b/proc/sys/vm/drop_caches").exists(), "drop_caches = 0 keeps the caches"


def test_a_failing_drop_caches_is_raised_not_swallowed(tmp_path: Path) -> None:
    host = FakeHost(tmp_path, [(0, 0)])
    shutil.rmtree(tmp_path / "proc/sys")  # the knob's folder is gone: the write fails
    with pytest.raises(FileNotFoundError):
        host.settle(quiesce.Rule(drop_caches=1))


@pytest.mark.parametrize(
    "table,why",
    [
        ({"max_dirty": 1}, "quiesce.max_dirty: unknown key"),
        ({"drop_caches": 4}, "must be 0, 1, 2 or 3"),
        ({"deadline_s": 0}, "0 < deadline_s"),
        ({"max_dirty_kb": "4M"}, "quiesce.max_dirty_kb: expected a number"),
        ({"drop_caches": True}, "quiesce.drop_caches: expected a number"),
    ],
)
def test_bad_quiesce_tables_name_the_key(table: dict, why: str, tmp_path: Path) -> None:
    src = (REPO / "workloads/seqread-xfs.toml").read_text()
    head, _, rest = src.partition("[quiesce]\n")
    body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in table.items())
    path = tmp_path / "seqread-xfs.toml"
    path.write_text(head + "[quiesce]\n" + body + "\n\n[params.size]" + rest.partition("[params.size]")[2])
    with pytest.raises(InputError, match=why) as e:
        load_workload(path)
    assert str(path) in str(e.value)


def test_storage_workloads_declare_a_rule_and_runs_record_it() -> None:
    for name in ("fio-dmcrypt", "seqread-xfs"):
        spec = load_workload(name).resolve("quick")
        assert spec.quiesce is not None and spec.to_json()["quiesce"]["max_dirty_kb"] > 0
        assert quiesce.rule_of(spec.to_json()) == spec.quiesce, "run.json's copy gives the same rule back"
    assert load_workload("seqread-xfs").quiesce.drop_caches == 0, "dropping caches would evict the file read"
    assert load_workload("memcached").resolve().to_json()["quiesce"] is None


class Stack:
    def __init__(self, gone: list[str]):
        self.gone = gone

    def missing(self) -> list[str]:
        return self.gone


class Driver:
    name = "fake"

    def __init__(self) -> None:
        self.prepared: list[int] = []

    def prepare(self, ctx: RunContext, iteration: int) -> None:
        self.prepared.append(iteration)


def _ctx(tmp_path: Path, warnings: list[str], stack: Stack | None = None) -> RunContext:
    ctx = RunContext({}, {}, tmp_path, None, lambda *a, **k: None, warnings.append)
    if stack is not None:
        ctx.state["stack"] = stack
    return ctx


def test_prepare_runs_the_driver_step_checks_the_stack_and_settles(tmp_path: Path) -> None:
    warnings: list[str] = []
    drv = Driver()
    state = quiesce.prepare(drv, _ctx(tmp_path, warnings, Stack([])), 4, quiesce.Rule(max_dirty_kb=10**9))
    assert drv.prepared == [4] and state is not None and state.met and warnings == []
    assert quiesce.prepare(drv, _ctx(tmp_path, warnings), 5, None) is None and drv.prepared == [4, 5]
    with pytest.raises(RunFailed, match=r"no longer as built \(mount /tmp/x/mnt\)"):
        quiesce.prepare(drv, _ctx(tmp_path, warnings, Stack(["mount /tmp/x/mnt"])), 6, None)


def test_prepare_warns_when_a_pass_starts_outside_the_state(tmp_path: Path) -> None:
    """Real /proc/meminfo with a threshold no host meets: the deadline passes, the run is told."""
    warnings: list[str] = []
    t0 = time.monotonic()
    state = quiesce.prepare(
        Driver(), _ctx(tmp_path, warnings), 7, quiesce.Rule(max_dirty_kb=0, deadline_s=0.1, poll_s=0.02)
    )
    assert state is not None
    if state.met:  # this host had nothing dirty at all: the rule was met honestly
        assert state.dirty_kb == 0 and state.writeback_kb == 0
        return
    assert state.note()["not_quiesced"] is True and time.monotonic() - t0 < 10
    assert len(warnings) == 1 and warnings[0].startswith("iteration 7 started outside the stated state")


def test_engine_records_the_quiesce_and_the_cv_summary(tmp_path: Path, monkeypatch) -> None:
    """boot-memory (real, cheap) given a [quiesce] table: every record carries the state at start, run.json
    the count and the within-boot CV, and the end-of-workload lines say both."""
    wl = tmp_path / "workloads"
    wl.mkdir()
    src = (REPO / "workloads/boot-memory.toml").read_text()
    (wl / "boot-memory.toml").write_text(
        src.replace("\n[params.max_uptime_s]", "\n[quiesce]\nmax_dirty_kb = 1000000000\n\n[params.max_uptime_s]")
    )
    monkeypatch.setenv("BENCHCTL_WORKLOADS", str(wl))
    monkeypatch.setenv("BENCHCTL_STATE_DIR", str(tmp_path / "state"))
    said: list[str] = []
    opts = engine.RunOptions(arm="a", iterations=3, results=tmp_path / "r", perf=False, echo=said.append)
    folder = engine.run_workload("boot-memory", opts)
    recs = [json.loads(x) for x in (folder.path / "records.jsonl").read_text().splitlines()]
    assert recs and all({"quiesce_s", "dirty_kb", "writeback_kb"} <= set(r["note"]) for r in recs)
    assert not any(r["note"].get("not_quiesced") for r in recs)
    man = json.loads((folder.path / "run.json").read_text())
    assert man["quiesce"]["iterations"] == 3 and man["quiesce"]["not_quiesced"] == []
    assert man["quiesce"]["rule"]["max_dirty_kb"] == 10**9
    total = man["variance"]["metrics"]["mem_total_kb"]
    assert total["n"] == 3 and total["cv_pct"] == 0.0, "MemTotal does not move within a boot"
    text = "\n".join(said)
    assert "within-boot CV (sd ddof=1 / mean) over 3 iterations" in text
    assert "0 of 3 iterations started outside it" in text
    start = next(i for i, line in enumerate(said) if line.startswith("benchctl: within-boot CV"))
    assert all(len(line) <= 72 for line in said[start:-1]), "the summary fits a 72-column mail"
