"""`benchctl env`: fingerprint this host and kernel, or a recorded tree."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command(name="env")
@click.option("--json", "as_json", is_flag=True, help="Print the full fingerprint as JSON (format benchctl-env/1).")
@click.option("--root", type=click.Path(path_type=Path), default=Path("/"), show_default=True, metavar="DIR",
              help="Read a recorded tree (DIR/proc, DIR/sys, DIR/boot, DIR/dmesg.txt) instead of this system.")
def command(as_json: bool, root: Path) -> None:
    """Fingerprint the host and running kernel; say which arm this boot is.

    Every value names its source; what could not be read is null with a reason.
    Exit status 3 if --root is not a tree or holds a malformed or unreadable file.
    """
    from benchctl.env.fingerprint import collect, summary

    fp = collect(root)
    if as_json:
        click.echo(json.dumps(fp, indent=2))
    else:
        click.echo(summary(fp))
