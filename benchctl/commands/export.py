"""`benchctl export`: run folders as the tidy table (CSV or JSON) that analyze also reads."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command(name="export")
@click.argument("dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here (atomically) instead of standard output.")
def command(dirs: tuple[Path, ...], fmt: str, output: Path | None) -> None:
    """Write run folders (or folders holding them) as a tidy table:
    arm, host, boot, run, workload, iteration, metric, value, unit (+ t, simulated, note).
    Warm-up records are left out; unreadable lines are skipped and reported on stderr.
    """
    from benchctl.results.store import RunFolder, effective_status
    from benchctl.errors import InputError
    from benchctl.results.loader import load_runs
    from benchctl.results.table import COLUMNS, OPTIONAL, summarize_skipped, write_tidy

    tidy = load_runs(dirs)
    for line in summarize_skipped(tidy.skipped):
        click.echo(f"benchctl: skipped: {line}", err=True)
    for b in tidy.boots:
        try:
            status = effective_status(RunFolder.open(Path(b.source)).manifest)
        except InputError:
            continue
        if status not in ("complete", "imported", "simulated"):
            click.echo(f"benchctl: note: run {b.run} is {status} ({b.source})", err=True)
    if output is not None:
        from benchctl.errors import ResourceError

        try:
            write_tidy(tidy.df, output, fmt)
        except OSError as e:
            raise ResourceError(f"cannot write {output} ({e.strerror or e})") from None
        click.echo(f"{len(tidy.df)} rows -> {output}", err=True)
        return
    df = tidy.df[[c for c in COLUMNS + OPTIONAL if c in tidy.df.columns]]
    if fmt == "csv":
        df.to_csv(sys.stdout, index=False)
    else:
        sys.stdout.write(df.to_json(orient="records") + "\n")
