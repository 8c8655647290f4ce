"""`benchctl run --resume DIR`: continue a run to its requested count, on the same boot only.

Iterations from another boot are another replicate, so a run measured on
one boot is never continued on the next. Before appending, what a killed
run left is cleaned up (run/cleanup.py) and its torn or half-written records
are set aside (RunFolder.set_aside_partial); the iterations they belonged
to are measured again.
"""

from __future__ import annotations

from pathlib import Path

from benchctl.errors import InputError, ResourceError
from benchctl.osutil.processes import identity_alive
from benchctl.results.store import RunFolder
from benchctl.run import hygiene
from benchctl.run.cleanup import cleanup
from benchctl.run.engine import Run, RunOptions, take_fingerprint


def resume(run_dir: Path, opts: RunOptions) -> RunFolder:
    """`benchctl run --resume DIR`: continue a run to its requested count, on the same boot only."""
    planted = [
        p
        for p in [
            Path(run_dir),
            *(
                Path(run_dir) / n
                for n in (
                    "run.json",
                    "records.jsonl",
                    "commands.jsonl",
                    "env-before.json",
                    "env-after.json",
                    "kmsg.txt",
                    "resources.json",
                    "records.set-aside.jsonl",
                    "raw",
                )
            ),
        ]
        if p.is_symlink()
    ]
    if planted:  # root would write through it to wherever it points
        raise ResourceError(f"refusing to resume {run_dir}: {planted[0]} is a symlink")
    folder = RunFolder.open(run_dir)
    m = folder.manifest
    if m.get("imported") or m.get("simulated") or m.get("status") in ("imported", "simulated"):
        raise InputError(f"run {m.get('run_id')} is {m.get('status')}: only measured runs can be resumed", run_dir)
    owner = m.get("owner") or {}
    if m.get("status") == "running" and identity_alive(owner):
        raise ResourceError(f"run {m['run_id']} is still running (pid {owner.get('pid')}); it cannot be resumed twice")
    fp = take_fingerprint(opts)
    here = (fp.get("boot") or {}).get("id")
    if m.get("boot_id") and here and m["boot_id"] != here:
        raise ResourceError(
            f"run {m['run_id']} was measured on boot {m['boot_id']}, this is boot {here}: iterations from another "
            f"boot are a different replicate, so the run cannot be continued. Start a new run on this boot: "
            f"benchctl run {m['workload']} --arm {m['arm']} --preset {m.get('preset')}"
        )
    requested = opts.iterations or int(m.get("iterations_requested") or 0)
    if len(folder.whole_iterations()) >= requested and m.get("status") == "complete":
        opts.echo(f"benchctl: run {m['run_id']} is already complete ({requested} iterations); nothing to do")
        return folder
    rows = cleanup(opts.state_dir)
    for r in rows:
        if r["action"] not in ("already gone",):
            opts.echo(
                f"benchctl: cleanup before resume: {r['kind']} {r['attrs'].get('pid') or r['attrs'].get('path') or ''}"
                f" {r['action']}"
            )
    opts.arm = m["arm"]
    spec_json = m.get("spec") or {}
    if not spec_json.get("driver"):
        raise InputError("run.json has no spec.driver; cannot resume", run_dir)
    complete = folder.whole_iterations()
    moved = folder.set_aside_partial(complete)
    if moved:
        opts.echo(
            f"benchctl: {moved} record line(s) of unfinished iterations or torn writes moved to "
            f"records.set-aside.jsonl; those iterations are measured again"
        )
        folder.warn(f"resume: {moved} record line(s) set aside in records.set-aside.jsonl (torn or partial iteration)")
    folder.update(iterations_done=len(complete), completed_iterations=sorted(complete))
    run = Run(opts, spec_json, dict(spec_json.get("params") or {}), folder=folder)
    run.iterations = requested
    run.warmups = opts.warmup if opts.warmup is not None else int(m.get("warmup") or 0)
    run.overrides = m.get("overrides") or {}
    run.pre_warnings = hygiene.check(fp, int(spec_json.get("min_memory_mb") or 0))
    opts.echo(f"benchctl: resuming {m['run_id']}: {len(complete)} of {requested} done")
    return run.execute(fp, resume=True)
