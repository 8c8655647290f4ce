"""`benchctl run --suite NAME`: a suite's workloads in order on this boot, one folder each, one host lock."""

from __future__ import annotations

from benchctl.errors import BenchctlError, Interrupted, RunFailed
from benchctl.results.store import RunFolder, new_run_id
from benchctl.run.engine import DEFAULT_RESULTS, RunOptions, run_workload
from benchctl.run.hostlock import HostLock
from benchctl.run.specs import load_suite


def run_suite(name: str, opts: RunOptions) -> list[RunFolder]:
    """`benchctl run --suite NAME`: the suite's workloads in order, one folder each, one boot, one lock."""
    suite = load_suite(name)
    specs = suite.resolve(opts.preset, opts.overrides, iterations=opts.iterations, warmup=opts.warmup)
    lock = HostLock(opts.state_dir)
    lock.acquire(f"suite-{suite.name}", opts.results or DEFAULT_RESULTS)
    folders: list[RunFolder] = []
    failed: list[str] = []
    suite_id = new_run_id(f"suite-{suite.name}", opts.arm)
    try:
        for i, spec in enumerate(specs, 1):
            opts.echo(f"benchctl: suite {suite.name}: {i}/{len(specs)} {spec.workload.name}")
            opts.suite = {"name": suite.name, "id": suite_id, "index": i, "of": len(specs)}
            try:
                folders.append(run_workload(spec.workload.name, opts, lock=lock, spec=spec))
            except Interrupted:
                raise
            except BenchctlError as e:
                opts.echo(f"benchctl: error: {spec.workload.name}: {e}")
                failed.append(spec.workload.name)
    finally:
        lock.release()
    boots = {f.manifest.get("boot_id") for f in folders}
    opts.echo(f"benchctl: suite {suite.name}: {len(folders)} run folder(s) on boot {', '.join(map(str, boots))}:")
    for f in folders:
        opts.echo(f"  {f.path}")
    if failed:
        raise RunFailed(f"suite {suite.name}: {', '.join(failed)} failed (the other runs are kept)")
    return folders
