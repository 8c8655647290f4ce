"""Interrupts and crashes: SIGINT, SIGTERM and SIGKILL in every phase of every workload that runs here.

For each (workload, phase, signal): start a real run (tests/faults/hook.py
pauses it at the phase), deliver the real signal, then prove
- SIGINT/SIGTERM: exit 130 (or 0 when every iteration was already done),
  one message saying where the results are, and nothing of the run left on
  the host (probe.Scope.leftovers);
- SIGKILL: the folder is readable, `benchctl cleanup` removes everything and
  leaves alone hand-made look-alikes (a memcached on loopback, a loop device
  and a tmpfs named benchctl-*), then nothing is left;
- always: every record on disk at the moment of the signal is still there
  and exported, and `benchctl run --resume DIR` completes the run, after
  which nothing is left either.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from tests.faults import probe
from tests.faults.common import (
    Outcome,
    benchctl,
    check,
    export_rows,
    kept_records,
    make_decoys,
    read_records,
    run_dirs,
    scope,
    start,
    wait_for,
    wait_paused,
)
from tests.faults.registry import Skip, add

ITERATIONS = 2
WORKLOADS: dict[str, list[str]] = {
    "memcached": ["memcached", "--preset", "quick", "--set", "duration_s=1", "--set", "generator=memtier"],
    "seqread-xfs": ["seqread-xfs", "--preset", "quick"],
    "fio-dmcrypt": ["fio-dmcrypt", "--preset", "quick", "--set", "crypt=none"],
    "boot-memory": ["boot-memory", "--preset", "quick"],
}
# real dm-crypt / brd stacks: where the kernel has them (not on this machine: they skip, saying why)
KERNEL_STACKS = {
    "fio-dmcrypt (dm-crypt)": ["fio-dmcrypt", "--preset", "quick"],
    "fio-dmcrypt (brd, crypt=none)": [
        "fio-dmcrypt",
        "--preset",
        "quick",
        "--set",
        "crypt=none",
        "--set",
        "backing=brd",
    ],
}
NEEDS = {
    "memcached": ["memcached", "memtier_benchmark"],
    "seqread-xfs": ["xfs_io", "mkfs.xfs", "losetup"],
    "fio-dmcrypt": ["fio", "mkfs.ext4", "losetup"],
    "boot-memory": [],
}
PHASES = {"setup": "setup", "warmup": "warmup", "measure": f"measure:{ITERATIONS}", "teardown": "teardown"}
STORAGE_EXTRA = {"setup-partial": "setup@4", "teardown-partial": "teardown@1"}  # loop attached, not yet formatted
# while the measured tool itself runs (no pause: wait until it is alive, then signal); bigger fio so it lasts
INFLIGHT = {
    "memcached": ("memtier_benchmark", []),
    "fio-dmcrypt": ("fio", ["--set", "size=3G", "--set", "ramdisk_size=3600M"]),
    "seqread-xfs": ("xfs_io", ["--set", "size=2G", "--set", "bs=512"]),
}  # 4M preads: seconds
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}
# the terminal went away (ssh dropped, tmux killed): must stop as cleanly as SIGTERM
SIGHUP_PHASES = ("setup", "measure")
# CI subset: each signal, each phase and each workload at least once
FAST = {
    ("memcached", "measure", "SIGKILL"),
    ("seqread-xfs", "warmup", "SIGINT"),
    ("seqread-xfs", "setup", "SIGTERM"),
    ("fio-dmcrypt", "teardown", "SIGKILL"),
    ("fio-dmcrypt", "measure", "SIGINT"),
    ("boot-memory", "setup", "SIGKILL"),
}


def _kernel_stack_skip(name: str) -> None:
    from benchctl.run.storage import blockdev

    if "dm-crypt)" in name and not blockdev.has_device_mapper():
        raise Skip(
            "this kernel has no device-mapper (/dev/mapper/control, dm_mod): real dm-crypt runs in the "
            "nested VM (tests/vm)"
        )
    if "brd" in name and not blockdev.has_module("brd"):
        p = subprocess.run(["modprobe", "-n", "brd"], capture_output=True, timeout=30)
        if p.returncode != 0:
            raise Skip("the brd module is not available to this kernel: brd stacks run in the nested VM (tests/vm)")
        if blockdev.has_module("brd"):
            raise Skip("brd is already loaded by someone else: benchctl would (rightly) not use it")


def _requires(workload: str) -> None:
    if workload in KERNEL_STACKS:
        _kernel_stack_skip(workload)
        return
    missing = [p for p in NEEDS[workload] if shutil.which(p) is None]
    if missing:
        raise Skip(f"{', '.join(missing)} not installed (scripts/setup.sh installs them)")


def _tool_running(s: probe.Scope, tool: str) -> bool:
    return tool[:15] in probe.scoped_comms(s.token)


KNOB = "/proc/sys/vm/swappiness"  # harmless (no swap here); restored by the ledger whatever happens


def _check_phase(run_dir: Path, pause: str) -> None:
    """Cross-check the hook against the engine's own phase marker in run.json (when the engine writes one)."""
    import json

    want = {"setup": "setup", "warmup": "warmup", "measure": "measure", "inflight": "measure", "teardown": "teardown"}[
        pause.split("@")[0].split(":")[0]
    ]
    phase = json.loads((run_dir / "run.json").read_text()).get("phase")
    check(phase in (None, want), f"run.json says phase {phase!r} while the run is paused in {want}")


def signal_scenario(workload: str, phase: str, pause: str, signame: str, knob: bool = False) -> Outcome:
    _requires(workload)
    extra: list[str] = []
    knob_env: dict[str, str] = {}
    if knob:
        old = Path(KNOB).read_text().strip()
        knob_env["FAULTS_KNOB"] = f"{KNOB}={17 if old != '17' else 23}"
        try:
            return _signal_scenario(workload, phase, pause, signame, knob, extra, knob_env)
        finally:  # whatever the outcome, the machine gets its value back
            if Path(KNOB).read_text().strip() != old:
                Path(KNOB).write_text(old)
    if pause == "inflight":
        extra = INFLIGHT[workload][1]
    return _signal_scenario(workload, phase, pause, signame, knob, extra, knob_env)


def _signal_scenario(
    workload: str, phase: str, pause: str, signame: str, knob: bool, extra: list[str], knob_env: dict[str, str]
) -> Outcome:
    tool = INFLIGHT[workload][0] if pause == "inflight" else ""
    sig = {**SIGNALS, "SIGHUP": signal.SIGHUP}[signame]
    with scope(f"{workload}-{phase}-{signame}") as s:
        before = probe.snapshot()
        mark, hold = s.root / "mark", s.root / "hold"
        hold.touch()
        args = [
            "run",
            *(WORKLOADS.get(workload) or KERNEL_STACKS[workload]),
            *extra,
            "--arm",
            "faults",
            "--iterations",
            str(ITERATIONS),
            "--warmup",
            "1",
            "-o",
            str(s.results),
        ]
        proc = start(s, args, s.env(FAULTS_MARK=str(mark), FAULTS_PAUSE=pause, FAULTS_HOLD=str(hold), **knob_env))
        decoys = None
        try:

            def paused() -> bool:
                if proc.poll() is not None:
                    out, err = proc.communicate(timeout=30)
                    raise AssertionError(f"run ended (rc {proc.returncode}) before {pause}: {err[-600:]}")
                if pause == "inflight":
                    return (
                        mark.exists() and f"phase measure {ITERATIONS}" in mark.read_text() and _tool_running(s, tool)
                    )
                return mark.exists() and f"paused {pause}" in mark.read_text()

            wait_for(paused, 90, f"the run to reach {pause}")
            (run_dir,) = run_dirs(s.results)
            at_signal = read_records(run_dir)
            _check_phase(run_dir, pause)
            if knob:
                check(Path(KNOB).read_text().strip() != before.knobs[KNOB], "the knob was not changed by the run")
            proc.send_signal(sig)
            hold.unlink()
            out, err = proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=30)
        check("Traceback" not in err, f"traceback after {signame}:\n{err[-1500:]}")
        from benchctl.results.store import RunFolder, effective_status

        folder = RunFolder.open(run_dir)
        status = folder.manifest["status"]
        if sig == signal.SIGKILL:
            check(proc.returncode == -signal.SIGKILL, f"rc {proc.returncode} after SIGKILL")
            check(
                effective_status(folder.manifest) == "interrupted" or status == "complete",
                f"killed run shows status {status}/{effective_status(folder.manifest)}",
            )
            decoys = make_decoys(s)
            try:
                cl = benchctl(s, ["cleanup"])
                check(
                    cl.returncode == 0 and "Traceback" not in cl.stderr,
                    f"cleanup rc {cl.returncode}: {cl.stdout[-800:]} {cl.stderr[-800:]}",
                )
                check(not decoys.alive(), f"cleanup touched what it did not create: {decoys.alive()}")
                left = s.leftovers(before)
            finally:
                decoys.remove()
            removed = len([ln for ln in cl.stdout.splitlines() if " removed" in ln])
            how = f"killed; cleanup: {removed} removed, decoys intact"
        else:
            if phase.startswith("teardown"):
                check(proc.returncode in (0, 130), f"rc {proc.returncode} after {signame} in teardown: {err[-500:]}")
            else:
                check(proc.returncode == 130, f"rc {proc.returncode} after {signame} (want 130): {err[-500:]}")
            if proc.returncode == 130:
                check(str(run_dir) in err and "--resume" in err, f"no 'where the results are' message: {err[-500:]}")
                check(status == "interrupted", f"status {status} after {signame}")
            else:
                check(status == "complete", f"status {status} with rc 0")
            left = s.leftovers(before)
            how = f"rc {proc.returncode}, status {status}"
        after = read_records(run_dir)
        lost = len(set(at_signal) - set(kept_records(run_dir)))
        measured = [r for r in after if not r[4]]
        rows = export_rows(s, run_dir)
        check(len(rows) >= len(measured), f"export shows {len(rows)} rows, {len(measured)} records on disk")
        done_before = len({r[0] for r in measured})

        rs = benchctl(s, ["run", "--resume", str(run_dir), "--warmup", "0"])
        check(rs.returncode == 0, f"--resume rc {rs.returncode}: {rs.stderr[-800:]}")
        folder = RunFolder.open(run_dir)
        check(folder.manifest["status"] == "complete", f"after --resume: status {folder.manifest['status']}")
        check(
            folder.completed_iterations() == set(range(1, ITERATIONS + 1)),
            f"after --resume: iterations {sorted(folder.completed_iterations())}",
        )
        lost = max(lost, len(set(at_signal) - set(kept_records(run_dir))))
        left += [f"after resume: {x}" for x in s.leftovers(before)]
        return Outcome(
            leftovers=left, records_lost=lost, detail=f"{how}; {done_before}/{ITERATIONS} kept; resumed to {ITERATIONS}"
        )


def _register() -> None:
    for wl in WORKLOADS:
        phases = dict(PHASES)
        if wl in ("seqread-xfs", "fio-dmcrypt"):
            phases.update(STORAGE_EXTRA)
        if wl in INFLIGHT:
            phases[f"measure ({INFLIGHT[wl][0]} running)"] = "inflight"
        for ph, pause in phases.items():
            for sn in SIGNALS:
                add(
                    f"{wl} {sn} during {ph}",
                    "signals",
                    lambda wl=wl, ph=ph, pause=pause, sn=sn: signal_scenario(wl, ph, pause, sn),
                    fast=(wl, ph, sn) in FAST,
                )
        for ph in SIGHUP_PHASES:
            add(
                f"{wl} SIGHUP during {ph}",
                "signals",
                lambda wl=wl, ph=ph: signal_scenario(wl, ph, PHASES[ph], "SIGHUP"),
                fast=(wl, ph) == ("seqread-xfs", "measure"),
            )
    for ks in KERNEL_STACKS:
        for ph, pause in (("measure", PHASES["measure"]), ("setup-partial", STORAGE_EXTRA["setup-partial"])):
            for sn in SIGNALS:
                add(
                    f"{ks} {sn} during {ph}",
                    "signals",
                    lambda ks=ks, ph=ph, pause=pause, sn=sn: signal_scenario(ks, ph, pause, sn),
                )
    for sn in SIGNALS:
        add(
            f"boot-memory {sn} during measure, knob changed",
            "signals",
            lambda sn=sn: signal_scenario("boot-memory", "measure", PHASES["measure"], sn, knob=True),
            fast=sn == "SIGKILL",
        )


_register()


def suite_scenario(signame: str) -> Outcome:
    """`benchctl run --suite bbml2` (the README's main job) stopped inside its third workload."""
    for wl in ("memcached", "fio-dmcrypt", "seqread-xfs"):
        _requires(wl)
    sig = SIGNALS[signame]
    from benchctl.results.store import RunFolder, effective_status

    with scope(f"suite-{signame}") as s:
        before = probe.snapshot()
        mark, hold = s.root / "mark", s.root / "hold"
        hold.touch()
        proc = start(
            s,
            [
                "run",
                "--suite",
                "bbml2",
                "--preset",
                "quick",
                "--arm",
                "faults",
                "--set",
                "crypt=none",
                "--iterations",
                "2",
                "--warmup",
                "0",
                "-o",
                str(s.results),
            ],
            s.env(
                FAULTS_MARK=str(mark),
                FAULTS_PAUSE="measure:2",
                FAULTS_PAUSE_DRIVER="fio-dmcrypt",
                FAULTS_HOLD=str(hold),
            ),
        )
        try:
            wait_paused(proc, mark, "fio-dmcrypt in the suite", 120)
            at_signal = {d: read_records(d) for d in run_dirs(s.results)}
            proc.send_signal(sig)
            hold.unlink()
            out, err = proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=30)
        check("Traceback" not in err, err[-1500:])
        folders = {d: RunFolder.open(d).manifest for d in run_dirs(s.results)}
        check(len(folders) == 3, f"{len(folders)} run folders, want boot-memory, memcached, fio-dmcrypt")
        check("seqread-xfs" not in {m["workload"] for m in folders.values()}, "the suite went on after the signal")
        stopped = [d for d, m in folders.items() if effective_status(m) != "complete"]
        check(len(stopped) == 1 and folders[stopped[0]]["workload"] == "fio-dmcrypt", f"stopped: {stopped}")
        if sig == signal.SIGKILL:
            cl = benchctl(s, ["cleanup"])
            check(cl.returncode == 0, f"cleanup rc {cl.returncode}: {cl.stdout[-600:]}")
        else:
            check(proc.returncode == 130 and str(stopped[0]) in err, f"rc {proc.returncode}: {err[-400:]}")
        left = s.leftovers(before)
        for d in folders:
            export_rows(s, d)
        rs = benchctl(s, ["run", "--resume", str(stopped[0])])
        check(rs.returncode == 0, f"--resume rc {rs.returncode}: {rs.stderr[-600:]}")
        lost = sum(len(set(r) - set(kept_records(d))) for d, r in at_signal.items())
        left += [f"after resume: {x}" for x in s.leftovers(before)]
        return Outcome(
            leftovers=left,
            records_lost=lost,
            detail=f"2 workloads complete, fio-dmcrypt stopped and resumed; rc {proc.returncode}",
        )


for _sn in SIGNALS:
    add(f"suite bbml2 {_sn} during its fio-dmcrypt", "signals", lambda sn=_sn: suite_scenario(sn))


def double_interrupt(workload: str) -> Outcome:
    """Ctrl-C, then Ctrl-C again while benchctl is tearing down: teardown still completes."""
    _requires(workload)
    from benchctl.results.store import RunFolder

    with scope(f"double-{workload}") as s:
        before = probe.snapshot()
        mark, hold = s.root / "mark", s.root / "hold"
        hold.touch()
        proc = start(
            s,
            [
                "run",
                *WORKLOADS[workload],
                "--arm",
                "faults",
                "--iterations",
                str(ITERATIONS),
                "--warmup",
                "0",
                "-o",
                str(s.results),
            ],
            s.env(FAULTS_MARK=str(mark), FAULTS_PAUSE=f"measure:{ITERATIONS},teardown@1", FAULTS_HOLD=str(hold)),
        )
        try:
            wait_for(lambda: mark.exists() and f"paused measure:{ITERATIONS}" in mark.read_text(), 90, "iteration 2")
            (run_dir,) = run_dirs(s.results)
            at_signal = read_records(run_dir)
            proc.send_signal(signal.SIGINT)
            wait_for(lambda: "paused teardown@1" in mark.read_text(), 60, "teardown half-way")
            proc.send_signal(signal.SIGINT)
            proc.send_signal(signal.SIGTERM)
            hold.unlink()
            out, err = proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=30)
        check(proc.returncode == 130 and "Traceback" not in err, f"rc {proc.returncode}: {err[-800:]}")
        check(RunFolder.open(run_dir).manifest["status"] == "interrupted", "status not interrupted")
        left = s.leftovers(before)
        lost = len(set(at_signal) - set(kept_records(run_dir)))
        return Outcome(
            leftovers=left, records_lost=lost, detail="SIGINT, then SIGINT+SIGTERM mid-teardown: rc 130, clean"
        )


def new_run_after_kill() -> Outcome:
    """A run is SIGKILLed and the user starts a new one without `cleanup`: it works, warns, and cleanup
    afterwards still removes the dead run's resources (and only those)."""
    _requires("seqread-xfs")
    with scope("newrun") as s:
        before = probe.snapshot()
        mark, hold = s.root / "mark", s.root / "hold"
        hold.touch()
        proc = start(
            s,
            [
                "run",
                *WORKLOADS["seqread-xfs"],
                "--arm",
                "a",
                "--iterations",
                "1",
                "--warmup",
                "0",
                "-o",
                str(s.results),
            ],
            s.env(FAULTS_MARK=str(mark), FAULTS_PAUSE="setup", FAULTS_HOLD=str(hold)),
        )
        try:
            wait_paused(proc, mark, "setup", 90)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=60)
        dead = s.leftovers(before)
        check(dead, "the killed run left nothing: the scenario did not test anything")
        p = benchctl(
            s,
            [
                "run",
                *WORKLOADS["seqread-xfs"],
                "--arm",
                "b",
                "--iterations",
                "1",
                "--warmup",
                "0",
                "-o",
                str(s.results),
            ],
        )
        check(p.returncode == 0, f"new run after a kill: rc {p.returncode}: {p.stderr[-600:]}")
        check("benchctl cleanup" in p.stderr, "the new run did not mention the killed run's leftovers")
        check(set(s.leftovers(before)) == set(dead), "the new run changed the dead run's leftovers or left its own")
        cl = benchctl(s, ["cleanup"])
        check(cl.returncode == 0, f"cleanup rc {cl.returncode}: {cl.stdout[-600:]}")
        return Outcome(
            leftovers=s.leftovers(before),
            detail=f"new run ok with a warning; {len(dead)} leftovers of the dead run removed by cleanup",
        )


for _wl in ("seqread-xfs", "memcached"):
    add(
        f"{_wl} SIGINT, then SIGINT+SIGTERM during teardown",
        "signals",
        lambda wl=_wl: double_interrupt(wl),
        fast=_wl == "seqread-xfs",
    )
add("new run after a SIGKILL, without cleanup", "signals", new_run_after_kill, fast=True)


def partial_iteration(workload: str, signame: str) -> Outcome:
    """The signal lands between two records of one iteration: the iteration must not count as complete
    with metrics missing (resume would never measure them)."""
    _requires(workload)
    from benchctl.results.store import RunFolder

    with scope(f"partial-{workload}-{signame}") as s:
        before = probe.snapshot()
        mark, hold = s.root / "mark", s.root / "hold"
        hold.touch()
        spec = f"record:{ITERATIONS}@1"
        proc = start(
            s,
            [
                "run",
                *WORKLOADS[workload],
                "--arm",
                "faults",
                "--iterations",
                str(ITERATIONS),
                "--warmup",
                "0",
                "-o",
                str(s.results),
            ],
            s.env(FAULTS_MARK=str(mark), FAULTS_PAUSE=spec, FAULTS_HOLD=str(hold)),
        )
        try:
            wait_for(
                lambda: mark.exists() and f"paused {spec}" in mark.read_text(), 90, "the first record of iteration 2"
            )
            (run_dir,) = run_dirs(s.results)
            at_signal = read_records(run_dir)
            proc.send_signal(SIGNALS[signame])
            hold.unlink()
            proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=30)
        if signame == "SIGKILL":
            benchctl(s, ["cleanup"])
        rs = benchctl(s, ["run", "--resume", str(run_dir), "--warmup", "0"])
        check(rs.returncode == 0, f"--resume rc {rs.returncode}: {rs.stderr[-600:]}")
        recs, _ = RunFolder(run_dir, {}).records()
        metrics = {r["metric"] for r in recs if r["iteration"] == 1 and not r.get("warmup")}
        missing = {
            it: sorted(metrics - {r["metric"] for r in recs if r["iteration"] == it and not r.get("warmup")})
            for it in range(1, ITERATIONS + 1)
        }
        missing = {k: v for k, v in missing.items() if v}
        lost = len(set(at_signal) - set(kept_records(run_dir))) + sum(len(v) for v in missing.values())
        return Outcome(
            leftovers=s.leftovers(before),
            records_lost=lost,
            detail=(
                "every iteration has all its metrics after --resume"
                if not missing
                else f"iteration(s) counted complete with metrics missing: {missing}"
            ),
        )


for _wl in ("boot-memory", "memcached"):
    for _sn in ("SIGINT", "SIGKILL"):
        add(
            f"{_wl} {_sn} between two records of one iteration",
            "signals",
            lambda wl=_wl, sn=_sn: partial_iteration(wl, sn),
            fast=(_wl, _sn) == ("boot-memory", "SIGKILL"),
        )


def killed_resume() -> Outcome:
    """SIGKILL the run, then SIGKILL its --resume too; a second --resume still completes it."""
    _requires("seqread-xfs")
    from benchctl.results.store import RunFolder

    with scope("killed-resume") as s:
        before = probe.snapshot()
        kept_all = []
        run_dir = None
        for attempt, pause in enumerate(("measure:2", "measure:3")):
            mark, hold = s.root / f"mark{attempt}", s.root / f"hold{attempt}"
            hold.touch()
            args = (
                [
                    "run",
                    *WORKLOADS["seqread-xfs"],
                    "--arm",
                    "faults",
                    "--iterations",
                    "4",
                    "--warmup",
                    "0",
                    "-o",
                    str(s.results),
                ]
                if run_dir is None
                else ["run", "--resume", str(run_dir)]
            )
            proc = start(s, args, s.env(FAULTS_MARK=str(mark), FAULTS_PAUSE=pause, FAULTS_HOLD=str(hold)))
            try:
                wait_paused(proc, mark, pause, 90)
                (run_dir,) = run_dirs(s.results)
                kept_all = read_records(run_dir)
            finally:
                proc.send_signal(signal.SIGKILL)
                proc.communicate(timeout=60)
        rs = benchctl(s, ["run", "--resume", str(run_dir)])
        check(rs.returncode == 0, f"second --resume rc {rs.returncode}: {rs.stderr[-600:]}")
        m = RunFolder.open(run_dir).manifest
        check(
            m["status"] == "complete" and len(m.get("resumes", [])) == 2, f"{m['status']}, resumes {m.get('resumes')}"
        )
        lost = len(set(kept_all) - set(kept_records(run_dir)))
        return Outcome(
            leftovers=s.leftovers(before),
            records_lost=lost,
            detail="killed at iteration 2, its resume killed at 3; 2nd resume completed 4/4",
        )


add("--resume itself killed, then resumed again", "signals", killed_resume)


CRASHES = {
    "memcached server": ("memcached", "memcached", "memcached"),
    "memtier generator": ("memcached", "memtier_benchmark", "memtier_benchmark"),
    "fio": ("fio-dmcrypt", "fio", "fio"),
    "xfs_io": ("seqread-xfs", "xfs_io", "xfs_io"),
}


def tool_crash(what: str) -> Outcome:
    """A tool benchctl started dies under it (OOM killer, a bug): the run fails with one line, keeps
    what it measured, leaves nothing, and --resume completes it."""
    workload, comm, _ = CRASHES[what]
    _requires(workload)
    from benchctl.results.store import RunFolder

    with scope(f"crash-{comm}") as s:
        before = probe.snapshot()
        mark = s.root / "mark"
        extra = INFLIGHT.get(workload, ("", []))[1]
        proc = start(
            s,
            [
                "run",
                *WORKLOADS[workload],
                *extra,
                "--arm",
                "faults",
                "--iterations",
                str(ITERATIONS),
                "--warmup",
                "0",
                "-o",
                str(s.results),
            ],
            s.env(FAULTS_MARK=str(mark)),
        )
        try:
            wait_for(
                lambda: mark.exists() and f"phase measure {ITERATIONS}" in mark.read_text() and _tool_running(s, comm),
                120,
                f"{comm} in iteration {ITERATIONS}",
            )
            (run_dir,) = run_dirs(s.results)
            at_crash = read_records(run_dir)
            victims = [
                int(ln.split()[1].rstrip(":"))
                for ln in probe.scoped_processes(s.token)
                if Path(f"/proc/{ln.split()[1].rstrip(':')}/comm").exists()
                and Path(f"/proc/{ln.split()[1].rstrip(':')}/comm").read_text().strip() == comm[:15]
            ]
            check(victims, f"no {comm} to kill")
            for pid in victims:
                os.kill(pid, signal.SIGKILL)
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=30)
        check(
            proc.returncode == 1, f"rc {proc.returncode} after {comm} died (want 1, the workload failed): {err[-500:]}"
        )
        check("Traceback" not in err, err[-1500:])
        errs = [ln for ln in err.splitlines() if ln.startswith("benchctl: error:")]
        check(len(errs) == 1, f"want one error line, got {errs}")
        check(RunFolder.open(run_dir).manifest["status"] == "failed", "status is not failed")
        left = s.leftovers(before)
        rs = benchctl(s, ["run", "--resume", str(run_dir)])
        check(rs.returncode == 0, f"--resume rc {rs.returncode}: {rs.stderr[-500:]}")
        lost = len(set(at_crash) - set(kept_records(run_dir)))
        left += [f"after resume: {x}" for x in s.leftovers(before)]
        return Outcome(leftovers=left, records_lost=lost, detail=f"{errs[0][16:100]}; resumed")


for _what in CRASHES:
    add(f"{_what} killed under the run", "signals", lambda w=_what: tool_crash(w), fast=_what == "memcached server")
