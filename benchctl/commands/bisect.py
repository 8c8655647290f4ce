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
@click.option("--git", "repo", type=click.Path(file_okay=False), help="A git range instead of a list: the repository.")
@click.option("--good", help="With --git: a good commit.")
@click.option("--bad", help="With --git: a bad commit.")
@click.option("--build", "build", help="With --git: build command, run in the repository ({rev} {repo}).")
@click.option("--install", "install", help="With --git: install command, run in the repository ({rev} {repo}).")
@click.option(
    "--kernel-of",
    "kernel_of",
    metavar="TEMPLATE",
    help="With --git: the kernel a commit boots, e.g. '{rev}=/boot/vmlinuz-{rev}:+rodata=full'.",
)
@click.option("--build-timeout", type=click.IntRange(1), default=7200, show_default=True, metavar="S")
@click.option("--install-timeout", type=click.IntRange(1), default=1800, show_default=True, metavar="S")
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
def start_command(**o) -> None:
    """Write DIR/bisect.json: the kernels (or the git range), the criterion, how to boot them."""
    from benchctl.bisect import criteria, driver
    from benchctl.campaign import inventory as inv
    from benchctl.campaign import schedule

    crit = criteria.parse(o["bad_if"], o["claims_file"])
    run = None
    if crit.kind == "claim":  # each boot runs the claim's workload (a fact or log needs only a fingerprint)
        from benchctl.claims import load_claims
        from benchctl.run.specs import resolve_request

        c = next(x for x in load_claims(crit.value) if x.id == crit.key)
        resolve_request(None, (c.workload,), o["preset"], ())
        run = {"suite": None, "workloads": [c.workload], "preset": o["preset"], "set": [], "perf": True}
    method = o["boot_method"]
    arms = [schedule.parse_arm(k if "=" in k.split(":", 1)[0] else f"{_label(k)}={k}", method) for k in o["kernels"]]
    for a in arms:
        schedule.apply_overrides({a.label: a}, (), tuple(f"{a.label}:{e}" for e in o["expects"]))
    argv = schedule.parse_boot_command(o["boot_command"], method)
    git = _git(o) if o["repo"] else None
    hostvars = inv.read_inventory(o["inventory"])
    timeouts = {"reboot_s": o["reboot_timeout"], "suite_s": o["suite_timeout"], "connect_s": o["connect_timeout"]}
    driver.start(
        o["output"], arms, crit, hostvars, inventory_source=str(o["inventory"]), boots=o["boots"], method=method,
        boot_command=argv, timeouts=timeouts, run=run, git=git,
    )  # fmt: skip
    what = (
        f"{o['good']}..{o['bad']} in {o['repo']}"
        if git
        else f"{len(arms)} kernels ({arms[0].label} .. {arms[-1].label})"
    )
    click.echo(
        fit(
            f"bisect over {what}, bad if {crit.text()}, {o['boots']} boot(s) per step on "
            f"{len(hostvars)} host(s)\n  run it: benchctl bisect run {o['output']}"
        )
    )


def _git(o: dict) -> dict:
    """The git-range section, every piece checked (one-line UsageError naming what is missing)."""
    import shlex

    from benchctl.bisect import gitrange
    from benchctl.errors import UsageError

    missing = [f"--{k.replace('_', '-')}" for k in ("good", "bad", "kernel_of") if not o[k]]
    if missing:
        raise UsageError(f"--git needs {', '.join(missing)}")
    try:
        argvs = [shlex.split(o[k]) if o[k] else [] for k in ("build", "install")]
    except ValueError as e:
        raise UsageError(f"--build/--install do not parse: {e}") from None
    return gitrange.config(
        str(Path(o["repo"]).absolute()), o["good"], o["bad"], argvs[0], argvs[1], o["kernel_of"],
        build_timeout_s=o["build_timeout"], install_timeout_s=o["install_timeout"],
    )  # fmt: skip


def _label(kernel: str) -> str:
    """A kernel's label: its release, or the file name of a path, in the characters a label takes
    ("6.18.15+deb13-arm64" -> "6.18.15-deb13-arm64")."""
    import re

    return re.sub(r"[^A-Za-z0-9._-]", "-", Path(kernel.split(":", 1)[0]).name.removeprefix("vmlinuz-"))


@group.command("run")
@click.argument("folder", type=click.Path(path_type=Path))
def run_command(folder: Path) -> None:
    """Bisect until the first bad kernel (or commit) is known; then print the log."""
    from benchctl.bisect import driver, gitrange

    echo = lambda s: click.echo(fit(s))  # noqa: E731
    if driver.load(folder).get("git"):
        gitrange.run(folder, echo=echo)
    else:
        driver.run(folder, echo=echo)
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
