"""`benchctl env`: fingerprint this host and kernel, or a recorded tree."""

from __future__ import annotations

import json
from pathlib import Path

import click

from benchctl.commands.common import format_option


@click.command(name="env")
@format_option(json_alias=True)
@click.option(
    "--root",
    type=click.Path(path_type=Path),
    default=Path("/"),
    show_default=True,
    metavar="DIR",
    help="Read a recorded tree (DIR/proc, DIR/sys, DIR/boot, DIR/dmesg.txt) instead of this system.",
)
def command(fmt: str, root: Path) -> None:
    """Fingerprint the host and running kernel; say which arm this boot is.

    Every value names its source; what could not be read is null with a reason.
    Exit status 3 if --root is not a tree or holds a malformed or unreadable file.
    """
    from benchctl.env.fingerprint import collect, summary

    fp = collect(root)
    if fmt == "json":
        click.echo(json.dumps(fp, indent=2))
    else:
        click.echo(summary(fp))
