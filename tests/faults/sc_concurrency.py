"""Concurrency: two benchctl runs on one host at once cannot corrupt each other.

Run A is a real seqread-xfs run (block stack mounted) paused at a measured
iteration. While it holds the host, a second run, a second `--resume` of
A's folder, and `benchctl cleanup` are started: the runs are refused with a
message naming A (run id, pid, folder), cleanup skips A's live resources,
and A then finishes with all its records and nothing left behind.
"""

from __future__ import annotations

import json
import signal

from tests.faults import probe
from tests.faults.common import (
    Outcome,
    benchctl,
    check,
    kept_records,
    one_line_error,
    read_records,
    run_dirs,
    scope,
    start,
    wait_for,
    wait_paused,
)
from tests.faults.registry import add

A = ["seqread-xfs", "--preset", "quick", "--iterations", "2", "--warmup", "0"]


def two_runs() -> Outcome:
    with scope("concurrency") as s:
        before = probe.snapshot()
        mark, hold = s.root / "mark", s.root / "hold"
        hold.touch()
        pa = start(
            s,
            ["run", *A, "--arm", "a", "-o", str(s.results / "a")],
            s.env(FAULTS_MARK=str(mark), FAULTS_PAUSE="measure:2", FAULTS_HOLD=str(hold)),
        )
        try:
            wait_paused(pa, mark, "run A at iteration 2", 90)
            (a_dir,) = run_dirs(s.results / "a")
            a_records = read_records(a_dir)
            led_a = json.loads((a_dir / "resources.json").read_text())
            mounts_a = {e["attrs"]["path"] for e in led_a["resources"] if e["kind"] == "mount"}

            for what, argv in (
                ("second run", ["run", *A, "--arm", "b", "-o", str(s.results / "b")]),
                ("other workload", ["run", "boot-memory", "--arm", "b", "-o", str(s.results / "b")]),
                ("second resume", ["run", "--resume", str(a_dir)]),
            ):
                p = benchctl(s, argv)
                check(p.returncode == 5, f"{what}: rc {p.returncode} (want 5): {p.stderr[-500:]}")
                msg = one_line_error(p)
                if what != "second resume":
                    check(
                        a_dir.name in msg and str(pa.pid) in msg and str(a_dir) in msg,
                        f"{what}: the message does not name run A (id, pid, folder): {msg}",
                    )
                else:
                    check(str(pa.pid) in msg, f"{what}: {msg}")
            check(not run_dirs(s.results / "b"), "a refused run created a run folder")

            cl = benchctl(s, ["cleanup"])
            check(
                cl.returncode == 0 and "skipped: run still alive" in cl.stdout,
                f"cleanup during run A: rc {cl.returncode}: {cl.stdout[-600:]}",
            )
            live = {t for t, _, _ in probe.mounts()}
            check(mounts_a <= live, f"cleanup removed live run A's mounts: {sorted(mounts_a - live)}")
            check(read_records(a_dir) == a_records, "run A's records changed while it was paused")
            hold.unlink()
            out, err = pa.communicate(timeout=90)
        finally:
            if pa.poll() is None:
                pa.send_signal(signal.SIGKILL)
                pa.communicate(timeout=30)
        check(pa.returncode == 0, f"run A after the attempts: rc {pa.returncode}: {err[-500:]}")
        lost = len(set(a_records) - set(kept_records(a_dir)))
        man = json.loads((a_dir / "run.json").read_text())
        check(man["status"] == "complete" and man["iterations_done"] == 2, f"run A: {man['status']}")
        return Outcome(
            leftovers=s.leftovers(before),
            records_lost=lost,
            detail="2nd run, other workload, 2nd resume: exit 5 naming A; cleanup skipped A; A complete",
        )


add("two runs on one host at once", "concurrency", two_runs, fast=True)


def port_taken() -> Outcome:
    """--set port=P where someone else's memcached already listens: refuse, never measure their server."""
    import shutil
    import subprocess

    from tests.faults.common import free_port
    from tests.faults.registry import Skip

    if not shutil.which("memcached"):
        raise Skip("memcached not installed")
    with scope("port") as s:
        before = probe.snapshot()
        port = free_port()
        theirs = subprocess.Popen(
            ["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "16", "-u", "root"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        s.exclude_pids.add(theirs.pid)
        try:
            wait_for(
                lambda: any(
                    c
                    for c in __import__("psutil").net_connections("tcp")
                    if c.laddr and c.laddr.port == port and c.status == "LISTEN"
                ),
                10,
                "their memcached",
            )
            p = benchctl(
                s,
                [
                    "run",
                    "memcached",
                    "--preset",
                    "quick",
                    "--iterations",
                    "1",
                    "--warmup",
                    "0",
                    "--set",
                    f"port={port}",
                    "--arm",
                    "x",
                    "-o",
                    str(s.results),
                ],
            )
            check(
                p.returncode not in (0, 130),
                f"benchctl measured someone else's memcached on port {port} (rc {p.returncode})",
            )
            msg = one_line_error(p)
            recs = [r for d in run_dirs(s.results) for r in read_records(d)]
            check(not recs, f"{len(recs)} records measured against someone else's server")
            check(theirs.poll() is None, "their memcached was stopped")
            left = s.leftovers(before)
        finally:
            theirs.kill()
            theirs.wait(timeout=10)
        return Outcome(
            leftovers=left, detail=f"port {port} taken: rc {p.returncode} ({msg[16:80]}), no records, theirs untouched"
        )


add("memcached port already taken by another server", "concurrency", port_taken)
