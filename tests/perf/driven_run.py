"""A benchctl run driven one iteration at a time, for the overhead scripts.

Both overhead scripts interleave benchctl's own iterations with hand runs of
the same command on the same server or stack; this is the one place that
opens such a run (the engine's real start, setup, warm-up and finish) so the
scripts only say what a hand run is.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from benchctl.run import engine
from benchctl.run import counters
from benchctl.run.drivers.base import RunContext
from benchctl.env.fingerprint import collect
from benchctl.run.specs import load_workload


@contextlib.contextmanager
def driven_run(workload: str, overrides: dict[str, str], pairs: int, perf_on: bool, results: Path,
               *, check: bool = False) -> Iterator[tuple[object, RunContext]]:
    """Yield (run, ctx) after setup and one warm-up; `run._iteration(k)` measures iteration k."""
    spec = load_workload(workload).resolve("quick", overrides, iterations=pairs, warmup=1)
    opts = engine.RunOptions(arm="overhead", results=results, perf=perf_on, echo=lambda m: None)
    fp = collect()
    run = engine._new_run(spec, opts)
    run.start(fp, resume=False)
    status, error = "complete", None
    try:
        folder = run.folder
        run.ctx = ctx = RunContext(params=run.params, fingerprint=fp, run_dir=folder.path, ledger=run.ledger,
                                   log_command=folder.log_command, warn=lambda m: None)
        run.counters = counters.configure(fp, enabled=perf_on)
        if check:
            run.driver.check(ctx)
        run.driver.setup(ctx)
        ctx.state["iteration_dir"] = folder.raw_dir(1, warmup=True)
        run.driver.warmup(ctx, 1)
        yield run, ctx
    except BaseException as e:
        status, error = "failed", e
        raise
    finally:
        run._finish(status, error)


def alternate(k: int, ours, theirs):
    """(ours(), theirs()) run in ABAB order by k, so drift on the host hits both sides alike."""
    if k % 2:
        b = ours()
        return b, theirs()
    h = theirs()
    return ours(), h
