"""`benchctl bisect`: start, run, step (for `git bisect run`), log; docs/bisect.md."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from benchctl.commands.common import format_option, out_option
from benchctl.errors import BenchctlError
from benchctl.human import fit


@click.group(name="bisect")
def group() -> None:
    """The first kernel of an ordered list whose boots meet a criterion, by real reboots.

    \b
      benchctl bisect start --kernel 6.16.3+deb13-arm64 ... \\
          --kernel 6.18.15+deb13-arm64 --hosts INVENTORY \\
          --bad-if fact:linear_map.state=block -o DIR
      benchctl bisect run DIR            # resumes where it stopped
      benchctl bisect log DIR
      git bisect run benchctl bisect step DIR --kernel LABEL=KERNEL

    Each step boots one kernel through a campaign (kexec, grub-reboot or the
    user's boot command; every boot verified before it counts). Exit codes:
    0 done; 2 bad command line; 3 bad bisect folder or inventory; 4 Ansible
    missing. `bisect step` exits 0 good, 1 bad, 125 skip (git bisect run's
    convention) and 128 when benchctl itself fails, which stops git bisect.
    """


@group.command("start")
@click.option(
    "--kernel",
    "kernels",
    multiple=True,
    required=True,
    metavar="[LABEL=]KERNEL[:CMDLINE]",
    help="In order, oldest first: the first is assumed good, the last bad. KERNEL: a release or path on the "
    "host (as campaign plan --arm); LABEL defaults to the release.",
)
@click.option(
    "--bad-if",
    "bad_if",
    required=True,
    metavar="CRITERION",
    help="fact:KEY=VALUE (a `benchctl env` key, e.g. fact:linear_map.state=block), log:REGEX (a kernel-log "
    "line since boot, e.g. 'log:BUG: sleeping function called') or claim:ID (present vs the first kernel).",
)
@click.option("--claims", "claims_file", help="For --bad-if claim:ID: a claims file or bundled name (default bbml2).")
@click.option("--preset", default="quick", show_default=True, help="For claim criteria: the workload's preset.")
@click.option("--hosts", "inventory", required=True, type=click.Path(path_type=Path), metavar="INVENTORY")
@click.option("--boots", type=click.IntRange(1), default=1, show_default=True, help="Boots per step and host.")
@click.option(
    "--boot-method", type=click.Choice(["kexec", "grub-reboot", "command"]), default="kexec", show_default=True
)
@click.option("--boot-command", help="For --boot-method command (as campaign plan).")
@click.option(
    "--expect", "expects", multiple=True, metavar="KEY=VALUE", help="What every boot must show (e.g. midr=0x...)."
)
@click.option("--reboot-timeout", type=click.IntRange(1), default=600, show_default=True, metavar="S")
@click.option("--suite-timeout", type=click.IntRange(1), default=600, show_default=True, metavar="S")
@click.option("--connect-timeout", type=click.IntRange(1), default=30, show_default=True, metavar="S")
@out_option("New bisect folder.", dest="output", required=True, type=click.Path(path_type=Path), metavar="DIR")
def start_command(
    kernels, bad_if, claims_file, preset, inventory, boots, boot_method, boot_command, expects,
    reboot_timeout, suite_timeout, connect_timeout, output,
) -> None:  # fmt: skip
    """Write DIR/bisect.json: the kernels, the criterion, how to boot them."""
    from benchctl.bisect import criteria, driver
    from benchctl.campaign import inventory as inv
    from benchctl.campaign import plan as pl

    crit = criteria.parse(bad_if, claims_file)
    run = None
    if crit.kind == "claim":  # each boot runs the claim's workload (a fact or log needs only a fingerprint)
        from benchctl.analyze.claims import load_claims
        from benchctl.run.specs import resolve_request

        c = next(x for x in load_claims(crit.value) if x.id == crit.key)
        resolve_request(None, (c.workload,), preset, ())
        run = {"suite": None, "workloads": [c.workload], "preset": preset, "set": [], "perf": True}
    arms = [pl.parse_arm(k if "=" in k.split(":", 1)[0] else f"{_label(k)}={k}", boot_method) for k in kernels]
    for a in arms:
        pl.apply_overrides({a.label: a}, (), tuple(f"{a.label}:{e}" for e in expects))
    argv = pl.parse_boot_command(boot_command, boot_method)
    hostvars = inv.read_inventory(inventory)
    timeouts = {"reboot_s": reboot_timeout, "suite_s": suite_timeout, "connect_s": connect_timeout}
    driver.start(
        output, arms, crit, hostvars, inventory_source=str(inventory), boots=boots, method=boot_method,
        boot_command=argv, timeouts=timeouts, run=run,
    )  # fmt: skip
    click.echo(
        fit(
            f"bisect over {len(arms)} kernels ({arms[0].label} .. {arms[-1].label}), bad if {crit.text()}, "
            f"{boots} boot(s) per step on {len(hostvars)} host(s)\n  run it: benchctl bisect run {output}"
        )
    )


def _label(kernel: str) -> str:
    """A kernel's label: its release, or the file name of a path, in the characters a label takes
    ("6.18.15+deb13-arm64" -> "6.18.15-deb13-arm64")."""
    import re

    return re.sub(r"[^A-Za-z0-9._-]", "-", Path(kernel.split(":", 1)[0]).name.removeprefix("vmlinuz-"))


@group.command("run")
@click.argument("folder", type=click.Path(path_type=Path))
def run_command(folder: Path) -> None:
    """Bisect until the first bad kernel is known; then print the log."""
    from benchctl.bisect import driver

    driver.run(folder, echo=lambda s: click.echo(fit(s)))
    click.echo(driver.log_text(folder), nl=False)


@group.command("step")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--kernel", required=True, metavar="LABEL|LABEL=KERNEL[:CMDLINE]", help="A listed kernel or a new one.")
def step_command(folder: Path, kernel: str) -> None:
    """Boot one kernel, judge it: exit 0 good, 1 bad, 125 skip; 128 if benchctl fails."""
    from benchctl.bisect import driver

    try:
        doc = driver.load(folder)
        d = driver.step(folder, driver.kernel_arm(doc, kernel), echo=lambda s: click.echo(fit(s), err=True))
    except BenchctlError as e:  # any other code would read as "bad" to git bisect run
        click.echo(f"benchctl: error: {e}", err=True)
        sys.exit(128)
    click.echo(fit(f"{d['kernel']} is {d['decision']}: {'; '.join(d['evidence'])}"))
    sys.exit(driver.EXIT[d["decision"]])


@group.command("log")
@click.argument("folder", type=click.Path(path_type=Path))
@format_option(help="text (git bisect log, <= 72 columns) or json (benchctl-bisect-log/1).")
def log_command(folder: Path, fmt: str) -> None:
    """Every decision with its evidence, and the answer."""
    from benchctl.bisect import driver

    click.echo(driver.as_json(folder) if fmt == "json" else driver.log_text(folder), nl=False)
