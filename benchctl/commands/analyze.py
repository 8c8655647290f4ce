"""`benchctl analyze`: judge claims with boot-aware intervals; report and plots."""

from __future__ import annotations

import click

from benchctl.analyze.report import FORMATS
from benchctl.commands.common import SKIP_BAD_ROWS_HELP, format_option, progress_after


@click.command("analyze")
@click.argument("run_dirs", nargs=-1, type=click.Path(file_okay=False))
@click.option(
    "--csv",
    "csvs",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Tidy CSV file (docs/result-format.md); repeatable.",
)
@click.option("--baseline", help="Arm to compare against (e.g. pte); a campaign folder's plan names it.")
@click.option("--candidate", help="Arm with the change (e.g. block); a campaign folder's plan names it.")
@click.option(
    "--claims",
    "claims_file",
    type=click.Path(dir_okay=False),
    help="Claims: a TOML file or a bundled name (bbml2); see analysis/claims/README.md.",
)
@format_option(FORMATS, "text", "text (mail, <= 72 columns), markdown (trackers) or json (docs/result-format.md).")
@click.option("--brief", is_flag=True, help="Text sized for a mail: <= 40 lines; the claims, checks, design.")
@click.option(
    "--plots",
    "plots_dir",
    type=click.Path(file_okay=False),
    help="Draw the claims figures, a contact sheet and index.md into this folder.",
)
@click.option("--all-plots", is_flag=True, help="With --plots: every figure (all metrics, drift, latency).")
@click.option("--skip-bad-rows", is_flag=True, help=SKIP_BAD_ROWS_HELP)
@click.option("--confidence", type=click.FloatRange(0.5, 0.999), default=0.95, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed: same seed, same numbers.")
@click.option(
    "--resamples", type=click.IntRange(100, 1_000_000), default=10_000, show_default=True, help="Bootstrap resamples."
)
def command(
    run_dirs,
    csvs,
    baseline,
    candidate,
    claims_file,
    fmt,
    brief,
    plots_dir,
    all_plots,
    skip_bad_rows,
    confidence,
    seed,
    resamples,
):
    """Compare two arms over RUN_DIR... and/or --csv tables.

    RUN_DIR may be a campaign folder (`benchctl campaign`): its plan names the
    arms (baseline first) and its boot records say how each boot was started.

    For every (workload, metric) in both arms: the change in percent with a
    hierarchical-bootstrap interval (a boot is the unit of replication),
    variance components, Welch and Mann-Whitney on per-boot means. With
    --claims: a verdict per claim (confirmed, smaller-than-claimed,
    larger-than-claimed, not-reproduced, inconclusive), Holm across claims.
    Design checks are printed before any number. Exit 3 on unusable input.
    """
    from benchctl.analyze.claims import load_claims
    from benchctl.analyze.report import render
    from benchctl.analyze.result import analyze
    from benchctl.commands.common import load_table
    from benchctl.errors import UsageError

    if brief and fmt != "text":
        raise UsageError(f"--brief is a text report; leave it out with --format {fmt}")
    root, plan = _campaign(run_dirs)
    if plan is not None:
        baseline = baseline or plan["baseline"]
        candidate = candidate or plan["candidate"]
    if not baseline or not candidate:
        raise UsageError("--baseline and --candidate are required (or give a campaign folder: its plan names the arms)")
    adaptive = (plan or {}).get("adaptive")  # campaign run --until-decided recorded it
    claims_file = claims_file or (adaptive or {}).get("claims")
    claims = load_claims(claims_file) if claims_file else None
    tidy = load_table(run_dirs, csvs, baseline, candidate, skip_bad_rows)
    if root is not None:
        from benchctl.campaign.folder import boot_records

        records = boot_records(root)
        for b in tidy.boots:
            b.boot_method = (records.get(b.boot) or {}).get("boot_method")
    result = analyze(
        tidy,
        baseline,
        candidate,
        claims,
        confidence=confidence,
        seed=seed,
        resamples=resamples,
        progress=progress_after(),
    )
    if adaptive and claims:
        from benchctl.analyze.adaptive import apply_sequential

        apply_sequential(result, claims, adaptive["confidence"])
    if plots_dir:
        _plots(result, tidy, plots_dir, list(run_dirs) + list(csvs), all_plots)
    click.echo(render(result, fmt, brief=brief), nl=False)


def _plots(result: dict, tidy, plots_dir: str, sources: list[str], all_plots: bool) -> None:
    """Draw, saying what is being drawn (and how long is left) on stderr."""
    from benchctl.analyze.report.plots import write_plots
    from benchctl.commands.common import say
    from benchctl.errors import ResourceError

    def progress(k: int, n: int, name: str, eta: float | None) -> None:
        say(f"drawing {k}/{n}: {name}" + (f" (about {eta:.0f} s left)" if eta is not None and eta >= 1 else ""))

    try:
        written = write_plots(result, tidy, plots_dir, sources, all_plots=all_plots, progress=progress)
    except OSError as e:  # read-only, full, not a directory: one line, like every other user error
        raise ResourceError(f"cannot write plots to {plots_dir}: {e.strerror or e}") from None
    say(f"wrote {len(written)} files to {plots_dir} (open index.md or contact-sheet.png)")


def _campaign(run_dirs):
    """(folder, plan) when the first RUN_DIR is or lies in a campaign folder, else (None, None)."""
    if not run_dirs:
        return None, None
    from benchctl.campaign.folder import find

    return find(run_dirs)
