"""The resource ledger and `cleanup`: remove what a dead run left, and only what is provably ours."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import deadline  # tests/support/deadline.py: waits with a deadline
import pytest

from benchctl.env.mounts import mounts_under
from benchctl.osutil.processes import ENV_TOKEN, boot_id, is_zombie, proc_start_time, process_identity
from benchctl.run.cleanup import cleanup
from benchctl.run.kinds import removal_order
from benchctl.run.ledger import Ledger


def _dead_owner(ledger: Ledger) -> None:
    """Make the ledger look like it belongs to a process that has exited."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait(timeout=60)
    ledger.data["owner"] = {"pid": p.pid, "start_time": 1, "boot_id": boot_id()}
    ledger.save()


def test_ledger_persists_before_creation_and_mirrors(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    led = Ledger.create("r1", state=tmp_path / "state", run_dir=run_dir)
    rid = led.add("tempdir", prefix="x")
    on_disk = json.loads(led.path.read_text())
    assert on_disk["resources"][0]["state"] == "planned"
    assert json.loads((run_dir / "resources.json").read_text())["resources"][0]["id"] == rid
    led.removed(rid)
    led.close()
    assert not led.path.exists(), "a closed ledger with nothing outstanding is deleted"
    assert json.loads((run_dir / "resources.json").read_text())["closed"] is True


def test_cleanup_kills_our_process_and_removes_tempdir(tmp_path):
    led = Ledger.create("r2", state=tmp_path)
    _, d = led.make_tempdir(parent=str(tmp_path))
    rid, env = led.add_process(["sleep", "60"])
    p = subprocess.Popen(["sleep", "60"], env=env)
    led.process_started(rid, p.pid)
    _dead_owner(led)
    report = cleanup(tmp_path)
    p.wait(timeout=5)
    actions = {r["kind"]: r["action"] for r in report}
    assert actions == {"process": "removed", "tempdir": "removed"}
    assert report[0]["kind"] == "process", "newest first"
    assert not d.exists()
    assert not led.path.exists()


def test_cleanup_refuses_process_without_our_token(tmp_path):
    led = Ledger.create("r3", state=tmp_path)
    p = subprocess.Popen(["sleep", "60"])  # not started with our environment token
    try:
        rid = led.add("process", token=f"{led.token}:r1", argv=["sleep", "60"])
        led.created(rid, pid=p.pid, start_time=proc_start_time(p.pid))
        _dead_owner(led)
        report = cleanup(tmp_path)
        assert report[0]["action"].startswith("refused"), report
        assert p.poll() is None, "a process that is not provably ours is never killed"
        assert led.path.exists(), "an unresolved ledger is kept"
    finally:
        p.kill()
        p.wait(timeout=10)


def test_cleanup_refuses_replaced_tempdir_and_reports_gone(tmp_path):
    led = Ledger.create("r4", state=tmp_path / "s")
    _, d = led.make_tempdir(parent=str(tmp_path))
    _, d2 = led.make_tempdir(parent=str(tmp_path))
    shutil.rmtree(d)
    os.mkdir(d)  # same name, different inode: not ours
    shutil.rmtree(d2)  # already gone
    _dead_owner(led)
    rows = cleanup(tmp_path / "s")
    by_path = {r["attrs"]["path"]: r["action"] for r in rows}
    assert by_path[str(d)].startswith("refused")
    assert by_path[str(d2)] == "already gone"
    assert d.exists()


def test_knob_restored_only_if_unchanged(tmp_path):
    k1, k2 = tmp_path / "k1", tmp_path / "k2"
    k1.write_text("old\n")
    k2.write_text("old\n")
    led = Ledger.create("r5", state=tmp_path / "s")
    led.set_knob(k1, "new")
    led.set_knob(k2, "new")
    k2.write_text("someone-else\n")
    _dead_owner(led)
    rows = {r["attrs"]["path"]: r["action"] for r in cleanup(tmp_path / "s")}
    assert rows[str(k1)] == "removed" and k1.read_text().strip() == "old"
    assert rows[str(k2)].startswith("refused") and k2.read_text().strip() == "someone-else"


def test_live_run_is_skipped_and_dry_run_changes_nothing(tmp_path):
    led = Ledger.create("r6", state=tmp_path / "s")
    _, d = led.make_tempdir(parent=str(tmp_path))
    # owner is this (live) test process; cleanup treats its own pid as dead-equivalent,
    # so fake a live foreign owner: our parent process
    led.data["owner"] = process_identity(os.getppid())
    led.save()
    assert cleanup(tmp_path / "s")[0]["action"].startswith("skipped: run still alive")
    _dead_owner(led)
    assert cleanup(tmp_path / "s", dry_run=True)[0]["action"] == "would remove"
    assert d.exists()


def test_unknown_kind_is_refused(tmp_path):
    led = Ledger.create("r7", state=tmp_path)
    led.add("no-such-kind", path="/x")
    _dead_owner(led)
    assert "no handler" in cleanup(tmp_path)[0]["action"]


def test_release_removes_leftovers_of_own_run(tmp_path):
    led = Ledger.create("r8", state=tmp_path / "s")
    _, d = led.make_tempdir(parent=str(tmp_path))
    rows = led.release()
    assert rows[0]["action"] == "removed" and not d.exists() and not led.path.exists()


def test_cleanup_command_prints_report(tmp_path):
    led = Ledger.create("r9", state=tmp_path / "s")
    _, d = led.make_tempdir(parent=str(tmp_path))
    _dead_owner(led)
    env = dict(os.environ, BENCHCTL_STATE_DIR=str(tmp_path / "s"))
    out = subprocess.run(
        [sys.executable, "-m", "benchctl", "cleanup", "--dry-run"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "would remove" in out.stdout and d.exists()
    out = subprocess.run(
        [sys.executable, "-m", "benchctl", "cleanup"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and "removed" in out.stdout and not d.exists()


def test_cleanup_finds_descendants_by_token(tmp_path):
    """A generator started by perf outlives perf's SIGKILL; it carries our token, so cleanup stops it."""
    led = Ledger.create("r10", state=tmp_path)
    rid, env = led.add_process(["sh", "-c", "sleep 60 & echo $!; wait"])
    pidfile = tmp_path / "child.pid"
    p = subprocess.Popen(["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"], env=env)
    led.process_started(rid, p.pid)
    child = int(
        deadline.poll_until(
            lambda: pidfile.exists() and pidfile.read_text().strip(), 30, "the shell writing its child's pid", proc=p
        )
    )
    p.kill()
    p.wait(timeout=10)
    assert proc_start_time(child) is not None, "the child survives its parent"
    _dead_owner(led)
    rows = cleanup(tmp_path)
    assert rows[0]["action"] == "removed"
    end = time.monotonic() + 5
    while time.monotonic() < end and proc_start_time(child) is not None and not is_zombie(child):
        time.sleep(0.05)
    assert proc_start_time(child) is None or is_zombie(child)


def test_tempdir_with_a_mount_inside_is_not_removed(tmp_path):
    led = Ledger.create("r11", state=tmp_path / "s")
    _, d = led.make_tempdir(parent=str(tmp_path))
    mnt = d / "mnt"
    mnt.mkdir()
    if deadline.run(["mount", "-t", "tmpfs", "-o", "size=1m", "benchctl-test", str(mnt)], timeout=60).returncode != 0:
        pytest.skip("cannot mount tmpfs here (not root?)")
    try:
        (mnt / "precious").write_text("not ours\n")
        _dead_owner(led)
        rows = cleanup(tmp_path / "s")
        assert rows[0]["action"].startswith("failed") and "mounted inside" in rows[0]["action"]
        assert (mnt / "precious").read_text() == "not ours\n"
    finally:
        deadline.run(["umount", str(mnt)], timeout=60)
    assert cleanup(tmp_path / "s")[0]["action"] == "removed" and not d.exists()


def test_mounts_under_decodes_escapes(tmp_path):
    (tmp_path / "proc" / "self").mkdir(parents=True)
    (tmp_path / "proc" / "self" / "mountinfo").write_text(
        "40 30 0:50 / /tmp/a\\040b/mnt rw,relatime - tmpfs tmpfs rw\n22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
    )
    assert mounts_under("/tmp/a b", tmp_path) == ["/tmp/a b/mnt"]
    assert mounts_under("/tmp/a", tmp_path) == []


def test_every_child_of_a_run_carries_the_token(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_TOKEN, raising=False)
    led = Ledger.create("r12", state=tmp_path / "s")
    rid, previous = led.mark_children()
    try:
        p = subprocess.Popen(["sleep", "60"])  # an ordinary subprocess.run/Popen of any driver
    finally:
        os.environ.pop(ENV_TOKEN, None)
    _, d = led.make_tempdir(parent=str(tmp_path))
    _dead_owner(led)
    rows = cleanup(tmp_path / "s")
    assert [r["kind"] for r in rows] == ["process", "tempdir"], "processes are stopped first"
    assert rows[0]["action"] == "removed" and p.wait(timeout=5) is not None
    assert previous == ""


def test_removal_order():
    es = [
        {"kind": "tempdir", "id": "r1"},
        {"kind": "process", "id": "r2"},
        {"kind": "mount", "id": "r3"},
        {"kind": "process", "id": "r4"},
    ]
    assert [e["id"] for e in removal_order(es)] == ["r4", "r2", "r3", "r1"]
