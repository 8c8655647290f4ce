"""What several commands print the same way: 72-column messages and the next command to type."""

from __future__ import annotations

import textwrap
from pathlib import Path

import click

WIDTH = 72
DEFAULT_CLAIMS = Path("analysis/claims/bbml2.toml")


def say(message: str, prefix: str = "benchctl: ", err: bool = True) -> None:
    """One message on stderr, wrapped at 72 columns under its prefix."""
    lines = textwrap.wrap(
        message,
        WIDTH,
        initial_indent=prefix,
        subsequent_indent=" " * min(len(prefix), 4),
        break_long_words=False,
        break_on_hyphens=False,
    ) or [prefix.rstrip()]
    click.echo("\n".join(lines), err=err)


def claims_hint() -> str:
    """The claims file to name in a hint: the project's own when run from a checkout."""
    return str(DEFAULT_CLAIMS) if DEFAULT_CLAIMS.is_file() else "CLAIMS.toml"


def next_analyze(results: Path | str, arm: str, other: str = "OTHER") -> str:
    """The analyze command that follows a run or an import of one arm."""
    return f"benchctl analyze {results} --baseline {arm} --candidate {other} --claims {claims_hint()}"
