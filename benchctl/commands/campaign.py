"""`benchctl campaign`: plan, run, status (controller) and verify (on the host); docs/campaign.md."""

from __future__ import annotations

import json
from pathlib import Path

import click

from benchctl.commands.common import claims_hint, format_option, out_option
from benchctl.errors import UsageError
from benchctl.human import fit


@click.group(name="campaign")
def group() -> None:
    """Two kernels x several boots per host, interleaved and verified, through Ansible.

    \b
      benchctl campaign plan --arm pte=KERNEL[:CMDLINE] \\
          --arm block=KERNEL[:CMDLINE] --hosts INVENTORY --boots N -o DIR
      benchctl campaign run DIR          # resumes where it stopped
      benchctl campaign status DIR
      benchctl analyze DIR --claims bbml2

    Exit codes: 0 done; 1 a host stopped (its finished boots are kept; run
    again to resume); 2 bad command line; 3 bad plan, progress or inventory;
    4 Ansible missing; 5 controller disk full or campaign locked; 130
    interrupted.
    """


@group.command("plan")
@click.option(
    "--arm",
    "arms",
    multiple=True,
    required=True,
    metavar="LABEL=KERNEL[:CMDLINE]",
    help="Twice: baseline first, then candidate. KERNEL: path or release on the host (kexec, command) "
    "or grub menu entry; CMDLINE: whole command line, or +PARAMS added to the current one.",
)
@click.option(
    "--hosts",
    "inventory",
    required=True,
    type=click.Path(path_type=Path),
    metavar="INVENTORY",
    help="Ansible inventory (any format ansible-inventory reads).",
)
@click.option("--boots", type=click.IntRange(1), default=2, show_default=True, help="Boots per arm and host.")
@click.option("--order", type=click.Choice(["abab", "abba", "random"]), default="abab", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --order random (per host).")
@click.option("--suite", help="Suite to run on every boot (default bbml2, unless --workload is given).")
@click.option("--workload", "workloads", multiple=True, help="Workload to run on every boot (repeatable).")
@click.option("--preset", default="claim", show_default=True, help="Preset of the suite or workloads.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Workload parameter override.")
@click.option("--no-perf", is_flag=True, help="Run without perf stat.")
@click.option(
    "--boot-method", type=click.Choice(["kexec", "grub-reboot", "command"]), default="kexec", show_default=True
)
@click.option(
    "--boot-command",
    help="For --boot-method command: run on this controller, e.g. 'labctl boot "
    "{host} {kernel} {cmdline}' (also {arm} {initrd} {boot} {midr}).",
)
@click.option("--initrd", "initrds", multiple=True, metavar="ARM=PATH", help="Initrd of an arm ('none': no initrd).")
@click.option(
    "--expect",
    "expects",
    multiple=True,
    metavar="ARM:KEY=VALUE",
    help="What a boot of ARM must show: release, rodata, linear_map, "
    "linear_map_source (kcore, ptdump, ...), midr (every CPU's), bbml2 (yes/no: "
    "the kernel log's BBML2 line); VALUE any = not checked.",
)
@click.option("--reboot-timeout", type=click.IntRange(1), default=600, show_default=True, metavar="S")
@click.option("--suite-timeout", type=click.IntRange(1), default=7200, show_default=True, metavar="S")
@click.option("--connect-timeout", type=click.IntRange(1), default=30, show_default=True, metavar="S")
@out_option("New campaign folder.", dest="output", required=True, type=click.Path(path_type=Path), metavar="DIR")
def plan_command(
    arms,
    inventory,
    boots,
    order,
    seed,
    suite,
    workloads,
    preset,
    sets,
    no_perf,
    boot_method,
    boot_command,
    initrds,
    expects,
    reboot_timeout,
    suite_timeout,
    connect_timeout,
    output,
) -> None:
    """Write DIR/plan.json, inventory.yml, campaign.yml and ansible.cfg.

    The playbook runs unchanged by hand: cd DIR && ansible-playbook campaign.yml -e boot=0.
    """
    from benchctl.campaign.folder import plan_campaign
    from benchctl.campaign.schedule import describe

    doc = plan_campaign(
        output,
        inventory,
        arms=arms,
        boot=(boot_method, boot_command, initrds, expects),
        order=(boots, order, seed),
        run=(suite, workloads, preset, sets, not no_perf),
        timeouts={"reboot_s": reboot_timeout, "suite_s": suite_timeout, "connect_s": connect_timeout},
    )
    click.echo(describe(doc))
    click.echo(
        fit(
            f"campaign folder: {output}\n  run it:  benchctl campaign run {output}\n"
            f"  by hand: cd {output} && ansible-playbook campaign.yml -e boot=0"
        )
    )


@group.command("run")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--limit", help="Only these hosts (comma-separated).")
@click.option(
    "--min-free",
    default="64M",
    show_default=True,
    metavar="SIZE",
    help="Refuse to start a boot with less free space than this in DIR.",
)
@click.option("-v", "--verbose", count=True, help="Pass -v to ansible-playbook (its output goes to DIR/logs/).")
@click.option(
    "--until-decided",
    is_flag=True,
    help="Stop when every claim is decided (anytime-valid sequences; recorded in plan.json).",
)
@click.option("--max-boots", type=click.IntRange(2), help="With --until-decided: per arm (default: the plan's).")
@click.option("--claims", "claims_file", help="With --until-decided: claims to decide (default bbml2).")
@click.option("--confidence", type=click.FloatRange(0.5, 0.999), help="With --until-decided (default 0.95).")
def run_command(
    folder: Path,
    limit: str | None,
    min_free: str,
    verbose: int,
    until_decided: bool,
    max_boots: int | None,
    claims_file: str | None,
    confidence: float | None,
) -> None:
    """Do every planned boot not done yet; one line per boot and host, with the ETA.

    With --until-decided (docs/campaign.md): after every pair of boots, each claim's
    state and the boots it still expects to need; no more boots once every
    claim is decided, or at --max-boots per arm.
    """
    from benchctl.campaign.runner import RunnerOptions, run_campaign
    from benchctl.human import parse_size

    if not until_decided and (max_boots or claims_file or confidence):
        raise UsageError("--max-boots, --claims and --confidence belong to --until-decided")
    opts = RunnerOptions(
        limit=[h.strip() for h in limit.split(",") if h.strip()] if limit else None,
        min_free=parse_size(min_free, "--min-free", error=UsageError),
        echo=lambda s: click.echo(fit(s), err=False),
        ansible_args=["-" + "v" * verbose] if verbose else [],
        until_decided=until_decided,
        claims=claims_file,
        max_boots=max_boots,
        confidence=confidence,
    )
    rep = run_campaign(folder, opts)
    a = rep["adaptive"]
    if rep["decided"]:
        head = f"campaign: every claim decided after {rep['boots_done']} boots (adaptive, plan.json); analyze with:"
    elif a:
        head = f"campaign: {a['max_boots']} boots per arm reached with claims undecided (adaptive); analyze with:"
    else:
        head = f"campaign: all {rep['boots_planned']} planned boots done; analyze with:"
    click.echo(fit(f"{head}\n  benchctl analyze {folder}" + ("" if a else f" --claims {claims_hint()}")))


@group.command("status")
@click.argument("folder", type=click.Path(path_type=Path))
@format_option(help="text for people (<= 72 columns), json for programs (benchctl-campaign-status/1).", json_alias=True)
def status_command(folder: Path, fmt: str) -> None:
    """Boots done / planned per host and arm, the last error per host, the ETA."""
    from benchctl.campaign import progress
    from benchctl.campaign.schedule import load_schedule

    plan = load_schedule(folder)
    prog = progress.load(folder, plan)
    if fmt == "json":
        click.echo(json.dumps(progress.status_report(plan, prog), indent=2))
    else:
        click.echo(progress.status_text(plan, prog))


_ROOT = click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/"),
    show_default=True,
    metavar="DIR",
    help="Read a recorded tree instead of this system (as `benchctl env --root`; stand-in test hosts only).",
)
_EXPECT = click.option(
    "--expect", "expect_json", required=True, metavar="JSON", help="The arm's expectation (plan.json arms.ARM.expect)."
)


def _expectation(expect_json: str) -> dict:
    try:
        expect = json.loads(expect_json)
    except json.JSONDecodeError as e:
        raise UsageError(f"--expect is not JSON ({e.msg})") from None
    if not isinstance(expect, dict):
        raise UsageError("--expect must be a JSON object")
    return expect


@group.command("verify")
@click.option("--arm", required=True, help="The arm this boot must be.")
@_EXPECT
@_ROOT
@out_option(
    "Also write the verification record (benchctl-campaign-verify/1) here.",
    dest="output",
    type=click.Path(dir_okay=False, path_type=Path),
)
def verify_command(arm: str, expect_json: str, root: Path, output: Path | None) -> None:
    """On the host, after a reboot: is this boot the planned arm? Exit 1 if not."""
    from benchctl.campaign.measure import check_boot
    from benchctl.errors import RunFailed

    v = check_boot(arm, _expectation(expect_json), root, output)
    if not v.ok:
        raise RunFailed(v.line())
    click.echo(fit(v.line()))


@group.command("measure")
@click.option("--arm", required=True, help="The arm this boot must be, and the label of its runs.")
@_EXPECT
@_ROOT
@out_option(
    "The boot's folder: DIR/verify.json, DIR/runs/; packed into DIR.tar.gz.",
    dest="output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
)
@click.option("--suite", help="Suite to run.")
@click.option("--workload", "workloads", multiple=True, help="Workload to run (repeatable).")
@click.option("--preset", help="Preset of the suite or workloads.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Workload parameter override.")
@click.option("--no-perf", is_flag=True, help="Run without perf stat.")
def measure_command(arm, expect_json, root, output, suite, workloads, preset, sets, no_perf) -> None:
    """On the host, after a reboot: verify the boot is the planned arm, run the suite, pack DIR.tar.gz.

    Nothing is measured on a boot that fails verification. Errors name the step (verify:, run:, pack:).
    """
    from benchctl.campaign.measure import RunSpec, measure

    if bool(suite) == bool(workloads):
        raise UsageError("give --suite or --workload (not both)")
    spec = RunSpec(suite=suite, workloads=list(workloads), preset=preset, sets=list(sets), perf=not no_perf)
    click.echo(measure(arm, _expectation(expect_json), output, spec, root))
