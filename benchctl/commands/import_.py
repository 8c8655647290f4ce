"""`benchctl import`: outputs of runs made by hand become a run folder marked imported.

Each FILE is one iteration, in the order given. TOOL is optional: the
format is recognised from the content (benchctl.parsers.detect) and the
command says what it found. The same pure parsers as `run` read the files,
so an imported memtier JSON yields exactly the metrics a benchctl run would
record, and every record carries what the output says was measured
(operation, rw mode, block size, engine, dm-crypt or not) plus what the
user states with --set where the output cannot show it (the filesystem).
analyze refuses to compare arms whose setups differ. The host and boot of
a hand run are unknown unless given; by default each import is its own
boot so analyze never pools it with another one by accident.
"""

from __future__ import annotations

from pathlib import Path

import click

from benchctl.commands.common import out_option
from benchctl.errors import UsageError

TOOLS = ("memtier", "mutilate", "memaslap", "memcaslap", "perf", "fio", "xfs_io")
DEFAULT_WORKLOAD = {
    "memtier": "memcached",
    "mutilate": "memcached",
    "memaslap": "memcached",
    "memcaslap": "memcached",
    "perf": "perf",
    "xfs_io": "seqread-xfs",
}


def _split(args: tuple[str, ...]) -> tuple[str | None, list[Path]]:
    """[TOOL] FILE...: the first word is TOOL when it names one and is not a file."""
    if args and args[0] in TOOLS and not Path(args[0]).exists():
        if len(args) == 1:
            raise UsageError("give the output files to import after TOOL")
        return args[0], [Path(a) for a in args[1:]]
    return None, [Path(a) for a in args]


def _tool_of(files: list[Path]) -> str:
    from benchctl.commands.common import say
    from benchctl.results.measured import detect_tool

    found = [(f, *detect_tool(f)) for f in files]
    tools = sorted({t for _, t, _ in found})
    if len(tools) > 1:
        raise UsageError(
            f"the files come from different tools ({', '.join(tools)}); import each tool's outputs separately"
        )
    fmts = sorted({fmt for _, _, fmt in found})
    say(f"detected {tools[0]} output ({', '.join(fmts)}) in {len(files)} file(s)")
    return tools[0]


def _workload(tool: str, setup: dict[str, str]) -> str:
    """The workload the outputs measured, named as benchctl's own runs name it."""
    if tool == "fio":
        return "fio-dmcrypt" if setup.get("crypt") == "dm-crypt" else "fio"
    if tool == "xfs_io" and setup.get("op") == "write":
        return "xfs_io-pwrite"
    return DEFAULT_WORKLOAD[tool]


@click.command(name="import")
@click.argument("args", nargs=-1, required=True, metavar="[TOOL] FILE...")
@click.option("--arm", required=True, help="Arm label of the kernel these outputs were measured on.")
@out_option(
    "Results root (default ./results): the folder goes to DIR/<host>/<run-id>/.",
    dest="output",
    type=click.Path(file_okay=False, path_type=Path),
)
@click.option("--workload", help="Workload name for the records (default: from what was measured).")
@click.option("--host", default="unknown", show_default=True, help="Host the outputs came from.")
@click.option("--boot", help="Boot id of that host's run (default: a new id per import = one boot).")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="What the outputs cannot show, e.g. fs=xfs or crypt=dm-crypt (keys: op, crypt, fs, rw, "
    "bs, ioengine, backing, generator).",
)
def command(
    args: tuple[str, ...],
    arm: str,
    output: Path | None,
    workload: str | None,
    host: str,
    boot: str | None,
    sets: tuple[str, ...],
) -> None:
    """Turn outputs of runs made by hand into a run folder marked imported.

    TOOL (memtier, mutilate, memaslap, perf, fio, xfs_io) is optional: the
    format is detected. Each FILE is one iteration. Exit 2 on a bad option,
    3 on a file that is not the tool's output.
    """
    from benchctl.commands.common import next_analyze, say
    from benchctl.results.importer import ALIASES, import_files, write_run
    from benchctl.results.measured import apply_sets, caveats, describe
    from benchctl.run.specs import parse_overrides

    tool, files = _split(args)
    tool = ALIASES.get(tool, tool) if tool else _tool_of(files)
    user = parse_overrides(sets)
    # Every file is parsed before anything is written: a bad one leaves no half-imported run.
    parsed = import_files(tool, files)
    found = describe(tool, parsed)
    setup = apply_sets(found, user)
    workload = workload or _workload(tool, setup)
    _tell(found, setup, user, host, boot)
    for c in caveats(parsed):
        say(c, "benchctl: caveat: ")
    try:
        n, folder = write_run(
            tool,
            parsed,
            arm=arm,
            results=output or Path("results"),
            workload=workload,
            host=host,
            boot=boot,
            setup=setup,
            given=user,
        )
    except OSError as e:
        from benchctl.errors import ResourceError

        raise ResourceError(f"cannot write the imported run under {output or 'results'} ({e.strerror or e})") from None
    say(f"imported {n} records from {len(parsed)} file(s) as workload {workload}, arm {arm}")
    root = folder.path.parent.parent
    say(next_analyze(root, arm), "next: ")
    click.echo(folder.path)


def _tell(found, setup: dict[str, str], user: dict[str, str], host: str, boot: str | None) -> None:
    from benchctl.commands.common import say

    explained = {s.split("=")[0].split(":")[0] for s in found.said}
    shown = ", ".join(f"{k}={v}" for k, v in sorted(setup.items()) if k not in user and k not in explained)
    if shown:
        say(f"measured: {shown}")
    for s in found.said:
        if s.split("=")[0].split(":")[0] not in user:
            say(s)
    if user:
        say("given: " + ", ".join(f"{k}={v}" for k, v in sorted(user.items())))
    missing = [k for k in found.unknown if k not in user]
    if missing:
        say(
            f"not in the output: {', '.join(missing)}; give --set {missing[0]}=VALUE, or analyze will not "
            "compare these runs with runs that record it"
        )
    if host == "unknown":
        say("host: unknown (give --host NAME; analyze names the host in its design line)")
    if boot is None:
        say("boot: a new id for this import, counted as one boot (give --boot ID to put imports of one boot together)")
