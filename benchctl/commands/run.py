"""`benchctl run`: a workload (or a suite) for N iterations on this boot."""

from __future__ import annotations

from pathlib import Path

import click

from benchctl.commands.common import out_option
from benchctl.errors import UsageError


class RunCommand(click.Command):
    """`run WORKLOAD --help` lists that workload's parameters (values for --set) and presets."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        words = [a for a in args if not a.startswith("-")]
        ctx.meta["workload"] = words[0] if words else None
        return super().parse_args(ctx, args)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from benchctl.errors import BenchctlError
        from benchctl.run.specs import list_workload_names, load_workload

        name = ctx.meta.get("workload")
        try:
            w = load_workload(name) if name else None
        except BenchctlError:
            w = None
        if w is None:
            with formatter.section("Workloads"):
                formatter.write_text(
                    f"{', '.join(list_workload_names())}; `benchctl run WORKLOAD --help` lists its parameters."
                )
            return
        with formatter.section(f"Parameters of {w.name} (--set KEY=VALUE)"):
            formatter.write_dl([(k, f"{p.help} [{p.type}, default {p.default!r}]") for k, p in w.params.items()])
        with formatter.section(f"Presets of {w.name} (--preset NAME)"):
            formatter.write_dl(
                [
                    (p.name, f"{p.iterations} iterations + {p.warmup} warm-up; {p.description}")
                    for p in w.presets.values()
                ]
            )


@click.command(name="run", cls=RunCommand)
@click.argument("workload", required=False)
@click.option("--arm", help="Label of this boot's kernel configuration (e.g. pte, block).  [required unless --resume]")
@click.option("--preset", help="Workload preset (quick: seconds; claim: sized as published).")
@click.option("--iterations", type=click.IntRange(1), help="Measured iterations (default: the preset's).")
@click.option("--warmup", type=click.IntRange(0), help="Unrecorded warm-up passes (default: the preset's).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override a workload parameter.")
@out_option(
    "Results root (default ./results): runs go to DIR/<host>/<run-id>/.",
    dest="output",
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option(
    "--resume",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Continue an interrupted run folder to its requested count (same boot only).",
)
@click.option("--suite", help="Run the workloads of workloads/suites/NAME.toml in order.")
@click.option("--no-perf", is_flag=True, help="Do not run perf stat around the measured window.")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="Take the fingerprint (boot id, kernel, linear map) from a recorded tree, as `benchctl env --root` "
    "does; the workloads still measure this system. For stand-in campaign test hosts.",
)
def command(
    workload: str | None,
    arm: str | None,
    preset: str | None,
    iterations: int | None,
    warmup: int | None,
    sets: tuple[str, ...],
    output: Path | None,
    resume: Path | None,
    suite: str | None,
    no_perf: bool,
    root: Path | None,
) -> None:
    """Run WORKLOAD (or --suite NAME) for N iterations on this boot.

    Results are written as they are produced; Ctrl-C stops cleanly (exit
    130) and says where they are. Exit codes: 3 bad input, 4 missing tool,
    5 host busy / too few resources, 1 the workload failed.
    """
    from benchctl.run import engine
    from benchctl.run.specs import parse_overrides

    opts = engine.RunOptions(
        arm=arm or "",
        preset=preset,
        iterations=iterations,
        warmup=warmup,
        overrides=parse_overrides(sets),
        results=output,
        perf=not no_perf,
        probe_root=root,
    )
    if resume is not None:
        if workload or suite or sets or preset:
            raise UsageError(
                "--resume DIR takes the workload, preset and overrides from DIR/run.json; "
                "give only --iterations/--warmup/--no-perf with it"
            )
        from benchctl.run.resume import resume as resume_run

        folder = resume_run(resume, opts)
        click.echo(folder.path)
        return
    if not arm:
        raise UsageError("--arm LABEL is required (the name of this boot's kernel configuration, e.g. pte or block)")
    if suite:
        if workload:
            raise UsageError("give either WORKLOAD or --suite NAME, not both")
        from benchctl.run.suite import run_suite

        folders = list(run_suite(suite, opts))
        for f in folders:
            click.echo(f.path)
        _next(folders[-1].path if folders else None, arm)
        return
    if not workload:
        raise UsageError("which workload? (see `benchctl workloads`), or --suite NAME")
    folder = engine.run_workload(workload, opts)
    click.echo(folder.path)
    _next(folder.path, arm)


def _next(path: Path | None, arm: str) -> None:
    """The next command: the other arm on its own boot, then analyze over the host's folder."""
    from benchctl.commands.common import next_analyze, say

    if path is not None:
        say(
            f"reboot into the other kernel and run the same with its --arm; then: {next_analyze(path.parent, arm)}",
            "next: ",
        )
