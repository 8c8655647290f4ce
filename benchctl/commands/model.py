"""`benchctl model`: predict what the change should do, without the hardware.

Thin CLI over benchctl.model.*: each subcommand parses options, calls one
plain function and prints its result (text of at most 72 columns, or
--json). Everything printed is model output and is labelled SIMULATED;
pagetables is exact arithmetic but still a computation, not a reading of a
machine. Options follow the other commands: --json for JSON on stdout,
-o/--output for where files go.
"""

from __future__ import annotations

import json
import os
import textwrap
import time
from pathlib import Path

import click

from benchctl.errors import UsageError

BANNER = "SIMULATED - benchctl model output, not a measurement"
WIDTH = 72
CPUS = ("ampereone", "neoverse-n1", "neoverse-v1", "neoverse-v2", "neoverse-v3", "cortex-x4", "generic")
CPU_HELP = (
    "CPU profile: " + ", ".join(CPUS) + " (benchctl/model/data/cpus.toml; "
    "N1/V1/V2 are off the BBML2_NOABORT allow-list)."
)
CLAIMS_FILE = "analysis/claims/bbml2.toml"


def _echo_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2))


def wrap(text: str, indent: str = "", first: str = "") -> list[str]:
    """Lines of at most WIDTH columns."""
    return textwrap.wrap(
        text, WIDTH, initial_indent=first or indent, subsequent_indent=indent, break_on_hyphens=False
    ) or [first.rstrip()]


def _ram(text: str):
    from benchctl.sizes import parse_size

    ram = parse_size(text, what="--ram", error=UsageError)
    if ram <= 0:
        raise UsageError("--ram must be positive")
    return ram


class Progress:
    """Progress with an ETA on stderr, once a run has taken more than `after_s` seconds."""

    def __init__(self, what: str, after_s: float = 3.0):
        self.what, self.after_s = what, after_s
        self.t0 = time.monotonic()
        self.last = 0.0
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic() - self.t0
        if now < self.after_s or now - self.last < 1.0 or done <= 0:
            return
        self.last = now
        eta = now * (total - done) / done
        click.echo(f"{self.what}: {100 * done / total:3.0f} %, about {eta:.0f} s left", err=True)
        self.shown = True


@click.group(name="model")
def group() -> None:
    """Cost model of the block-mapped linear map (all output SIMULATED).

    pagetables is exact arithmetic; predict, sensitivity and simulate are a
    model of the mechanisms whose inputs are data (benchctl/model/data/),
    each published, measured or an assumption with a distribution; calibrate
    turns tlb-probe runs into evidence for predict. See docs/model.md.
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
    help="Mapped RAM and granule from a `benchctl env --json` file (MemTotal plus memmap).",
)
@click.option("--kernel-image", default="0", help="Kernel image alias size (mapped without CONT in both arms).")
@click.option("--kfence", default="0", help="KFENCE pool size (PTE-mapped in the block arm), e.g. 2M.")
@click.option(
    "--perm-changes",
    default=0,
    type=click.IntRange(min=0),
    help="Scattered 4 KiB permission changes after boot (split blocks; cost MemFree only).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def pagetables(ram_text, unmapped, granule, env_file, kernel_image, kfence, perm_changes, as_json) -> None:
    """Linear-map page tables and the MemTotal/MemFree change (exact)."""
    from benchctl.documents import load_json
    from benchctl.model.pagetables import boot_memory, compare, from_fingerprint, parse_granule
    from benchctl.model.profiles import load_machine
    from benchctl.sizes import fmt_size, parse_size

    g = parse_granule(granule) if granule else None
    notes = []
    kimg = parse_size(kernel_image, what="--kernel-image", error=UsageError)
    kf = parse_size(kfence, what="--kfence", error=UsageError)
    if env_file:
        doc = load_json(Path(env_file))
        mapped, env_g = from_fingerprint(doc, env_file)
        arch = (doc.get("host") or {}).get("arch")
        if arch and arch not in ("aarch64", "arm64"):
            notes.append(f"the fingerprint is from a {arch} host; the arithmetic is arm64's linear map for its RAM")
        g = g or env_g
        installed, unm, unm_range = mapped, 0, None
        source = f"{env_file}: MemTotal plus memmap"
        if ram_text:
            raise UsageError("give --ram or --from-env, not both")
    elif ram_text:
        installed = _ram(ram_text)
        g = g or 4096
        if unmapped == "auto":
            fig = load_machine()["machine.unmapped_fraction"]
            unm = int(installed * fig.quantile(0.5))
            unm_range = (int(installed * fig.quantile(0.0)), int(installed * fig.quantile(1.0)))
            source = "command line; unmapped memory assumed (data/machine.toml)"
        else:
            unm, unm_range = parse_size(unmapped, what="--unmapped", error=UsageError), None
            source = "command line"
    else:
        raise UsageError("give --ram SIZE or --from-env FILE")
    g = g or 4096
    bm = boot_memory(installed, g, unmapped=unm, kernel_image=kimg, kfence_pool=kf, perm_changes=perm_changes)
    r = compare(bm.mapped, g, kernel_image=kimg, kfence_pool=kf, perm_changes=perm_changes)
    r.update(installed_bytes=installed, unmapped_bytes=unm, source=source, notes=notes, boot_memory=bm.to_json())
    if unm_range:
        lo = boot_memory(installed, g, unmapped=unm_range[1], kernel_image=kimg, kfence_pool=kf)
        hi = boot_memory(installed, g, unmapped=unm_range[0], kernel_image=kimg, kfence_pool=kf)
        r["mem_total_change_range_bytes"] = [lo.mem_total_change, hi.mem_total_change]
    if as_json:
        _echo_json(r)
        return
    out = [f"{BANNER}", "(exact page-table arithmetic)"]
    out += wrap(
        f"RAM {fmt_size(installed)} installed, {fmt_size(bm.mapped)} mapped ({source}); "
        f"granule {fmt_size(g)}, VA_BITS=48"
    )
    out.append(f"{'table level':<12}{'PTE arm':>20}{'block arm':>20}{'saving':>20}")
    for lv in r["levels"]:
        out.append(
            f"{lv['level']:<12}{fmt_size(lv['pte_arm_bytes']):>20}{fmt_size(lv['block_arm_bytes']):>20}"
            f"{fmt_size(lv['saving_bytes']):>20}"
        )
    out.append(
        f"{'total':<12}{fmt_size(r['pte_arm_bytes']):>20}{fmt_size(r['block_arm_bytes']):>20}"
        f"{fmt_size(r['saving_bytes']):>20}"
    )
    out.append(f"MemTotal change (block - PTE): {bm.mem_total_change // 1024:+,} kB")
    if unm_range:
        a, b = r["mem_total_change_range_bytes"]
        out += wrap(
            f"{a // 1024:+,}..{b // 1024:+,} kB for {fmt_size(unm_range[1])}..{fmt_size(unm_range[0])} "
            "unmapped (the assumption's range)",
            "  ",
            "  ",
        )
    out.append(
        f"MemFree change: {bm.mem_free_change // 1024:+,} kB (splits after boot: {bm.split_tables // 1024:,} kB)"
    )
    out.append(f"memmap (both arms): {fmt_size(bm.memmap)}")
    for n in notes:
        out += wrap(n, "  ", "note: ")
    mapped_by = ", ".join(f"{k} {fmt_size(v)}" for k, v in r["mapped_bytes"]["block"].items() if v)
    out += wrap(mapped_by, "  ", "block arm maps: ")
    click.echo("\n".join(out))


def _common(f):
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
@click.option(
    "--calibration",
    "calibration",
    multiple=True,
    type=click.Path(file_okay=False),
    help="A tlb-probe run folder (repeatable): weight the draws by its measurements.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (format benchctl-model-prediction/2).")
@_common
def predict(
    cpu,
    workloads,
    calibration,
    as_json,
    overrides,
    cpu_file,
    workload_file,
    machine_file,
    claims_file,
    ram_text,
    draws,
    seed,
) -> None:
    """Each claim's predicted change: median, 90 % interval, mechanism."""
    from benchctl.model.predict import predict as run

    r = run(
        cpu,
        ram=_ram(ram_text),
        workloads=list(workloads),
        overrides=list(overrides),
        cpu_file=cpu_file,
        workload_file=workload_file,
        machine_file=machine_file,
        claims_file=claims_file,
        seed=seed,
        draws=draws,
        calibration=[Path(c) for c in calibration] or None,
        progress=Progress("predict"),
    )
    if as_json:
        _echo_json(r)
        return
    click.echo(render_predictions(r))


def _pub(p: dict) -> str:
    pub = p["published_pct"]
    if not pub:
        return "-"
    return f"{pub[0]:+.3g} %" if pub[0] == pub[1] else f"{pub[0]:+.0f}..{pub[1]:+.0f} %"


def render_predictions(r: dict) -> str:
    out = [BANNER]
    arms = r["arms"]
    out += wrap(
        f"CPU {r['cpu_name']} (MIDR {r['midr']}), {r['ram_bytes'] >> 30} GiB, {r['draws']} joint draws. "
        f"Baseline {arms['pte']['kernel']}: {arms['pte']['linear_map']}; candidate "
        f"{arms['block']['kernel']}: {arms['block']['linear_map']} ({arms['block']['why']})."
    )
    if r.get("calibration"):
        c = r["calibration"]
        out += wrap(
            f"Calibrated by tlb-probe on {c['cpu_model']} ({', '.join(c['used'])}); effective draws "
            f"{c['effective_draws']:.0f} of {r['draws']}."
        )
    out.append("")
    out.append(f"{'claim':<14}{'published':>11}{'median':>10}  {'90 % interval':<20}{'in':>4}")
    for p in r["predictions"]:
        lo, hi = p.get("one_boot_interval_pct") or p["interval_pct"]
        inside = {True: "yes", False: "no", None: "-"}[p["published_inside_interval"]]
        iv = f"[{lo:+.2f}, {hi:+.2f}]"
        out.append(f"{p['claim'][:14]:<14}{_pub(p):>11}{p['median_pct']:>+9.2f}%  {iv:<20}{inside:>4}")
    out.append(f"published inside the interval: {r['inside_count']} of {len(r['predictions'])}")
    for p in r["predictions"]:
        out.append("")
        out += wrap(p["mechanism"], "  ", f"{p['claim']}: ")
        if p.get("mem_total"):
            mt = p["mem_total"]
            out += wrap(
                f"MemTotal {mt['median_kb']:+,} kB [{mt['interval_kb'][0]:+,}, {mt['interval_kb'][1]:+,}]; "
                f"MemFree {p['mem_free_kb']['median']:+,} kB; one boot per arm adds boot-to-boot noise "
                "(the interval shown).",
                "  ",
                "  ",
            )
        if p["top_assumptions"]:
            out += wrap(
                ", ".join(
                    f"{a['name'].replace('workload.', '')} {100 * a['variance_share']:.0f} %"
                    for a in p["top_assumptions"][:3]
                ),
                "    ",
                "  rests on: ",
            )
    for w in r.get("warnings", []):
        out += wrap(w, "  ", "warning: ")
    return "\n".join(out)


@group.command()
@click.option("--cpu", default="ampereone", show_default=True, help=CPU_HELP)
@click.option("--plots", "plots_dir", type=click.Path(file_okay=False), help="Write a bar chart (PNG) here.")
@click.option("--top", default=6, show_default=True, type=click.IntRange(min=1), help="Figures shown per claim.")
@click.option("--workload", "workloads", multiple=True, help="Only claims of this workload (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_common
def sensitivity(
    cpu,
    plots_dir,
    top,
    workloads,
    as_json,
    overrides,
    cpu_file,
    workload_file,
    machine_file,
    claims_file,
    ram_text,
    draws,
    seed,
) -> None:
    """Which assumptions move each prediction (shares of its variance)."""
    from benchctl.model.sensitivity import plot, render
    from benchctl.model.sensitivity import sensitivity as run

    r = run(
        cpu,
        top=max(top, 8),
        ram=_ram(ram_text),
        workloads=list(workloads),
        overrides=list(overrides),
        cpu_file=cpu_file,
        workload_file=workload_file,
        machine_file=machine_file,
        claims_file=claims_file,
        draws=draws,
        seed=seed,
        progress=Progress("sensitivity"),
    )
    path = plot(r, Path(plots_dir), top=top) if plots_dir else None
    if as_json:
        if path:
            r["plot"] = str(path)
        _echo_json(r)
        return
    click.echo(render(r, top=top))
    if path:
        click.echo(f"\nbar chart (SIMULATED): {path}")


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
@click.option("--json", "as_json", is_flag=True, help="Print JSON (format benchctl-calibration/1).")
def calibrate(run_dirs, baseline, candidate, as_json) -> None:
    """Measured translation costs with standard errors (tlb-probe runs).

    RUN_DIRS are `benchctl run tlb-probe` folders (or workload runs with
    perf counters, for a cycles-per-walk fit). Refuses when the arms do
    not differ. `model predict --calibration RUN` uses the same runs.
    """
    from benchctl.model.calibrate import calibrate as run

    r = run([Path(d) for d in run_dirs], baseline=baseline, candidate=candidate)
    if as_json:
        _echo_json(r)
        return
    click.echo(render_calibration(r))


OBS_LABELS = {
    "chase_huge_ns": "dependent load, huge pages",
    "chase_penalty_ns": "walk on a dependent load",
    "randcopy_huge_ns": "4 KiB copy of a random page",
    "randcopy_penalty_ns": "walk on a random copy",
    "seqcopy_huge_ns": "4 KiB of a streaming copy",
    "seqcopy_penalty_ns": "4 KiB boundary, stream",
}


def render_calibration(r: dict) -> str:
    if r.get("source") != "tlb-probe":
        out = [r["kind"]]
        for f in r["fits"]:
            c, a = f["cycles_per_walk"], f["kernel_cpi_without_walks"]
            out += wrap(
                f"{f['workload']}: {c['mean']:.1f} +- {c['se']:.1f} cycles per walk, kernel CPI without "
                f"walks {a['mean']:.3f} +- {a['se']:.3f} ({f['iterations']} iterations; walk rates differ, "
                f"Welch p={f['walk_rate_welch_p']:.2g})"
            )
        return "\n".join(out)
    out = wrap(
        f"Measured by tlb-probe on {', '.join(r['hosts'])} ({r['cpu_model']}, {r['arch']}): "
        f"{r['iterations']} probe processes, 4 KiB vs {r['huge_arm']}, "
        f"{r['config'].get('size', 0) >> 20} MiB per arm."
    )
    out.append(f"{'quantity (ns per op)':<30}{'mean':>9}{'se':>8}  {'95 % interval':<20}")
    for name, o in r["observations"].items():
        lo, hi = o["ci95"]
        iv = f"[{lo:.1f}, {hi:.1f}]" if all(map(lambda x: abs(x) < 1e9, (lo, hi))) else "-"
        out.append(f"{OBS_LABELS.get(name, name)[:30]:<30}{o['mean']:>9.1f}{o['se']:>8.1f}  {iv:<20}")
    unsupported = [k for k, s in r.get("counters", {}).items() if not str(s).startswith("ok")]
    if unsupported:
        out += wrap(f"PMU walk counters unsupported here ({', '.join(unsupported)}): times only.")
    for w in r.get("warnings", []):
        out += wrap(w, "  ", "warning: ")
    out += ["", "next:"]
    words = ["benchctl", "model", "predict", "--cpu", "ampereone"]
    for run in r["runs"]:
        words += ["--calibration", run]
    out += shell_lines(words)
    return "\n".join(out)


@group.command()
@click.option("--cpu", required=True, help=CPU_HELP)
@click.option("--arms", default="pte,block", show_default=True, help="Comma-separated arms to write.")
@click.option("--boots", default=3, show_default=True, type=int, help="Simulated boots per arm.")
@click.option("--iterations", default=5, show_default=True, type=int, help="Iterations per boot.")
@click.option(
    "-o", "--output", "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Results directory."
)
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
    overrides,
    cpu_file,
    workload_file,
    machine_file,
    claims_file,
    ram_text,
    draws,
    seed,
) -> None:
    """Write simulated run folders (marked simulated) for analyze to read."""
    from benchctl.model.simulate import simulate as run

    paths = run(
        cpu,
        Path(out_dir),
        arms=[a.strip() for a in arms.split(",") if a.strip()],
        boots=boots,
        iterations=iterations,
        seed=seed,
        ram=_ram(ram_text),
        workloads=list(workloads),
        boot_cv=boot_noise,
        iter_cv=iteration_noise,
        overrides=list(overrides),
        cpu_file=cpu_file,
        workload_file=workload_file,
        machine_file=machine_file,
        claims_file=claims_file,
    )
    claims = claims_file or CLAIMS_FILE
    out = wrap(f"{BANNER}: wrote {len(paths)} simulated run folders under {out_dir}")
    out.append("next:")
    where = str(paths[0].parent)
    try:
        rel = os.path.relpath(where)
        where = rel if len(rel) < len(where) else where
    except ValueError:
        pass
    out += shell_lines(
        ["benchctl", "analyze", f"{where}/*", "--baseline", "pte", "--candidate", "block", "--claims", str(claims)]
    )
    click.echo("\n".join(out))


def shell_lines(words: list[str], indent: str = "  ") -> list[str]:
    """A command as lines of at most WIDTH columns, continued with backslashes (pasteable as is)."""
    lines, cur = [], indent
    for w in words:
        piece = w if cur.strip() == "" else " " + w
        if len(cur) + len(piece) + 2 > WIDTH and cur.strip():
            lines.append(cur + " \\")
            cur = indent + "    " + w
        else:
            cur += piece
    lines.append(cur)
    return lines
