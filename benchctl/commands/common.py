"""What several commands print the same way: 72-column messages and the next command to type."""

from __future__ import annotations

import functools
import math
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
    from benchctl.claims import BUNDLED_DEFAULT

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


class Progress:
    """The one progress line on stderr, for every long command: called as progress(k, n, name) at
    step k of n (name may be left out), it speaks once the work has taken `after_s`, at most once
    every `every_s`, and says how long is left while SHOW_ETA_FROM s or more are.

    The estimate is linear in the steps, timed from the second call (the
    end of the first step): what came before (loading, the first step's
    lazy imports) is not a step, and counting it made the first estimate
    of a 3.4 s analyze say 8 s (issue 21; tests/perf/analyze_speed.py
    measures each estimate against the time that was actually left). Below
    3 s the whole seconds of "about 2 s" and the work after the last step
    (judging, the report) are too large a share of what is left to be
    worth printing. `percent` says "WHAT: 40 %" (the model's draws, which
    have no names) instead of "WHAT k/n: NAME"; `each` says every step,
    timed or not (a few slow steps: the figures).
    """

    def __init__(
        self, what: str, after_s: float = 2.0, every_s: float = 1.0, percent: bool = False, each: bool = False
    ):
        import time

        self.what, self.after_s, self.every_s, self.percent, self.each = what, after_s, every_s, percent, each
        self.start = time.monotonic()
        self.first_k: int | None = None
        self.origin: tuple[int, float] | None = None  # (k, when) of the second call: the first step's end
        self.last = -math.inf

    def left(self, k: int, n: int, now: float) -> float | None:
        """Seconds left at step k of n, once a step has been timed."""
        if self.origin is None or k <= self.origin[0]:
            return None
        k0, t0 = self.origin
        return (now - t0) / (k - k0) * (n - k + 1)

    def __call__(self, k: int, n: int, name: str = "") -> None:
        import time

        now = time.monotonic()
        if self.first_k is None:
            self.first_k = k
        elif self.origin is None and k > self.first_k:
            self.origin = (k, now)
        left = self.left(k, n, now)
        if now - self.start < self.after_s or now - self.last < self.every_s or (left is None and not self.each):
            return
        self.last = now
        eta = f"about {left:.0f} s left" if left is not None and left >= SHOW_ETA_FROM else ""
        if self.percent:
            say(f"{self.what}: {100 * k / n:3.0f} %" + (f", {eta}" if eta else ""), prefix="")
        else:
            say(f"{self.what} {k}/{n}: {name}" + (f" ({eta})" if eta else ""))


def progress_after(seconds: float = 2.0, what: str = "analyzing") -> Progress:
    """analyze's progress: silent for the first `seconds`, then "analyzing k/n: WORKLOAD/METRIC"."""
    return Progress(what, after_s=seconds)
