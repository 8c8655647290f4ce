"""`benchctl workloads`: what can be run, with which presets, and what each needs."""

from __future__ import annotations

import shutil
from typing import Any

import click

from benchctl.commands.common import echo, format_option


def _driver_limits(w) -> list[str]:
    """What the driver itself needs with the default preset: programs that depend on parameters
    (e.g. cryptsetup only with crypt=dm-crypt) and kernel features (device-mapper)."""
    from benchctl.run.drivers import load_driver

    try:
        driver = load_driver(w.driver)
        params = w.resolve().params
    except Exception as e:  # a broken driver must not hide the other workloads
        return [f"driver {w.driver} cannot be loaded ({e})"]
    out = [
        f"{prog} ({pkg})"
        for prog, pkg in driver.requirements(params)
        if prog not in w.programs and not shutil.which(prog)
    ]
    host_limits = getattr(driver, "host_limits", None)
    return out + (host_limits(params) if host_limits else [])


@click.command(name="workloads")
@format_option(json_alias=True)
def command(fmt: str) -> None:
    """List workloads, their presets and what each needs (and whether this host has it)."""
    from benchctl.errors import InputError
    from benchctl.run.specs import list_workload_names, load_workload, workloads_dir

    rows: list[dict[str, Any]] = []
    broken: list[str] = []
    for name in list_workload_names():
        try:
            w = load_workload(name)
        except InputError as e:
            broken.append(str(e))
            continue
        missing = [f"{prog} ({pkg})" for prog, pkg in w.programs.items() if not shutil.which(prog)]
        missing += _driver_limits(w)
        for group in w.one_of:
            if not any(shutil.which(p) for p in group):
                missing.append("one of " + ", ".join(f"{p} ({pkg})" for p, pkg in group.items()))
        rows.append(
            {
                "name": w.name,
                "driver": w.driver,
                "description": w.description,
                "presets": {
                    p.name: {
                        "description": p.description,
                        "iterations": p.iterations,
                        "warmup": p.warmup,
                        "set": p.values,
                    }
                    for p in w.presets.values()
                },
                "needs": {"programs": w.programs, "one_of": w.one_of, "min_memory_mb": w.min_memory_mb, "root": w.root},
                "missing_here": missing,
            }
        )
    if fmt == "json":
        import json

        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"no workloads in {workloads_dir()}")
    for r in rows:
        _show(r)
    if broken:
        for b in broken[1:]:
            click.echo(f"benchctl: error: {b}", err=True)
        raise InputError(broken[0])


def _show(r: dict) -> None:
    """One workload as text, every line within 72 columns."""
    echo(f"{r['name']}: {r['description']}", "  ")
    for pname, p in r["presets"].items():
        sets = ", ".join(f"{k}={v}" for k, v in p["set"].items())
        echo(
            f"  preset {pname}: {p['iterations']} iterations + {p['warmup']} warm-up"
            f"{' - ' + p['description'] if p['description'] else ''}{' [' + sets + ']' if sets else ''}"
        )
    needs = [f"{prog} ({pkg})" for prog, pkg in r["needs"]["programs"].items()]
    needs += ["one of " + " | ".join(g) for g in r["needs"]["one_of"]]
    if r["needs"]["min_memory_mb"]:
        needs.append(f">= {r['needs']['min_memory_mb']} MiB free")
    if r["needs"]["root"]:
        needs.append("root")
    echo(f"  needs: {'; '.join(needs) or 'nothing'}")
    echo(f"  here: {'ready' if not r['missing_here'] else 'missing ' + '; '.join(r['missing_here'])}")
    echo(f"  parameters: benchctl run {r['name']} --help")
