"""`benchctl analyze`: judge claims with boot-aware intervals; report and plots."""

from __future__ import annotations

import click

from benchctl.analyze.report import FORMATS
from benchctl.analyze.resulttypes import Analysis, MultiAnalysis, is_multi
from benchctl.commands.common import format_option, input_options, progress_after


@click.command("analyze")
@input_options()
@click.option(
    "--claims",
    "claims_file",
    type=click.Path(dir_okay=False),
    help="Claims: a TOML file or a bundled name (bbml2); see analysis/claims/README.md.",
)
@format_option(
    FORMATS,
    "text",
    "text (<= 72 columns), mail (the brief: <= 72 columns, <= 40 lines, pasted as is), "
    "markdown (trackers) or json (docs/result-format.md).",
)
@click.option("--brief", is_flag=True, help="Text sized for a mail: <= 40 lines; the claims, checks, design.")
@click.option(
    "--plots",
    "plots_dir",
    type=click.Path(file_okay=False),
    help="Draw the claims figures, a contact sheet and index.md into this folder.",
)
@click.option("--all-plots", is_flag=True, help="With --plots: every figure (all metrics, drift, latency).")
@click.option("--confidence", type=click.FloatRange(0.5, 0.999), default=0.95, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed: same seed, same numbers.")
@click.option(
    "--resamples", type=click.IntRange(100, 1_000_000), default=10_000, show_default=True, help="Bootstrap resamples."
)
def command(
    run_dirs,
    csvs,
    baseline,
    candidates,
    skip_bad_rows,
    claims_file,
    fmt,
    brief,
    plots_dir,
    all_plots,
    confidence,
    seed,
    resamples,
):
    """Compare two arms (or a baseline and several candidates) over RUN_DIR... and/or --csv tables.

    RUN_DIR may be a campaign folder (`benchctl campaign`): its plan names the
    arms (baseline first) and its boot records say how each boot was started.

    For every (workload, metric) in both arms: the change in percent with a
    hierarchical-bootstrap interval (a boot is the unit of replication),
    variance components, Welch and Mann-Whitney on per-boot means. With
    --claims: a verdict per claim (confirmed, smaller-than-claimed,
    larger-than-claimed, not-reproduced, inconclusive), Holm across claims;
    equivalence claims (equivalent, not-equivalent) by TOST, scaling claims
    by the slope over machine sizes. Several candidates: every pair at a
    Bonferroni level. Design checks are printed before any number. Exit 3
    on unusable input.
    """
    from benchctl.analyze.arms import analyze_arms
    from benchctl.analyze.report import render
    from benchctl.claims import load_claims
    from benchctl.commands.common import load_table
    from benchctl.errors import UsageError

    if brief and fmt not in ("text", "mail"):
        raise UsageError(f"--brief is a text report; leave it out with --format {fmt}")
    from benchctl.campaign.inputs import resolve_arms, stamp_boot_methods

    arms = resolve_arms(run_dirs, baseline, candidates)
    baseline, cands, adaptive = arms.baseline, arms.candidates, arms.adaptive
    claims_file = arms.claims_file(claims_file)
    claims = load_claims(claims_file) if claims_file else None
    tidy = load_table(run_dirs, csvs, baseline, cands[0], skip_bad_rows)
    if arms.campaign is not None:
        stamp_boot_methods(tidy.boots, run_dirs)
    result = analyze_arms(
        tidy,
        baseline,
        cands,
        claims,
        confidence=confidence,
        seed=seed,
        resamples=resamples,
        progress=progress_after(),
    )
    if adaptive and claims and not is_multi(result):
        from benchctl.analyze.adaptive import apply_sequential

        apply_sequential(result, claims, adaptive["confidence"], adaptive["max_boots"])
    if plots_dir:
        _plots(result, tidy, plots_dir, list(run_dirs) + list(csvs), all_plots, mail=fmt == "mail")
    click.echo(render(result, fmt, brief=brief), nl=False)


def _plots(
    result: Analysis | MultiAnalysis, tidy, plots_dir: str, sources: list[str], all_plots: bool, mail: bool = False
) -> None:
    """Draw, saying what is being drawn (and how long is left) on stderr; for a mail, which figure
    to attach and its size (lists take ~100 KB once encoded)."""
    from benchctl.analyze.report.plots import write_plots
    from benchctl.commands.common import Progress, say
    from benchctl.errors import ResourceError

    progress = Progress("drawing", after_s=0.0, every_s=0.0, each=True)

    from pathlib import Path

    written = []
    multi = is_multi(result)
    pairs = result["pairs"] if is_multi(result) else [result]
    try:
        for r in pairs:
            where = Path(plots_dir) / f"{r['candidate']}-vs-{r['baseline']}" if multi else Path(plots_dir)
            written += write_plots(r, tidy, where, sources, all_plots=all_plots, progress=progress)
    except OSError as e:  # read-only, full, not a directory: one line, like every other user error
        raise ResourceError(f"cannot write plots to {plots_dir}: {e.strerror or e}") from None
    say(f"wrote {len(written)} files to {plots_dir} (open index.md or contact-sheet.png)")
    if mail:
        for p in written:
            if p.name in ("claims-forest.png", "claims-scaling.png"):
                say(f"attach: {p} ({p.stat().st_size // 1024} KB; its caption names the design, kernels and host)")
