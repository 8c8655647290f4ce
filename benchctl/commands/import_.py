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

DEFAULT_WORKLOAD = {"memtier": "memcached", "mutilate": "memcached", "memaslap": "memcached",
                    "memcaslap": "memcached", "perf": "perf", "fio": "fio-dmcrypt", "xfs_io": "seqread-xfs"}


@click.command(name="import")
@click.argument("tool", type=click.Choice(sorted(DEFAULT_WORKLOAD)))
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--arm", required=True, help="Arm label of the kernel these outputs were measured on.")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path),
              help="Results root (default ./results): the folder goes to DIR/<host>/<run-id>/.")
@click.option("--workload", help="Workload name for the records (default by tool, e.g. memcached).")
@click.option("--host", default="unknown", show_default=True, help="Host the outputs came from.")
@click.option("--boot", help="Boot id of that host's run (default: a new id per import).")
def command(tool: str, files: tuple[Path, ...], arm: str, output: Path | None, workload: str | None,
            host: str, boot: str | None) -> None:
    """Turn outputs of runs made by hand (memtier JSON/text/HDR, mutilate, memaslap, perf stat, fio,
    xfs_io) into a run folder marked imported; each FILE is one iteration."""
    from benchctl.results.importer import import_files
    from benchctl.results.store import new_run_id

    # Every file is parsed before anything is written: a bad one leaves no half-imported run.
    parsed = [(f, res.info["parser_format"], res) for f, res in import_files(tool, list(files))]
    workload = workload or DEFAULT_WORKLOAD[tool]
    run_id = new_run_id(workload, arm)
    try:
        n = _write(tool, parsed, arm, output, workload, host, boot, run_id)
    except OSError as e:
        from benchctl.errors import ResourceError

        raise ResourceError(f"cannot write the imported run under {output or 'results'} ({e.strerror or e})") \
            from None
    click.echo(f"benchctl: imported {n[0]} records from {len(parsed)} file(s) -> {n[1].path}", err=True)
    click.echo(n[1].path)


def _write(tool, parsed, arm, output, workload, host, boot, run_id):
    from benchctl.results.fsutil import atomic_write_text
    from benchctl.results.importer import read_text
    from benchctl.results.store import RunFolder, utc_now

    folder = RunFolder.create(output or Path("results"), host=host, workload=workload, arm=arm, run_id=run_id,
                              boot_id=boot or f"import-{run_id}", status="imported", imported=True,
                              iterations_requested=len(parsed), warmup=0,
                              spec={"name": workload, "imported_from": tool}, overrides={},
                              tool_versions={}, kernel_release=None)
    n = 0
    for i, (path, fmt, res) in enumerate(parsed, 1):
        raw = folder.raw_dir(i)
        atomic_write_text(raw / path.name, read_text(path))
        folder.log_command(["import", tool, str(path.resolve())], rc=0, iteration=i, format=fmt)
        for w in res.warnings:
            folder.warn(f"{path.name}: {w}")
        if not res.measurements:
            folder.warn(f"{path.name}: no metrics in this {fmt} output")
        for m in res.measurements:
            folder.record(i, m.metric, m.value, m.unit, note={**(m.note or {}), "imported_from": path.name,
                                                               "format": fmt})
            n += 1
    folder.update(iterations_done=len(parsed), finished=utc_now())
    return n, folder
