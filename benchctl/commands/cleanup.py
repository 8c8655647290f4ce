"""`benchctl cleanup`: remove what killed runs left behind, and only what is provably theirs."""

from __future__ import annotations

import click

from benchctl.errors import EXIT_RESOURCE, BenchctlError


def _describe(attrs: dict) -> str:
    for key in ("path", "device", "name", "pid"):
        if attrs.get(key) is not None:
            return f"{key}={attrs[key]}"
    return ""


@click.command(name="cleanup")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.option("--state-dir", "state", type=click.Path(), default=None,
              help="State directory (default $BENCHCTL_STATE_DIR or /run/benchctl).")
def command(dry_run: bool, state: str | None) -> None:
    """Remove what killed runs left behind (and only that).

    Reads the ledgers that runs keep before they create anything, and for
    each run whose benchctl process is dead removes, newest first, what is
    still there and verified as that run's. Anything it cannot verify is
    refused and listed. Exit 5 if something was refused or failed.
    """
    from benchctl.run.cleanup import cleanup
    from benchctl.run.state import state_dir

    def show(r: dict) -> None:
        click.echo(f"{r['run_id']}  {r['kind']:<8} {_describe(r['attrs']):<40} {r['action']}")

    rows = cleanup(state, dry_run=dry_run, progress=show)
    if not rows:
        click.echo(f"nothing to clean up (state dir {state_dir(state)})")
        return
    bad = sum(1 for r in rows if r["action"].startswith(("refused", "failed")))
    if bad:
        raise BenchctlError(f"{bad} resource(s) not removed (see above); remove them by hand if they are yours",
                            EXIT_RESOURCE)
