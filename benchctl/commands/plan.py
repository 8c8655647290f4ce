"""`benchctl plan`: boots per arm and iterations per boot that resolve each claim."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from benchctl.commands.common import format_option, input_options


@click.command("plan")
@input_options(several=False)
@click.option(
    "--claims",
    "claims_file",
    type=click.Path(dir_okay=False),
    help="Claims to resolve: a TOML file or a bundled name (bbml2).",
)
@click.option(
    "--effect", "effect_pct", type=float, help="Without --claims: change in percent to resolve for every metric."
)
@click.option(
    "--reboot-cost",
    type=click.FloatRange(0, None),
    default=300.0,
    show_default=True,
    help="Seconds per boot (reboot, settle, warm-up).",
)
@click.option(
    "--iteration-cost",
    type=click.FloatRange(0, None, min_open=True),
    help="Seconds per iteration (default: from record timestamps).",
)
@click.option(
    "--noise-boot",
    type=click.FloatRange(0, None),
    metavar="PCT",
    help="Without a pilot: between-boot sd in % of the mean (both arms).",
)
@click.option(
    "--noise-iter",
    type=click.FloatRange(0, None),
    metavar="PCT",
    help="Without a pilot: within-boot sd in % of the mean (both arms).",
)
@click.option("--power", "target", type=click.FloatRange(0.5, 0.99), default=0.8, show_default=True)
@click.option("--confidence", type=click.FloatRange(0.5, 0.999), default=0.95, show_default=True)
@click.option(
    "--adaptive", is_flag=True, help="Also: boots until every claim is decided, by simulated adaptive campaigns."
)
@click.option(
    "--max-boots",
    type=click.IntRange(2, 1000),
    help="With --adaptive: the campaign's maximum per arm (default: the fewest giving each claim the plan's power).",
)
@click.option(
    "--campaigns",
    type=click.IntRange(100, 100_000),
    default=2000,
    show_default=True,
    help="With --adaptive: simulated campaigns.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="With --adaptive: of the simulation.")
@format_option()
def command(
    run_dirs,
    csvs,
    baseline,
    candidates,
    skip_bad_rows,
    claims_file,
    effect_pct,
    reboot_cost,
    iteration_cost,
    noise_boot,
    noise_iter,
    target,
    confidence,
    adaptive,
    max_boots,
    campaigns,
    seed,
    fmt,
):
    """From a pilot (RUN_DIR... or --csv), or from stated noise before any
    pilot exists (--noise-boot, --noise-iter, --iteration-cost), print the
    cheapest design per claim.

    RUN_DIR may be a campaign folder (`benchctl campaign`): its plan names
    the arms, as for `benchctl analyze`.

    Estimates between-boot and within-boot variance per arm and the cost of
    an iteration and of a reboot, then searches boots x iterations for the
    given power at the lowest total time (K&J optimal repetitions extended
    with the effect size; see benchctl/analyze/stats/power.py). With
    --adaptive (needs --claims), also the mean and 90th percentile of the
    boots per arm an adaptive campaign (--until-decided) needs, by seeded
    simulation from the same noise (benchctl/analyze/adaptive_design.py).
    """
    import json

    from benchctl.analyze.design import FORMAT as PLAN_FORMAT
    from benchctl.analyze.design import cheapest_designs, pilot_warnings, render_text
    from benchctl.claims import load_claims
    from benchctl.errors import UsageError

    if not claims_file and effect_pct is None:
        raise UsageError("give --claims FILE or --effect PCT (the change to resolve)")
    if effect_pct is not None and effect_pct == 0:
        raise UsageError("--effect must be non-zero")
    if adaptive and not claims_file:
        raise UsageError("--adaptive decides claims: give --claims FILE (a bundled name such as bbml2 works)")
    baseline, candidate = _pair(run_dirs, baseline, candidates)
    claims = load_claims(claims_file) if claims_file else None
    pilot = (run_dirs, csvs, skip_bad_rows)
    costs = (reboot_cost, iteration_cost)
    result = _pilot(pilot, claims, baseline, candidate, confidence, costs, noise_boot, noise_iter)
    rows = cheapest_designs(result, claims, effect_pct, target)
    extra = None
    if adaptive and claims:
        from benchctl.analyze.adaptive_design import adaptive_design

        extra = adaptive_design(result, claims, rows, campaigns=campaigns, max_pairs=max_boots, seed=seed)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "format": PLAN_FORMAT,
                    "costs": result["costs"],
                    "simulated": result["simulated"],
                    "warnings": pilot_warnings(result),
                    "plans": rows,
                    "adaptive": extra,
                },
                indent=2,
                default=str,
            )
        )
    else:
        click.echo(render_text(result, rows, target, len(claims) if claims else 0))
        if extra is not None:
            from benchctl.analyze.adaptive_design import render_adaptive

            click.echo(render_adaptive(extra))


def _pair(run_dirs, baseline: str | None, candidates: tuple[str, ...]) -> tuple[str, str]:
    """The one pair a design is for: as given, or as the campaign folder's plan names it."""
    from benchctl.campaign.inputs import resolve_arms
    from benchctl.errors import UsageError

    arms = resolve_arms(run_dirs, baseline, candidates)
    if len(arms.candidates) > 1:
        raise UsageError(f"a design is for one pair: choose one --candidate of {', '.join(arms.candidates)}")
    return arms.baseline, arms.candidates[0]


def _pilot(pilot, claims, baseline, candidate, confidence, costs, noise_boot, noise_iter) -> Mapping[str, Any]:
    """The result a plan is made from: the pilot's analysis, or the noise as stated (no pilot)."""
    from benchctl.analyze.claimdata import validate_claims
    from benchctl.analyze.design import stated_pilot
    from benchctl.analyze.result import analyze
    from benchctl.commands.common import load_table
    from benchctl.errors import UsageError

    run_dirs, csvs, skip_bad_rows = pilot
    reboot_cost, iteration_cost = costs
    if noise_boot is not None or noise_iter is not None:
        if run_dirs or csvs:
            raise UsageError("give a pilot (RUN_DIR... or --csv) or stated noise (--noise-boot/--noise-iter), not both")
        if noise_boot is None or noise_iter is None or iteration_cost is None:
            raise UsageError("without a pilot, give --noise-boot PCT, --noise-iter PCT and --iteration-cost S")
        return stated_pilot(
            claims,
            noise_boot,
            noise_iter,
            baseline=baseline,
            candidate=candidate,
            confidence=confidence,
            reboot_s=reboot_cost,
            iteration_s=iteration_cost,
        )
    tidy = load_table(run_dirs, csvs, baseline, candidate, skip_bad_rows)
    result = analyze(
        tidy,
        baseline,
        candidate,
        None,
        confidence=confidence,
        resamples=200,
        reboot_cost=reboot_cost,
        iteration_cost=iteration_cost,
    )
    if claims:  # a metric typo is exit 3 here as in analyze, not a plan for nothing
        validate_claims(claims, tidy.df[tidy.df["arm"].isin([baseline, candidate])])
    return result
