"""What several commands print the same way: 72-column messages and the next command to type."""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path

import click

WIDTH = 72


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


def echo(text: str, indent: str = "    ") -> None:
    """One line of a text report on stdout, wrapped at 72 columns (continuations indented)."""
    lead = text[: len(text) - len(text.lstrip())]
    click.echo("\n".join(textwrap.wrap(text, WIDTH, subsequent_indent=lead + indent, break_on_hyphens=False)) or "")


def format_option(
    choices: tuple[str, ...] = ("text", "json"),
    default: str = "text",
    help: str = "text for people (<= 72 columns), json for programs (docs/result-format.md).",
    json_alias: bool = False,
):
    """--format, the one convention for output formats; the command gets it as `fmt`.

    json_alias keeps the old --json flag working, hidden: it means --format json.
    """

    option = click.option("--format", "fmt", type=click.Choice(choices), default=default, show_default=True, help=help)

    def deco(f):
        if json_alias:

            @functools.wraps(f)
            def folded(*args, as_json: bool = False, **kwargs):
                if as_json:
                    kwargs["fmt"] = "json"
                return f(*args, **kwargs)

            return option(click.option("--json", "as_json", is_flag=True, hidden=True)(folded))
        return option(f)

    return deco


def out_option(
    help: str,
    *,
    dest: str = "out",
    required: bool = False,
    type: click.ParamType | None = None,
    metavar: str | None = None,
):
    """-o/--out, the one convention for where output goes; the command gets it as `dest`.

    The old --output spelling still works, hidden. A required -o is checked
    here, after both spellings are known (click would refuse `--output DIR`).
    """

    def deco(f):
        @functools.wraps(f)
        def folded(*args, **kwargs):
            alias = kwargs.pop(f"{dest}_alias", None)
            if kwargs.get(dest) is None:
                kwargs[dest] = alias
            if required and kwargs[dest] is None:
                raise click.UsageError("Missing option '-o' / '--out'.", ctx=click.get_current_context(silent=True))
            return f(*args, **kwargs)

        aliased = click.option("--output", f"{dest}_alias", type=type, metavar=metavar, hidden=True)(folded)
        return click.option(
            "-o", "--out", dest, type=type, metavar=metavar, help=help + ("  [required]" if required else "")
        )(aliased)

    return deco


def claims_hint() -> str:
    """The claims to name in a hint: the bundled file by name, which works in any directory."""
    from benchctl.analyze.claims import BUNDLED_DEFAULT

    return BUNDLED_DEFAULT


def next_analyze(results: Path | str, arm: str, other: str = "OTHER") -> str:
    """The analyze command that follows a run or an import of one arm."""
    return f"benchctl analyze {results} --baseline {arm} --candidate {other} --claims {claims_hint()}"


SKIP_BAD_ROWS_HELP = "Leave out CSV rows benchctl cannot read (bad values), counted on stderr; default: an error."


def input_options(several: bool = True):
    """RUN_DIR..., --csv, --baseline, --candidate and --skip-bad-rows: the inputs of analyze and plan,
    declared once so both read the same things the same way; the command gets run_dirs, csvs,
    baseline, candidates (a tuple) and skip_bad_rows. RUN_DIR may be a campaign folder
    (campaign/inputs.py)."""
    candidate_help = "Arm with the change (e.g. block)" + (
        "; repeat (or comma-separate) for several; a campaign's plan names them."
        if several
        else "; a campaign folder's plan names it (choose one if it names several)."
    )
    options = [
        click.argument("run_dirs", nargs=-1, type=click.Path(file_okay=False)),
        click.option(
            "--csv",
            "csvs",
            multiple=True,
            type=click.Path(dir_okay=False),
            help="Tidy CSV file (docs/result-format.md); repeatable.",
        ),
        click.option("--baseline", help="Arm to compare against (e.g. pte); a campaign folder's plan names it."),
        click.option("--candidate", "candidates", multiple=True, help=candidate_help),
        click.option("--skip-bad-rows", is_flag=True, help=SKIP_BAD_ROWS_HELP),
    ]

    def deco(f):
        for option in reversed(options):
            f = option(f)
        return f

    return deco


def load_table(run_dirs, csvs, baseline: str, candidate: str, skip_bad_rows: bool):
    """The tidy table analyze and plan read; bad CSV rows are an error unless skipped on request."""
    from benchctl.errors import UsageError
    from benchctl.results.loader import load_inputs, refuse_bad_rows
    from benchctl.results.table import summarize_skipped

    if baseline == candidate:
        raise UsageError(f"--baseline and --candidate are both {baseline!r}: compare two different arms")
    tidy = load_inputs(run_dirs, csvs)
    if not skip_bad_rows:
        refuse_bad_rows(tidy)
    else:
        rows = [s for s in tidy.skipped if s.user_row]
        if rows:
            say(f"skipped {len(rows)} CSV row(s) (--skip-bad-rows):")
            for line in summarize_skipped(rows):
                click.echo(f"  {line}", err=True)  # FILE: lines N, M stays on one line
    return tidy


SHOW_ETA_FROM = 3.0  # seconds


def progress_after(seconds: float = 2.0, what: str = "analyzing"):
    """A progress callback (k, n, name), called before step k of n, that speaks up only once the work
    has taken `seconds`, then says where it is and, while SHOW_ETA_FROM s or more are left, how long.

    The estimate is linear in the steps, timed from the end of the first
    step: what came before (loading, the first step's lazy imports) is not
    a step, and counting it made the first estimate of a 3.4 s analyze say
    8 s (issue 21; tests/perf/analyze_speed.py measures each estimate
    against the time that was actually left). Below 3 s the whole seconds
    of "about 2 s" and the work after the last step (judging, the report)
    are too large a share of what is left to be worth printing.
    """
    import time

    start = time.monotonic()
    first_done: list[float] = []  # when step 2 began, i.e. step 1 ended
    last = [0.0]

    def progress(k: int, n: int, name: str) -> None:
        now = time.monotonic()
        if k == 2:
            first_done.append(now)
        if now - start < seconds or now - last[0] < 1.0 or k < 3 or not first_done:
            return
        last[0] = now
        left = (now - first_done[0]) / (k - 2) * (n - k + 1)
        say(f"{what} {k}/{n}: {name}" + (f" (about {left:.0f} s left)" if left >= SHOW_ETA_FROM else ""))

    return progress
