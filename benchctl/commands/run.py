"""`benchctl run`: a workload (or a suite) for N iterations on this boot."""

from __future__ import annotations

from pathlib import Path

import click

from benchctl.errors import UsageError


@click.command(name="run")
@click.argument("workload", required=False)
@click.option("--arm", help="Label of this boot's kernel configuration (e.g. pte, block).")
@click.option("--preset", help="Workload preset (quick: seconds; claim: sized as published).")
@click.option("--iterations", type=click.IntRange(1), help="Measured iterations (default: the preset's).")
@click.option("--warmup", type=click.IntRange(0), help="Unrecorded warm-up passes (default: the preset's).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a workload parameter.")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Results root (default ./results): runs go to DIR/<host>/<run-id>/.")
@click.option("--resume", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Continue an interrupted run folder to its requested count (same boot only).")
@click.option("--suite", help="Run the workloads of workloads/suites/NAME.toml in order.")
@click.option("--no-perf", is_flag=True, help="Do not run perf stat around the measured window.")
def command(workload: str | None, arm: str | None, preset: str | None, iterations: int | None,
            warmup: int | None, sets: tuple[str, ...], output: Path | None, resume: Path | None,
            suite: str | None, no_perf: bool) -> None:
    """Run WORKLOAD (or --suite NAME) for N iterations on this boot.

    Results are written as they are produced; Ctrl-C stops cleanly (exit
    130) and says where they are. Exit codes: 3 bad input, 4 missing tool,
    5 host busy / too few resources, 1 the workload failed.
    """
    from benchctl.run import engine
    from benchctl.run.specs import parse_overrides

    opts = engine.RunOptions(arm=arm or "", preset=preset, iterations=iterations, warmup=warmup,
                             overrides=parse_overrides(sets), results=output, perf=not no_perf)
    if resume is not None:
        if workload or suite or sets or preset:
            raise UsageError("--resume DIR takes the workload, preset and overrides from DIR/run.json; "
                             "give only --iterations/--warmup/--no-perf with it")
        folder = engine.resume(resume, opts)
        click.echo(folder.path)
        return
    if not arm:
        raise UsageError("--arm LABEL is required (the name of this boot's kernel configuration, e.g. pte or block)")
    if suite:
        if workload:
            raise UsageError("give either WORKLOAD or --suite NAME, not both")
        for f in engine.run_suite(suite, opts):
            click.echo(f.path)
        return
    if not workload:
        raise UsageError("which workload? (see `benchctl workloads`), or --suite NAME")
    folder = engine.run_workload(workload, opts)
    click.echo(folder.path)
