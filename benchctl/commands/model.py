"""`benchctl model`: predict what the change should do, without the hardware.

Thin CLI over benchctl.model.*: each subcommand parses options, calls one
plain function and prints its result (text, or --json). Everything printed
is model output and is labelled SIMULATED; pagetables is exact arithmetic but
still a computation, not a reading of a machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from benchctl.errors import UsageError

BANNER = "SIMULATED - benchctl model output, not a measurement"


def _echo_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2))


def _ram(text: str):
    from benchctl.sizes import parse_size

    ram = parse_size(text, what="--ram", error=UsageError)
    if ram <= 0:
        raise UsageError("--ram must be positive")
    return ram


@click.group(name="model")
def group() -> None:
    """Cost model of the block-mapped linear map (all output SIMULATED).

    pagetables is exact arithmetic; predict, sensitivity and simulate are a
    parametric model whose assumptions are data (benchctl/model/data/) and
    are listed with every prediction. See docs/model.md.
    """


@group.command()
@click.option("--ram", "ram_text", help="RAM size, e.g. 256G, 1T, 512M.")
@click.option("--granule", default=None, help="4k, 16k or 64k (default 4k, or the fingerprint's).")
@click.option("--from-env", "env_file", type=click.Path(dir_okay=False), help="Take RAM and granule from a `benchctl env --json` file.")
@click.option("--kernel-image", default="0", help="Size of the kernel image alias (mapped without CONT in both arms).")
@click.option("--kfence", default="0", help="KFENCE pool size (PTE-mapped in the block arm), e.g. 2M.")
@click.option("--perm-changes", default=0, type=click.IntRange(min=0), help="Scattered 4 KiB permission changes that split blocks.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def pagetables(ram_text, granule, env_file, kernel_image, kfence, perm_changes, as_json) -> None:
    """Bytes of linear-map page tables, PTE arm vs block arm (exact)."""
    from benchctl.model.pagetables import compare, from_fingerprint, parse_granule
    from benchctl.sizes import fmt_size, parse_size
    from benchctl.documents import load_json

    g = parse_granule(granule) if granule else None
    source = "command line"
    notes = []
    if env_file:
        doc = load_json(Path(env_file))
        ram, env_g = from_fingerprint(doc, env_file)
        arch = (doc.get("host") or {}).get("arch")
        if arch and arch not in ("aarch64", "arm64"):
            notes.append(f"the fingerprint is from a {arch} host; the arithmetic is arm64's linear map for its RAM size")
        g = g or env_g
        source = f"{env_file} (memory.total_kb, kernel.page_size)"
        if ram_text:
            ram = _ram(ram_text)
    elif ram_text:
        ram = _ram(ram_text)
    else:
        raise UsageError("give --ram SIZE or --from-env FILE")
    g = g or 4096
    if ram % g:
        ram = ram // g * g
    r = compare(ram, g, kernel_image=parse_size(kernel_image, what="--kernel-image", error=UsageError),
                kfence_pool=parse_size(kfence, what="--kfence", error=UsageError), perm_changes=perm_changes)
    r["source"] = source
    r["notes"] = notes
    if as_json:
        _echo_json(r)
        return
    click.echo(f"{BANNER} (exact page-table arithmetic)")
    click.echo(f"RAM {fmt_size(ram)} ({source}), granule {fmt_size(g)}, VA_BITS=48")
    click.echo(f"{'table level':<12} {'PTE arm':>16} {'block arm':>16} {'saving':>16}")
    for lv in r["levels"]:
        click.echo(f"{lv['level']:<12} {fmt_size(lv['pte_arm_bytes']):>16} {fmt_size(lv['block_arm_bytes']):>16} "
                   f"{fmt_size(lv['saving_bytes']):>16}")
    click.echo(f"{'total':<12} {fmt_size(r['pte_arm_bytes']):>16} {fmt_size(r['block_arm_bytes']):>16} "
               f"{fmt_size(r['saving_bytes']):>16}")
    for n in notes:
        click.echo(f"note: {n}")
    click.echo("mapped by (block arm): " + ", ".join(f"{k} {fmt_size(v)}" for k, v in r["mapped_bytes"]["block"].items() if v))


def _common(f):
    f = click.option("--set", "overrides", multiple=True, metavar="NAME=VALUE", help="Override a model parameter (repeatable).")(f)
    f = click.option("--cpu-file", type=click.Path(dir_okay=False), help="CPU profiles file (default: the shipped one).")(f)
    f = click.option("--workload-file", type=click.Path(dir_okay=False), help="Workload profiles file.")(f)
    f = click.option("--claims", "claims_file", type=click.Path(dir_okay=False), help="Claims file (default analysis/claims/bbml2.toml).")(f)
    f = click.option("--ram", "ram_text", default="256G", show_default=True, help="RAM size of the modelled machine.")(f)
    return f


@group.command()
@click.option("--cpu", required=True, help="CPU profile: neoverse-n1, neoverse-v1, neoverse-v2, neoverse-v3, ampereone, cortex-x4, generic.")
@click.option("--workload", "workloads", multiple=True, help="Only claims of this workload (repeatable).")
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True)
@_common
def predict(cpu, workloads, seed, as_json, overrides, cpu_file, workload_file, claims_file, ram_text) -> None:
    """Predicted change for each claim, with a range and its assumptions."""
    from benchctl.model.predict import predict as run

    r = run(cpu, ram=_ram(ram_text), workloads=list(workloads), overrides=list(overrides), cpu_file=cpu_file,
            workload_file=workload_file, claims_file=claims_file, seed=seed)
    if as_json:
        _echo_json(r)
        return
    click.echo(render_predictions(r))


def render_predictions(r: dict) -> str:
    allow = "on" if r["on_allow_list"] else "NOT on"
    lines = [BANNER, f"CPU {r['cpu_name']} ({allow} the BBML2_NOABORT allow-list), RAM {r['ram_bytes'] >> 30} GiB; "
             f"claims from {r['claims_source']}", ""]
    lines.append(f"{'claim':<15} {'metric':<22} {'predicted':>10} {'range':>21} {'published':>15} {'MPKI pte->block':>17}")
    for p in r["predictions"]:
        pub = p["published_pct"]
        pub_s = "-" if not pub else (f"{pub[0]:+.1f} %" if pub[0] == pub[1] else f"{pub[0]:+.0f}..{pub[1]:+.0f} %")
        rng = f"[{p['range_pct'][0]:+.2f}, {p['range_pct'][1]:+.2f}] %"
        mpki = f"{p['mpki']['pte']:.3f}->{p['mpki']['block']:.3f}" if "mpki" in p else "-"
        lines.append(f"{p['claim']:<15} {p['metric']:<22} {p['change_pct']:>+8.2f} % {rng:>21} {pub_s:>15} {mpki:>17}")
    for w in r.get("warnings", []):
        lines.append(f"WARNING: {w}")
    lines.append("")
    lines.append("Assumptions (assumed figures with their swept range; `benchctl model sensitivity` ranks them):")
    seen: set[str] = set()
    for p in r["predictions"]:
        lines.append(f"  {p['claim']}:")
        for a in p["assumptions"]:
            if a in seen:
                continue
            seen.add(a)
            lines.append(f"    - {a}")
    return "\n".join(lines)


@group.command()
@click.option("--cpu", default="ampereone", show_default=True)
@click.option("--plots", "plots_dir", type=click.Path(file_okay=False), help="Write a tornado plot (PNG) here.")
@click.option("--top", default=6, show_default=True, type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True)
@_common
def sensitivity(cpu, plots_dir, top, as_json, overrides, cpu_file, workload_file, claims_file, ram_text) -> None:
    """Which assumed parameters move each prediction most."""
    from benchctl.model.sensitivity import render, sensitivity as run, tornado

    r = run(cpu, ram=_ram(ram_text), overrides=list(overrides), cpu_file=cpu_file, workload_file=workload_file,
            claims_file=claims_file)
    path = tornado(r, Path(plots_dir), top=top) if plots_dir else None
    if as_json:
        if path:
            r["plot"] = str(path)
        _echo_json(r)
        return
    click.echo(render(r, top=top))
    if path:
        click.echo(f"\ntornado plot (SIMULATED): {path}")


@group.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--baseline", default="pte", show_default=True)
@click.option("--candidate", default="block", show_default=True)
@click.option("--workload-file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def calibrate(run_dirs, baseline, candidate, workload_file, as_json) -> None:
    """Fit walk cost and kernel cycles per op from runs with perf counters."""
    from benchctl.model.calibrate import calibrate as run

    r = run([Path(d) for d in run_dirs], baseline=baseline, candidate=candidate, workload_file=workload_file)
    if as_json:
        _echo_json(r)
        return
    if r["simulated"]:
        click.echo("SIMULATED input: " + r["kind"])
    for f in r["fits"]:
        click.echo(f"{f['workload']}: {f['points']} iterations, arms {', '.join(f['arms'])}")
        if "walk_cycles_fitted" not in f:
            click.echo(f"  {f['note']}")
            continue
        click.echo(f"  walk cost {f['walk_cycles_fitted']:.1f} cycles/walk; kernel CPI without walks "
                   f"{f['kernel_cpi_without_walks']:.3f}")
        if "predicted_change_pct" in f:
            click.echo(f"  kernel cycles/op {f['kernel_cycles_per_op_fitted']:.0f} (at an assumed "
                       f"{f['assumed_kernel_instructions_per_op']:.0f} kernel instructions/op)")
            click.echo(f"  MPKI {baseline} {f['mpki'][baseline]:.3f} -> {candidate} {f['mpki'][candidate]:.3f}; "
                       f"{f['metric']}: measured {f['measured_change_pct']:+.2f} %, model {f['predicted_change_pct']:+.2f} %")


@group.command()
@click.option("--cpu", required=True)
@click.option("--arms", default="pte,block", show_default=True, help="Comma-separated arms to write.")
@click.option("--boots", default=3, show_default=True, type=int)
@click.option("--iterations", default=5, show_default=True, type=int)
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Results directory.")
@click.option("--workload", "workloads", multiple=True, help="Only this workload (repeatable).")
@click.option("--boot-noise", default=0.01, show_default=True, type=float, help="Boot-to-boot coefficient of variation.")
@click.option("--iteration-noise", default=0.005, show_default=True, type=float, help="Within-boot coefficient of variation.")
@_common
def simulate(cpu, arms, boots, iterations, seed, out_dir, workloads, boot_noise, iteration_noise, overrides,
             cpu_file, workload_file, claims_file, ram_text) -> None:
    """Write simulated run folders (marked simulated) for analyze to read."""
    from benchctl.model.simulate import simulate as run

    paths = run(cpu, Path(out_dir), arms=[a.strip() for a in arms.split(",") if a.strip()], boots=boots,
                iterations=iterations, seed=seed, ram=_ram(ram_text), workloads=list(workloads),
                boot_cv=boot_noise, iter_cv=iteration_noise, overrides=list(overrides), cpu_file=cpu_file,
                workload_file=workload_file, claims_file=claims_file)
    click.echo(f"{BANNER}: wrote {len(paths)} simulated run folders under {out_dir}")
    click.echo(f"next: benchctl analyze {paths[0].parent} --baseline pte --candidate block")
