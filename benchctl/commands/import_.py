"""`benchctl import`: outputs of runs made by hand become a run folder marked imported.

Each FILE is one iteration, in the order given. The format is recognised
among the tool's formats (benchctl.parsers.TOOL_FORMATS) and parsed by the
same pure parsers the run engine uses, so an imported memtier JSON yields
exactly the metrics a benchctl run would record. The host and boot of a
hand run are unknown unless given; by default each import is its own boot
so analyze never pools it with another one by accident.
"""

from __future__ import annotations

from pathlib import Path

import click

DEFAULT_WORKLOAD = {
    "memtier": "memcached",
    "mutilate": "memcached",
    "memaslap": "memcached",
    "memcaslap": "memcached",
    "perf": "perf",
    "fio": "fio-dmcrypt",
    "xfs_io": "seqread-xfs",
}


@click.command(name="import")
@click.argument("tool", type=click.Choice(sorted(DEFAULT_WORKLOAD)))
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--arm", required=True, help="Arm label of the kernel these outputs were measured on.")
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Results root (default ./results): the folder goes to DIR/<host>/<run-id>/.",
)
@click.option("--workload", help="Workload name for the records (default by tool, e.g. memcached).")
@click.option("--host", default="unknown", show_default=True, help="Host the outputs came from.")
@click.option("--boot", help="Boot id of that host's run (default: a new id per import).")
def command(
    tool: str, files: tuple[Path, ...], arm: str, output: Path | None, workload: str | None, host: str, boot: str | None
) -> None:
    """Turn outputs of runs made by hand (memtier JSON/text/HDR, mutilate, memaslap, perf stat, fio,
    xfs_io) into a run folder marked imported; each FILE is one iteration."""
    from benchctl.results.importer import import_files, write_run

    # Every file is parsed before anything is written: a bad one leaves no half-imported run.
    parsed = import_files(tool, list(files))
    try:
        n, folder = write_run(
            tool,
            parsed,
            arm=arm,
            results=output or Path("results"),
            workload=workload or DEFAULT_WORKLOAD[tool],
            host=host,
            boot=boot,
        )
    except OSError as e:
        from benchctl.errors import ResourceError

        raise ResourceError(f"cannot write the imported run under {output or 'results'} ({e.strerror or e})") from None
    click.echo(f"benchctl: imported {n} records from {len(parsed)} file(s) -> {folder.path}", err=True)
    click.echo(folder.path)
