"""`benchctl analyze`: judge claims with boot-aware intervals; report and plots."""

from __future__ import annotations

import click

from benchctl.analyze.report import FORMATS


@click.command("analyze")
@click.argument("run_dirs", nargs=-1, type=click.Path(file_okay=False))
@click.option("--csv", "csvs", multiple=True, type=click.Path(dir_okay=False),
              help="Tidy CSV file (docs/result-format.md); repeatable.")
@click.option("--baseline", required=True, help="Arm to compare against (e.g. pte).")
@click.option("--candidate", required=True, help="Arm with the change (e.g. block).")
@click.option("--claims", "claims_file", type=click.Path(dir_okay=False),
              help="Claims file (TOML, see analysis/claims/README.md).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--plots", "plots_dir", type=click.Path(file_okay=False),
              help="Write PNG and SVG plots into this folder.")
@click.option("--confidence", type=click.FloatRange(0.5, 0.999), default=0.95, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed: same seed, same numbers.")
@click.option("--resamples", type=click.IntRange(100, 1_000_000), default=10_000, show_default=True,
              help="Bootstrap resamples.")
def command(run_dirs, csvs, baseline, candidate, claims_file, fmt, plots_dir, confidence, seed, resamples):
    """Compare two arms over RUN_DIR... and/or --csv tables.

    For every (workload, metric) in both arms: the change in percent with a
    hierarchical-bootstrap interval (a boot is the unit of replication),
    variance components, Welch and Mann-Whitney on per-boot means. With
    --claims: a verdict per claim (confirmed, smaller-than-claimed,
    larger-than-claimed, not-reproduced, inconclusive), Holm across claims.
    Design checks are printed before any number. Exit 3 on unusable input.
    """
    from benchctl.analyze.result import analyze
    from benchctl.analyze.claims import load_claims
    from benchctl.results.loader import load_inputs
    from benchctl.analyze.report import render

    claims = load_claims(claims_file) if claims_file else None
    tidy = load_inputs(run_dirs, csvs)
    result = analyze(tidy, baseline, candidate, claims, confidence=confidence, seed=seed, resamples=resamples)
    if plots_dir:
        from benchctl.analyze.report.plots import write_plots
        sources = list(run_dirs) + list(csvs)
        try:
            written = write_plots(result, tidy, plots_dir, sources)
        except OSError as e:   # read-only, full, not a directory: one line, like every other user error
            from benchctl.errors import ResourceError
            raise ResourceError(f"cannot write plots to {plots_dir}: {e.strerror or e}") from None
        click.echo(f"benchctl: wrote {len(written)} plot files to {plots_dir}", err=True)
    click.echo(render(result, fmt), nl=False)
