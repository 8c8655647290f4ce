"""`benchctl cleanup` after a SIGKILL refuses what it cannot prove is its own, even when the ledger points at it.

The killed run's ledger is left as the run wrote it, then the world changes
under it the way it does on a shared machine: the pid of the dead server
is now someone else's memcached (pid reuse, forged into the ledger), or the
run's mount point now holds somebody else's filesystem. Cleanup must leave
those alone, say so (exit 5), remove the rest, and a later cleanup -- once
the foreign thing is gone -- must finish the job.
"""

from __future__ import annotations

import json
import signal
import subprocess

from tests.faults import probe
from tests.faults.common import Outcome, benchctl, check, make_decoys, run_dirs, scope, start, wait_paused
from tests.faults.registry import add


def _killed_run(s: probe.Scope, workload: list[str], pause: str):
    mark, hold = s.root / "mark", s.root / "hold"
    hold.touch()
    proc = start(
        s,
        ["run", *workload, "--arm", "x", "--iterations", "2", "--warmup", "0", "-o", str(s.results)],
        s.env(FAULTS_MARK=str(mark), FAULTS_PAUSE=pause, FAULTS_HOLD=str(hold)),
    )
    try:
        wait_paused(proc, mark, pause, 90)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    (run_dir,) = run_dirs(s.results)
    (ledger,) = (s.state / "ledgers").glob("*.json")
    return run_dir, ledger


def pid_reuse() -> Outcome:
    from benchctl.osutil.processes import proc_start_time

    with scope("pidreuse") as s:
        before = probe.snapshot()
        run_dir, ledger = _killed_run(s, ["memcached", "--preset", "quick"], "measure:2")
        decoys = make_decoys(s)
        try:
            d = decoys.memcached.pid
            data = json.loads(ledger.read_text())
            procs = [e for e in data["resources"] if e["kind"] == "process"]
            check(procs, "no process in the ledger")
            for e in procs:  # the recorded pid now names the decoy; once with its real start time too
                e["state"] = "present"
                e["attrs"]["pid"] = d
            procs[0]["attrs"]["start_time"] = proc_start_time(d)
            ledger.write_text(json.dumps(data))
            cl = benchctl(s, ["cleanup"])
            check("Traceback" not in cl.stderr, cl.stderr[-800:])
            check(not decoys.alive(), f"cleanup killed a process it did not start: {decoys.alive()}")
        finally:
            decoys.remove()
        cl2 = benchctl(s, ["cleanup"])
        check(cl2.returncode == 0, f"second cleanup rc {cl2.returncode}: {cl2.stdout[-500:]}")
        return Outcome(
            leftovers=s.leftovers(before),
            detail=f"ledger pid -> decoy memcached {d} (same start time once): left alive (rc {cl.returncode})",
        )


def mount_replaced() -> Outcome:
    with scope("mountswap") as s:
        before = probe.snapshot()
        run_dir, ledger = _killed_run(s, ["seqread-xfs", "--preset", "quick"], "setup")
        data = json.loads(ledger.read_text())
        xfs = [
            e["attrs"]["path"] for e in data["resources"] if e["kind"] == "mount" and e["attrs"].get("fstype") == "xfs"
        ]
        check(xfs, "no xfs mount in the ledger")
        mnt = xfs[0]
        subprocess.run(["umount", mnt], check=True, timeout=60)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "someone-else", mnt], check=True, timeout=60)
        precious = f"{mnt}/precious"
        with open(precious, "w") as f:
            f.write("not benchctl's\n")
        try:
            cl = benchctl(s, ["cleanup"])
            check("Traceback" not in cl.stderr, cl.stderr[-800:])
            mounted = any(t == mnt for t, _, _ in probe.mounts())
            check(mounted, "cleanup unmounted a filesystem that is not its own")
            try:
                intact = open(precious).read() == "not benchctl's\n"
            except OSError:
                intact = False
            check(intact, "cleanup deleted files inside a filesystem that is not its own")
            check(
                cl.returncode == 5 and "refused" in cl.stdout,
                f"cleanup did not report the refusal: rc {cl.returncode}\n{cl.stdout}",
            )
        finally:
            subprocess.run(["umount", mnt], capture_output=True, timeout=60)
        cl2 = benchctl(s, ["cleanup"])
        check(cl2.returncode == 0, f"cleanup after the foreign mount left: rc {cl2.returncode}: {cl2.stdout[-600:]}")
        return Outcome(
            leftovers=s.leftovers(before),
            detail="foreign tmpfs on the run's mount point: kept with its files, refused (exit 5); "
            "rest removed; 2nd cleanup finished",
        )


def cleanup_killed() -> Outcome:
    """`benchctl cleanup` itself is SIGKILLed half-way; running it again finishes the job."""
    with scope("cleanupkill") as s:
        before = probe.snapshot()
        run_dir, ledger = _killed_run(s, ["seqread-xfs", "--preset", "quick"], "setup")
        mark, hold = s.root / "mark2", s.root / "hold2"
        hold.touch()
        cl = start(s, ["cleanup"], s.env(FAULTS_MARK=str(mark), FAULTS_PAUSE="cleanup@2", FAULTS_HOLD=str(hold)))
        try:
            wait_paused(cl, mark, "cleanup half-way", 60)
        finally:
            cl.send_signal(signal.SIGKILL)
            cl.communicate(timeout=60)
        half = s.leftovers(before)
        check(half, "nothing was left after killing cleanup half-way: the scenario did not hit the middle")
        cl2 = benchctl(s, ["cleanup"])
        check(cl2.returncode == 0, f"second cleanup rc {cl2.returncode}: {cl2.stdout[-600:]}")
        return Outcome(
            leftovers=s.leftovers(before),
            detail=f"killed after 2 entries ({len(half)} things left), 2nd cleanup removed the rest",
        )


def dry_run() -> Outcome:
    """`benchctl cleanup --dry-run` after a SIGKILL lists what it would remove and removes nothing."""
    with scope("dryrun") as s:
        before = probe.snapshot()
        _killed_run(s, ["seqread-xfs", "--preset", "quick"], "setup")
        left = s.leftovers(before)
        p = benchctl(s, ["cleanup", "--dry-run"])
        check(p.returncode == 0 and "would remove" in p.stdout, f"dry run rc {p.returncode}: {p.stdout[-500:]}")
        check(s.leftovers(before) == left, "--dry-run removed something")
        check(benchctl(s, ["cleanup"]).returncode == 0, "cleanup after the dry run failed")
        n = p.stdout.count("would remove")
        return Outcome(leftovers=s.leftovers(before), detail=f"dry run listed {n} resources, touched none")


add("cleanup --dry-run touches nothing", "cleanup", dry_run)
add("cleanup itself killed half-way, then run again", "cleanup", cleanup_killed)
add("cleanup: the dead server's pid now names another memcached", "cleanup", pid_reuse, fast=True)
add("cleanup: the run's mount point now holds another filesystem", "cleanup", mount_replaced, fast=True)
