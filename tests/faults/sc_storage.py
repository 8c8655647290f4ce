"""The results folder fails under the run: full filesystem, read-only, deleted.

The results root is a real small tmpfs (full), a read-only bind mount, or a
folder the test deletes while the run is paused at a measured iteration.
What must hold: a one-line error that says what happened (no traceback, a
non-zero documented exit code), the records written before the fault stay
intact and readable, nothing half-written is taken for data, and the
run's block stack / server is still torn down (nothing left behind).
"""

from __future__ import annotations

import errno
import shutil
import signal
import subprocess
from pathlib import Path

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
    wait_paused,
)
from tests.faults.registry import add

WORKLOAD = ["seqread-xfs", "--preset", "quick"]  # a real block stack that must be torn down on the error path


def _fill(path: Path) -> None:
    """Write until ENOSPC (tmpfs: no reserved blocks, so the filesystem is then truly full)."""
    with open(path / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise
    k = 0
    while True:  # also use up the inodes' worth of small files? tmpfs counts blocks: one byte files still need a page
        try:
            (path / f"f{k}").write_bytes(b"x")
            k += 1
        except OSError:
            break


def _small_tmpfs(s: probe.Scope, name: str, size: str = "2m") -> Path:
    p = s.root / "mnt" / name
    p.mkdir(parents=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "faults-small", str(p)], check=True, timeout=60
    )
    s.exclude_paths.add(str(s.root / "mnt"))
    return p


def _ro_bind(s: probe.Scope, name: str) -> tuple[Path, Path]:
    src = s.root / "mnt-src" / name
    dst = s.root / "mnt" / name
    src.mkdir(parents=True)
    dst.mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(src), str(dst)], check=True, timeout=60)
    s.exclude_paths.add(str(s.root / "mnt"))
    return src, dst


def _ro(dst: Path) -> None:
    subprocess.run(["mount", "-o", "remount,bind,ro", str(dst)], check=True, timeout=60)


def _umount(p: Path) -> None:
    subprocess.run(["umount", str(p)], capture_output=True, timeout=60)


def _expect_clean_error(p, what: str) -> str:
    check(p.returncode not in (0, 130), f"{what}: rc {p.returncode}, expected an error")
    line = one_line_error(p)
    return line


def at_start(kind: str) -> Outcome:
    """The results root is unusable before the run starts."""
    with scope(f"storage-{kind}") as s:
        before = probe.snapshot()
        if kind == "full":
            root = _small_tmpfs(s, "full", "1m")
            _fill(root)
        else:
            _, root = _ro_bind(s, "ro")
            _ro(root)
        try:
            p = benchctl(s, ["run", *WORKLOAD, "--arm", "faults", "-o", str(root / "results")])
            line = _expect_clean_error(p, kind)
            check(str(root) in line, f"the error does not name the results folder: {line}")
            half = [d for d in run_dirs(root)] + [
                d
                for d in (root / "results").rglob("*")
                if d.is_dir() and d.parent.parent == root / "results" and not (d / "run.json").exists()
            ]
            check(not half, f"half-created run folder left: {half}")
            left = s.leftovers(before)
        finally:
            _umount(root)
        return Outcome(leftovers=left, detail=f"rc {p.returncode}: {line[:90]}")


def mid_run(kind: str) -> Outcome:
    """The results folder breaks while iteration 2 is about to be measured."""
    with scope(f"storage-mid-{kind}") as s:
        before = probe.snapshot()
        if kind == "full":
            root = _small_tmpfs(s, "full", "4m")
        elif kind == "read-only":
            _, root = _ro_bind(s, "ro")
        else:
            root = s.results
        mark, hold = s.root / "mark", s.root / "hold"
        hold.touch()
        proc = start(
            s,
            ["run", *WORKLOAD, "--arm", "faults", "--iterations", "3", "--warmup", "0", "-o", str(root / "results")],
            s.env(FAULTS_MARK=str(mark), FAULTS_PAUSE="measure:2", FAULTS_HOLD=str(hold)),
        )
        try:
            wait_paused(proc, mark, "iteration 2", 90)
            (run_dir,) = run_dirs(root / "results")
            kept = read_records(run_dir)
            if kind == "full":
                _fill(root)
            elif kind == "read-only":
                _ro(root)
            else:
                shutil.rmtree(run_dir)
            hold.unlink()
            out, err = proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.communicate(timeout=30)
        p = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        try:
            line = _expect_clean_error(p, kind)
            left = s.leftovers(before)
            lost = 0
            if kind != "deleted":
                lost = len(set(kept) - set(kept_records(run_dir)))
                ex = benchctl(s, ["export", str(run_dir)])
                check(ex.returncode == 0 and "Traceback" not in ex.stderr, f"export: {ex.stderr[-600:]}")
                rows = [r for r in ex.stdout.splitlines()[1:] if r]
                measured = [r for r in kept if not r[4]]
                check(len(rows) >= len(measured), f"export has {len(rows)} rows, {len(measured)} were written")
                tmp = [p.name for p in run_dir.rglob("*.tmp")]
                check(not tmp, f"half-written temporary files left in the run folder: {tmp}")
        finally:
            if root != s.results:
                _umount(root)
        return Outcome(leftovers=left, records_lost=lost, detail=f"rc {p.returncode}: {line[:90]}")


def state_dir_fault(kind: str, when: str) -> Outcome:
    """The state dir (ledgers, host lock) is full or read-only, before the run or while it runs."""
    with scope(f"state-{kind}-{when}") as s:
        before = probe.snapshot()
        if kind == "full":
            state = _small_tmpfs(s, "state", "1m")
        else:
            _, state = _ro_bind(s, "state")
        env_state = str(state / "benchctl")
        mark, hold = s.root / "mark", s.root / "hold"
        try:
            if when == "at start":
                if kind == "full":
                    _fill(state)
                else:
                    _ro(state)
                p = benchctl(
                    s,
                    ["run", *WORKLOAD, "--arm", "faults", "-o", str(s.results)],
                    env=s.env(BENCHCTL_STATE_DIR=env_state),
                )
                line = _expect_clean_error(p, kind)
                check(not run_dirs(s.results), "a run folder was created although no ledger could be kept")
                check(str(state) in line, f"the error does not name the state directory {state}: {line}")
                lost = 0
            else:
                hold.touch()
                proc = start(
                    s,
                    ["run", *WORKLOAD, "--arm", "faults", "--iterations", "3", "--warmup", "0", "-o", str(s.results)],
                    s.env(
                        BENCHCTL_STATE_DIR=env_state,
                        FAULTS_MARK=str(mark),
                        FAULTS_PAUSE="measure:2",
                        FAULTS_HOLD=str(hold),
                    ),
                )
                try:
                    wait_paused(proc, mark, "iteration 2", 90)
                    (run_dir,) = run_dirs(s.results)
                    kept = read_records(run_dir)
                    if kind == "full":
                        _fill(state)
                    else:
                        _ro(state)
                    hold.unlink()
                    out, err = proc.communicate(timeout=90)
                finally:
                    if proc.poll() is None:
                        proc.send_signal(signal.SIGKILL)
                        proc.communicate(timeout=30)
                p = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
                check("Traceback" not in err, f"traceback:\n{err[-1500:]}")
                line = (err.strip().splitlines() or [""])[-1]
                lost = len(set(kept) - set(kept_records(run_dir)))
            left = [x for x in s.leftovers(before) if not x.startswith("ledger ")]
        finally:
            _umount(state)
        return Outcome(leftovers=left, records_lost=lost, detail=f"rc {p.returncode}: {line[:90]}")


add("results on a full filesystem (at start)", "storage", lambda: at_start("full"), fast=True)
add("results on a read-only filesystem (at start)", "storage", lambda: at_start("read-only"))
add("results filesystem fills mid-run", "storage", lambda: mid_run("full"), fast=True)
add("results filesystem turns read-only mid-run", "storage", lambda: mid_run("read-only"))
add("results folder deleted mid-run", "storage", lambda: mid_run("deleted"), fast=True)
add("state dir on a full filesystem (at start)", "storage", lambda: state_dir_fault("full", "at start"))
add("state dir read-only (at start)", "storage", lambda: state_dir_fault("read-only", "at start"))
add("state dir fills mid-run", "storage", lambda: state_dir_fault("full", "mid-run"), fast=True)
# (a state dir cannot be remounted read-only mid-run: the kernel refuses while the host lock is open for writing)


def torn_then_resume(workload: list[str]) -> Outcome:
    """A killed run left half a record (a short write on a full disk, a crash); --resume must not glue
    its first new record onto that fragment."""
    from benchctl.results.store import RunFolder

    with scope("torn-resume") as s:
        before = probe.snapshot()
        mark, hold = s.root / "mark", s.root / "hold"
        hold.touch()
        proc = start(
            s,
            ["run", *workload, "--arm", "faults", "--iterations", "3", "--warmup", "0", "-o", str(s.results)],
            s.env(FAULTS_MARK=str(mark), FAULTS_PAUSE="measure:2", FAULTS_HOLD=str(hold)),
        )
        try:
            wait_paused(proc, mark, "iteration 2", 90)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=60)
        (run_dir,) = run_dirs(s.results)
        rec = run_dir / "records.jsonl"
        kept = read_records(run_dir)
        metrics = {r[1] for r in kept if not r[4]}
        with open(rec, "ab") as f:
            f.write(rec.read_bytes().splitlines()[-1][:40])  # the start of a record, no newline
        cl = benchctl(s, ["cleanup"])
        check(cl.returncode == 0, f"cleanup rc {cl.returncode}")
        rs = benchctl(s, ["run", "--resume", str(run_dir)])
        check(rs.returncode == 0, f"--resume rc {rs.returncode}: {rs.stderr[-600:]}")
        folder = RunFolder.open(run_dir)
        recs, skipped = folder.records()
        per_it = {it: {r["metric"] for r in recs if r["iteration"] == it and not r.get("warmup")} for it in (1, 2, 3)}
        missing = {it: sorted(metrics - m) for it, m in per_it.items() if metrics - m}
        lost = len(set(kept) - set(kept_records(run_dir))) + sum(len(v) for v in missing.values())
        ex = benchctl(s, ["export", str(run_dir)])
        check(ex.returncode == 0, f"export rc {ex.returncode}")
        detail = (
            f"torn fragment skipped ({len(skipped)} line), iterations 1-3 complete with {len(metrics)} metrics each"
            if not missing
            else f"records missing after --resume over a torn line: {missing}"
        )
        return Outcome(leftovers=s.leftovers(before), records_lost=lost, detail=detail)


add(
    "torn last record, then --resume",
    "storage",
    lambda: torn_then_resume(["boot-memory", "--preset", "quick"]),
    fast=True,
)
