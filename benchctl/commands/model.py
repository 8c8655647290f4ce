"""`benchctl model`: predict what the change should do, without the hardware.

Thin CLI over benchctl.model.*: each subcommand parses options, calls one
plain function and prints its result (text of at most 72 columns, or
--format json). Everything printed is model output and is labelled SIMULATED;
pagetables is exact arithmetic but still a computation, not a reading of a
machine. Options follow the other commands: --format json for JSON on
stdout, -o/--out for where files go.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import click

from benchctl.commands.common import Progress, format_option, out_option
from benchctl.model.datafiles import cpu_names

CPU_HELP = (  # the profiles are named once, in the data file
    "CPU profile: " + ", ".join(cpu_names()) + " (benchctl/model/data/cpus.toml; "
    "N1/V1/V2 are off the BBML2_NOABORT allow-list)."
)
CLAIMS_FILE = "bbml2"  # bundled claims by name (benchctl.claims.resolve_claims)


def _echo_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2))


def _show(r: dict, fmt: str, text) -> None:
    """A model result as JSON, or as the text `text(r)` renders."""
    if fmt == "json":
        _echo_json(r)
    else:
        click.echo(text(r))


def _progress(what: str) -> Progress:
    """The model's progress line: its draws in percent, once a run has taken 3 s."""
    return Progress(what, after_s=3.0, percent=True)


@click.group(name="model")
def group() -> None:
    """Cost model of the block-mapped linear map (all output SIMULATED).

    pagetables is exact arithmetic; predict, sensitivity and simulate are a
    model of the mechanisms whose inputs are data (benchctl/model/data/),
    each published, measured or an assumption with a distribution; explain
    inverts predict for the claims it misses; calibrate turns tlb-probe runs
    into evidence for predict. See docs/model.md.
    """


@group.command()
@click.option("--ram", "ram_text", help="Installed RAM, e.g. 256G, 1T, 512M.")
@click.option(
    "--unmapped",
    default="auto",
    show_default=True,
    help="Installed RAM the linear map does not cover (firmware no-map, holes): a size, or auto "
    "for the assumption in data/machine.toml (its median, range shown).",
)
@click.option("--granule", default=None, help="4k, 16k or 64k (default 4k, or the fingerprint's).")
@click.option(
    "--from-env",
    "env_file",
    type=click.Path(dir_okay=False),
    help="Mapped RAM and granule from a `benchctl env --format json` file (MemTotal plus memmap).",
)
@click.option("--kernel-image", default="0", help="Kernel image alias size (mapped without CONT in both arms).")
@click.option("--kfence", default="0", help="KFENCE pool size (PTE-mapped in the block arm), e.g. 2M.")
@click.option(
    "--perm-changes",
    default=0,
    type=click.IntRange(min=0),
    help="Scattered 4 KiB permission changes after boot (split blocks; cost MemFree only).",
)
@click.option("--release", help="Kernel release whose rules apply (6.1, 6.17, 6.18: data/releases.toml).")
@click.option("--cpu", "cpu", default="ampereone", show_default=True, help="With --release: the CPU identity.")
@click.option("--rodata", help="With --release: the rodata= parameter (default: the release's default).")
@format_option(help="text for people (<= 72 columns), json for programs.", json_alias=True)
def pagetables(fmt, **options) -> None:
    """Linear-map page tables and the MemTotal/MemFree change (exact).

    With --release, that kernel's rules: which arm the CPU gets, where the
    kernel image alias lies and how long it is, KFENCE at boot; the RAM is
    wholly mapped unless --unmapped says otherwise (as in a qemu guest).
    """
    from benchctl.model.ram import pagetables_report
    from benchctl.model.render import render_pagetables

    r, unm_range = pagetables_report(**options)
    _show(r, fmt, lambda r: render_pagetables(r, unm_range))


# predict and explain: tlb-probe runs that weight the joint draws (model/calibrate.py)
CALIBRATION = click.option(
    "--calibration",
    "calibration",
    multiple=True,
    type=click.Path(file_okay=False),
    help="A tlb-probe run folder (repeatable): weight the draws by its measurements.",
)


_MODEL_OPTIONS = ("overrides", "cpu_file", "workload_file", "machine_file", "claims_file", "ram_text", "draws", "seed")


def _common(command):
    """The model's inputs, shared by predict, sensitivity, explain and simulate; the command gets them
    as one `model` dict of the keyword arguments every model entry point takes (ram in bytes)."""

    @functools.wraps(command)
    def folded(*args, **kwargs):
        given = {k: kwargs.pop(k) for k in _MODEL_OPTIONS}
        from benchctl.model.ram import parse_ram

        given["ram"] = parse_ram(given.pop("ram_text"))
        given["overrides"] = list(given["overrides"])
        return command(*args, model=given, **kwargs)

    f = folded
    f = click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="NAME=VALUE",
        help="Fix a model figure at a value (repeatable); it is then not drawn.",
    )(f)
    f = click.option(
        "--cpu-file", type=click.Path(dir_okay=False), help="CPU profiles file (default: the shipped one)."
    )(f)
    f = click.option("--workload-file", type=click.Path(dir_okay=False), help="Workload profiles file.")(f)
    f = click.option("--machine-file", type=click.Path(dir_okay=False), help="Machine figures file.")(f)
    f = click.option(
        "--claims", "claims_file", type=click.Path(dir_okay=False), help=f"Claims file (default {CLAIMS_FILE})."
    )(f)
    f = click.option(
        "--ram", "ram_text", default="256G", show_default=True, help="Installed RAM of the modelled machine."
    )(f)
    f = click.option(
        "--draws",
        default=4000,
        show_default=True,
        type=click.IntRange(min=100),
        help="Monte Carlo draws (joint over every uncertain figure).",
    )(f)
    f = click.option("--seed", default=1, show_default=True, type=int, help="Seed of the draws.")(f)
    return f


@group.command()
@click.option("--cpu", required=True, help=CPU_HELP)
@click.option("--workload", "workloads", multiple=True, help="Only claims of this workload (repeatable).")
@CALIBRATION
@format_option(
    help="text for people (<= 72 columns), json for programs (benchctl-model-prediction/2).", json_alias=True
)
@_common
def predict(
    cpu,
    workloads,
    calibration,
    fmt,
    model,
) -> None:
    """Each claim's predicted change: median, 90 % interval, mechanism."""
    from benchctl.model.predict import predict as run
    from benchctl.model.render import render_predictions

    r = run(
        cpu,
        workloads=list(workloads),
        calibration=[Path(c) for c in calibration] or None,
        progress=_progress("predict"),
        **model,
    )
    _show(r, fmt, render_predictions)


@group.command()
@click.option("--cpu", default="ampereone", show_default=True, help=CPU_HELP)
@click.option("--plots", "plots_dir", type=click.Path(file_okay=False), help="Write a bar chart (PNG) here.")
@click.option("--top", default=6, show_default=True, type=click.IntRange(min=1), help="Figures shown per claim.")
@click.option("--workload", "workloads", multiple=True, help="Only claims of this workload (repeatable).")
@format_option(
    help="text for people (<= 72 columns), json for programs (benchctl-model-sensitivity/2).", json_alias=True
)
@_common
def sensitivity(
    cpu,
    plots_dir,
    top,
    workloads,
    fmt,
    model,
) -> None:
    """Which assumptions move each prediction (shares of its variance)."""
    from benchctl.model.sensitivity import plot, render
    from benchctl.model.sensitivity import sensitivity as run

    r = run(
        cpu,
        top=max(top, 8),
        workloads=list(workloads),
        progress=_progress("sensitivity"),
        **model,
    )
    path = plot(r, Path(plots_dir), top=top) if plots_dir else None
    if fmt == "json":
        if path:
            r["plot"] = str(path)
        _echo_json(r)
        return
    click.echo(render(r, top=top))
    if path:
        click.echo(f"\nbar chart (SIMULATED): {path}")


@group.command()
@click.argument("claim_ids", nargs=-1)
@click.option("--cpu", default="ampereone", show_default=True, help=CPU_HELP)
@click.option("--top", default=4, show_default=True, type=click.IntRange(min=1, max=8), help="Assumptions per claim.")
@click.option("--plots", "plots_dir", type=click.Path(file_okay=False), help="Write the figure (PNG + SVG) here.")
@CALIBRATION
@format_option(help="text for people (<= 72 columns), json for programs (benchctl-model-explain/1).", json_alias=True)
@_common
def explain(claim_ids, cpu, top, plots_dir, calibration, fmt, model) -> None:
    """What each published value outside its interval would need.

    For each claim (CLAIM_IDS, default all) whose published value lies
    outside the 90 % interval: the value of each top assumption that alone
    reaches it, the nearest joint point, and how improbable that is.
    Inverts the model; changes nothing in it.
    """
    from benchctl.model.explain import explain as run
    from benchctl.model.render import render_explain

    r = run(
        cpu,
        claim_ids=list(claim_ids),
        top=top,
        plots_dir=Path(plots_dir) if plots_dir else None,
        calibration=[Path(c) for c in calibration] or None,
        progress=_progress("explain"),
        **model,
    )
    _show(r, fmt, render_explain)
    if fmt != "json" and r.get("plot"):
        click.echo(f"\nfigure (SIMULATED): {r['plot']}")


@group.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option(
    "--baseline", default="pte", show_default=True, help="Baseline arm label (workload runs with perf counters only)."
)
@click.option(
    "--candidate",
    default="block",
    show_default=True,
    help="Candidate arm label (workload runs with perf counters only).",
)
@format_option(help="text for people (<= 72 columns), json for programs (benchctl-calibration/1).", json_alias=True)
def calibrate(run_dirs, baseline, candidate, fmt) -> None:
    """Measured translation costs with standard errors (tlb-probe runs).

    RUN_DIRS are `benchctl run tlb-probe` folders (or workload runs with
    perf counters, for a cycles-per-walk fit). Refuses when the arms do
    not differ. `model predict --calibration RUN` uses the same runs.
    """
    from benchctl.model.calibrate import calibrate as run
    from benchctl.model.render import render_calibration

    r = run([Path(d) for d in run_dirs], baseline=baseline, candidate=candidate)
    _show(r, fmt, render_calibration)


@group.command()
@click.option("--cpu", required=True, help=CPU_HELP)
@click.option("--arms", default="pte,block", show_default=True, help="Comma-separated arms to write.")
@click.option("--boots", default=3, show_default=True, type=int, help="Simulated boots per arm.")
@click.option("--iterations", default=5, show_default=True, type=int, help="Iterations per boot.")
@out_option("Results directory.", dest="out_dir", required=True, type=click.Path(file_okay=False))
@click.option("--workload", "workloads", multiple=True, help="Only this workload (repeatable).")
@click.option(
    "--boot-noise", default=0.01, show_default=True, type=float, help="Boot-to-boot coefficient of variation."
)
@click.option(
    "--iteration-noise", default=0.005, show_default=True, type=float, help="Within-boot coefficient of variation."
)
@_common
def simulate(
    cpu,
    arms,
    boots,
    iterations,
    out_dir,
    workloads,
    boot_noise,
    iteration_noise,
    model,
) -> None:
    """Write simulated run folders (marked simulated) for analyze to read."""
    from benchctl.model.render import render_simulated
    from benchctl.model.simulate import simulate as run

    paths = run(
        cpu,
        Path(out_dir),
        arms=[a.strip() for a in arms.split(",") if a.strip()],
        boots=boots,
        iterations=iterations,
        workloads=list(workloads),
        boot_cv=boot_noise,
        iter_cv=iteration_noise,
        **{k: v for k, v in model.items() if k != "draws"},  # --draws: accepted, simulate() takes none
    )
    click.echo(render_simulated(paths, out_dir, model["claims_file"] or CLAIMS_FILE))
