"""`benchctl export`: run folders as the tidy table analyze reads, or in pyperf's and benchstat's formats."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from benchctl.commands.common import format_option, out_option

FORMATS = ("csv", "json", "pyperf", "benchstat")


@click.command(name="export")
@click.argument("dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@format_option(
    FORMATS,
    "csv",
    "csv/json: the tidy table; pyperf: one pyperf JSON per arm (needs -o DIR); benchstat: Go benchmark "
    "format with arm:/host:/boot: lines.",
)
@out_option(
    "Write here (atomically) instead of standard output; a folder for --format pyperf.",
    dest="output",
    type=click.Path(path_type=Path),
)
def command(dirs: tuple[Path, ...], fmt: str, output: Path | None) -> None:
    """Write run folders (or folders holding them) as a tidy table:
    arm, host, boot, run, workload, iteration, metric, value, unit (+ t, simulated, note),
    or for other tools (pyperf compare_to, benchstat -col arm).
    Warm-up records are left out; unreadable lines are skipped and reported on stderr.
    """
    from benchctl.errors import UsageError
    from benchctl.results.loader import load_runs

    if fmt == "pyperf" and output is None:
        raise UsageError("--format pyperf writes one file per arm: give -o DIR")
    tidy = load_runs(dirs)
    _notes(tidy)
    if fmt == "pyperf" and output is not None:
        _pyperf(tidy, output)
        return
    if output is not None:
        _to_file(tidy, fmt, output)
        return
    from benchctl.results.table import COLUMNS, OPTIONAL

    if fmt == "benchstat":
        from benchctl.results.interop import benchstat_text

        sys.stdout.write(benchstat_text(tidy))
        return
    df = tidy.df[[c for c in COLUMNS + OPTIONAL if c in tidy.df.columns]]
    if fmt == "csv":
        df.to_csv(sys.stdout, index=False)
    else:
        sys.stdout.write(df.to_json(orient="records") + "\n")


def _notes(tidy) -> None:
    """What was left out, and runs that did not complete, on stderr."""
    from benchctl.errors import InputError
    from benchctl.results.store import RunFolder, effective_status
    from benchctl.results.table import summarize_skipped

    for line in summarize_skipped(tidy.skipped):
        click.echo(f"benchctl: skipped: {line}", err=True)  # FILE:LINE stays on one line, for grep and editors
    for b in tidy.boots:
        try:
            status = effective_status(RunFolder.open(Path(b.source)).manifest)
        except InputError:
            continue
        if status not in ("complete", "imported", "simulated"):
            click.echo(f"benchctl: note: run {b.run} is {status} ({b.source})", err=True)


def _to_file(tidy, fmt: str, output: Path) -> None:
    from benchctl.commands.common import say
    from benchctl.errors import ResourceError
    from benchctl.osutil.fsutil import atomic_write_text
    from benchctl.results.table import write_tidy

    try:
        if fmt == "benchstat":
            from benchctl.results.interop import benchstat_text

            atomic_write_text(output, benchstat_text(tidy))
        else:
            write_tidy(tidy.df, output, fmt)
    except OSError as e:
        raise ResourceError(f"cannot write {output} ({e.strerror or e})") from None
    say(f"{len(tidy.df)} rows -> {output}")


def _pyperf(tidy, out_dir: Path) -> None:
    from benchctl.commands.common import say
    from benchctl.errors import ResourceError
    from benchctl.human import slug
    from benchctl.osutil.fsutil import atomic_write_text
    from benchctl.results.interop import pyperf_suites

    suites, dropped = pyperf_suites(tidy)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for arm, suite in suites.items():
            atomic_write_text(out_dir / f"{slug(arm)}.json", json.dumps(suite, indent=1) + "\n")
    except OSError as e:
        raise ResourceError(f"cannot write {out_dir} ({e.strerror or e})") from None
    if dropped:
        say(f"{dropped} value(s) <= 0 left out: pyperf accepts only values > 0")
    files = " ".join(str(out_dir / f"{slug(a)}.json") for a in reference_first(tidy, list(suites)))
    say(
        f"wrote {len(suites)} pyperf file(s); compare two arms with (the reference, the PTE-mapped arm "
        f"where known, first): python -m pyperf compare_to {files}"
    )


def reference_first(tidy, arms: list[str]) -> list[str]:
    """Arms in `pyperf compare_to` order: the PTE-mapped baseline (observed linear map) before the
    block-mapped one; otherwise as given."""
    state = {b.arm: b.linear_map_before for b in tidy.boots}
    return sorted(arms, key=lambda a: {"pte": 0, "block": 2}.get(state.get(a) or "", 1))
