"""Live: SIGKILL and SIGINT in the middle of a memcached run."""

from __future__ import annotations

import json
import shutil
import signal

import deadline  # tests/support/deadline.py: waits with a deadline
import pytest
from live_helpers import (
    benchctl,
    live_processes_of,
    memcached_token_processes,
    needs_memcached,
    start,
    wait_for_folder,
)

from benchctl.results.store import RunFolder, effective_status

pytestmark = [pytest.mark.live, needs_memcached]
ARGS = ["run", "memcached", "--preset", "quick", "--arm", "sig", "--warmup", "0"]


def test_sigkill_leaves_readable_folder_then_cleanup_and_resume(tmp_path):
    res, state = tmp_path / "results", tmp_path / "state"
    proc = start([*ARGS, "--iterations", "3", "-o", str(res)], state)
    try:
        run_dir = wait_for_folder(res, 1)
    finally:
        proc.send_signal(signal.SIGKILL)
        deadline.communicate(proc, 30, "exit after SIGKILL")
    folder = RunFolder.open(run_dir)
    done = folder.completed_iterations()
    assert len(done) >= 1
    assert folder.manifest["status"] == "running" and effective_status(folder.manifest) == "interrupted"
    recs, skipped = folder.records()
    assert {r["iteration"] for r in recs if r["metric"] == "ops_per_sec"} >= done
    ex = benchctl(["export", str(run_dir)], state)
    assert ex.returncode == 0 and ",ops_per_sec," in ex.stdout and "interrupted" in ex.stderr

    cl = benchctl(["cleanup"], state)
    assert cl.returncode == 0, cl.stdout + cl.stderr
    assert live_processes_of(run_dir) == [] and memcached_token_processes(run_dir) == []
    assert not any((state / "ledgers").glob("*.json"))

    other_boot = tmp_path / "other-boot" / run_dir.name
    shutil.copytree(run_dir, other_boot)
    man = json.loads((other_boot / "run.json").read_text())
    man["boot_id"] = "00000000-0000-0000-0000-000000000000"
    (other_boot / "run.json").write_text(json.dumps(man))
    rb = benchctl(["run", "--resume", str(other_boot)], state)
    assert rb.returncode == 5 and "different replicate" in rb.stderr and "benchctl run memcached" in rb.stderr

    rs = benchctl(["run", "--resume", str(run_dir)], state)
    assert rs.returncode == 0, rs.stderr
    folder = RunFolder.open(run_dir)
    assert folder.manifest["status"] == "complete" and folder.manifest["iterations_done"] == 3
    assert len(folder.completed_iterations()) == 3 and folder.manifest["resumes"]
    assert memcached_token_processes(run_dir) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_stops_cleanly_and_says_where(tmp_path, sig):
    res, state = tmp_path / "results", tmp_path / "state"
    proc = start([*ARGS, "--iterations", "20", "-o", str(res)], state)
    try:
        run_dir = wait_for_folder(res, 1)
    finally:
        proc.send_signal(sig)
        out, err = deadline.communicate(proc, 60, f"benchctl's clean-up after {sig.name}")
    assert proc.returncode == 130, err
    assert sig.name in err
    assert str(run_dir) in err and "--resume" in err and "Traceback" not in err
    man = json.loads((run_dir / "run.json").read_text())
    assert man["status"] == "interrupted" and man["finished"]
    assert 1 <= man["iterations_done"] < 20
    assert (run_dir / "env-after.json").is_file()
    assert live_processes_of(run_dir) == [] and memcached_token_processes(run_dir) == []
    assert not any((state / "ledgers").glob("*.json")), "SIGINT removes everything; no ledger left"


def test_second_run_is_refused_while_one_runs(tmp_path):
    res, state = tmp_path / "results", tmp_path / "state"
    proc = start([*ARGS, "--iterations", "20", "-o", str(res)], state)
    try:
        run_dir = wait_for_folder(res, 0)
        p = benchctl([*ARGS, "--iterations", "1", "-o", str(tmp_path / "other")], state)
        assert p.returncode == 5
        assert run_dir.name in p.stderr and str(run_dir) in p.stderr and "pid" in p.stderr
        assert not list((tmp_path / "other").rglob("run.json"))
    finally:
        proc.send_signal(signal.SIGINT)
        deadline.communicate(proc, 60, "benchctl's clean-up after SIGINT")
