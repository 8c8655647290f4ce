"""The host and kernel fingerprint (format benchctl-env/1, docs/result-format.md).

The run engine takes one before and one after every run, and analyze uses
them to refuse comparing runs from boots that differ in anything but the arm;
so every value carries its source, and a value that could not be read is null
with a reason rather than a guess.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchctl.documents import format_version, get, load_json
from benchctl.env.probes.base import Context, Probe
from benchctl.env.probes.cpu import CpuProbe
from benchctl.env.probes.dmesg import DmesgProbe
from benchctl.env.probes.emulation import EmulationProbe
from benchctl.env.probes.host import BootProbe, HostProbe
from benchctl.env.probes.kernel import CmdlineProbe, ConfigProbe, PageSizeProbe, ReleaseProbe
from benchctl.env.probes.mapping import LinearMapProbe, RodataProbe
from benchctl.env.probes.memory import MemoryProbe
from benchctl.env.probes.tools import VERSION_ARGS, ToolsProbe
from benchctl.env.probes.tuning import GovernorProbe, KaslrProbe, NumaProbe, PerfParanoidProbe, SmtProbe, ThpProbe
from benchctl.errors import InputError
from benchctl.human import fmt_size, wrap

FORMAT = "benchctl-env/1"
FORMAT_MAJOR = 1

# Order matters: later probes read what earlier ones found (release -> config ->
# arch -> MIDR -> dmesg -> emulation -> rodata -> expected/observed linear map).
PROBES: tuple[type[Probe], ...] = (
    ReleaseProbe,
    CmdlineProbe,
    ConfigProbe,
    HostProbe,
    PageSizeProbe,
    CpuProbe,
    DmesgProbe,
    EmulationProbe,
    MemoryProbe,
    BootProbe,
    GovernorProbe,
    ThpProbe,
    SmtProbe,
    NumaProbe,
    PerfParanoidProbe,
    KaslrProbe,
    RodataProbe,
    LinearMapProbe,
)

# Every path the contract promises; anything a probe did not reach is reported as missing.
SCHEMA = (
    "host.name",
    "host.arch",
    "host.emulation",
    "cpu.model",
    "cpu.count",
    "cpu.midr",
    "cpu.midr_is_silicon",
    "cpu.bbml2_noabort",
    "cpu.bbml2_allow_list",
    "cpu.bbml2_dmesg",
    "kernel.release",
    "kernel.version",
    "kernel.cmdline",
    "kernel.config",
    "kernel.page_size",
    "rodata.requested",
    "rodata.effective",
    "linear_map.state",
    "linear_map.source",
    "linear_map.bytes",
    "linear_map.expected",
    "memory.total_kb",
    "memory.free_kb",
    "memory.available_kb",
    "memory.page_tables_kb",
    "memory.directmap",
    "memory.ram_kb",
    "boot.id",
    "boot.uptime_s",
    "tuning.governor",
    "tuning.thp_enabled",
    "tuning.thp_defrag",
    "tuning.smt",
    "tuning.numa_nodes",
    "tuning.perf_event_paranoid",
    "tuning.kaslr",
)
SECTIONS = ("host", "cpu", "kernel", "rodata", "linear_map", "memory", "boot", "tuning", "tools")


def check_root(root: Path) -> Path:
    """A root is "/" or a recorded tree: a directory with proc/ in it."""
    root = Path(root)
    if not root.is_dir():
        raise InputError("not a directory (--root must be / or a recorded tree)", root)
    if not (root / "proc").is_dir():
        raise InputError("not a recorded tree: no proc/ directory in it", root)
    return root


def collect(root: Path = Path("/"), *, which: Callable[[str], str | None] = shutil.which) -> dict:
    """Fingerprint the system under `root` ("/" live, else a recorded tree).

    Missing sources become null + reason; only bad input raises (InputError):
    a root that is not a tree, an unreadable or undecodable file in a recorded
    tree, a malformed kernel_page_tables line.
    """
    ctx = Context(check_root(root), which)
    finish_tools = ToolsProbe().start(ctx)
    try:
        for probe in PROBES:
            probe().run(ctx)
    finally:
        finish_tools()
    for path in SCHEMA:
        if path not in ctx.values:
            ctx.miss(path, "not collected")
    fp: dict[str, Any] = {
        "format": FORMAT,
        "taken_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "root": str(ctx.root.resolve()),
        "simulated": False,
    }
    for section in SECTIONS:
        fp[section] = {}
    for path, value in ctx.values.items():
        _put(fp, path, value)
    if ctx.live and isinstance(fp.get("tools"), dict):
        fp["tools"] = {name: fp["tools"].get(name) for name in VERSION_ARGS}
    fp["sources"] = dict(sorted(ctx.sources.items()))
    fp["missing"] = dict(sorted(ctx.missing.items()))
    fp["warnings"] = list(ctx.warnings)
    fp["verdict"] = verdict(fp)
    return fp


def _put(tree: dict, dotted: str, value: Any) -> None:
    # Paths are "section.key"; a key may itself hold a dot ("tools.mkfs.xfs").
    section, _, key = dotted.partition(".")
    if not key:
        tree[section] = value
        return
    if not isinstance(tree.get(section), dict):
        tree[section] = {}
    tree[section][key] = value


_STATE_WORDS = {
    "block": "block-mapped linear map",
    "pte": "PTE-mapped linear map",
    "mixed": "mixed linear map",
    "unknown": "linear map state unknown",
}


def verdict(fp: dict) -> str:
    """One line, arm first: "arm: block-mapped linear map (ptdump), BBML2_NOABORT CPU, rodata=full"."""
    state = get(fp, "linear_map.state", "unknown")
    words = _STATE_WORDS.get(state, state)
    if state == "mixed" and get(fp, "linear_map.block_fraction") is not None:
        words += f" ({get(fp, 'linear_map.block_fraction'):.0%} in blocks)"
    source = get(fp, "linear_map.source")
    if source == "inferred":
        words += " (inferred, not observed)"
    elif source:
        words += f" ({source})"
    arch = get(fp, "host.arch")
    if arch != "aarch64":
        # The block vs PTE linear map is an arm64 question; x86's direct map is always block-mapped.
        line = f"arm: does not apply ({arch or 'unknown architecture'} host; the linear-map question is arm64's)"
        n = len(fp.get("warnings") or [])
        return line + (f", {n} warning{'s' if n != 1 else ''}" if n else "")
    parts = [f"arm: {words}"]
    if arch == "aarch64":
        bbml2 = get(fp, "cpu.bbml2_noabort")
        if bbml2 is True:
            parts.append("BBML2_NOABORT CPU")
        elif bbml2 is False:
            parts.append(f"no BBML2_NOABORT ({get(fp, 'cpu.model', 'CPU unknown')})")
        else:
            parts.append("BBML2_NOABORT unknown")
        parts.append(f"rodata={get(fp, 'rodata.effective')}" if get(fp, "rodata.effective") else "rodata unknown")
    if fp.get("warnings"):
        n = len(fp["warnings"])
        parts.append(f"{n} warning{'s' if n != 1 else ''}")
    return ", ".join(parts)


CMDLINE_SHOWN = 100  # characters of /proc/cmdline in the text summary


def summary(fp: dict) -> str:
    """The human text of `benchctl env`: the verdict, then a few lines of context."""
    g = lambda path, default="?": get(fp, path, default)  # noqa: E731
    lines = [fp.get("verdict") or verdict(fp)]
    lines.append(f"host:       {g('host.name')} ({g('host.arch')}), {g('cpu.model')} x {g('cpu.count')}")
    if isinstance(get(fp, "host.emulation"), dict):
        lines.append(f"emulation:  {emulation_text(fp)}")
    page = get(fp, "kernel.page_size")
    cmdline = str(g("kernel.cmdline", ""))
    if len(cmdline) > CMDLINE_SHOWN:
        cmdline = (
            f"{cmdline[:CMDLINE_SHOWN].rsplit(' ', 1)[0]} ... ({len(cmdline)} characters; all in env --format json)"
        )
    lines.append(f"kernel:     {g('kernel.release')}, {(str(page // 1024) + 'K') if page else '?'} pages")
    lines.append(f"cmdline:    {cmdline}")
    if get(fp, "host.arch") == "aarch64":
        midrs = ", ".join(f"{m['value']} ({m['name']}) cpus {m['cpus']}" for m in g("cpu.midr", []))
        listed = get(fp, "cpu.bbml2_allow_list")
        allow = f"allow-list of {listed}" if listed else "allow-list (release unknown)"
        lines.append(
            f"cpu:        MIDR {midrs or '?'}; {allow}: {g('cpu.bbml2_noabort', 'unknown')}, "
            f"kernel log: {g('cpu.bbml2_dmesg', 'unknown')}"
        )
        lines.append(f"rodata:     requested {g('rodata.requested', '(none)')}, effective {g('rodata.effective')}")
    census = get(fp, "linear_map.bytes")
    mapped = ", ".join(f"{k} {fmt_size(v)}" for k, v in census.items() if v) if census else "not observed"
    lines.append(f"linear map: {g('linear_map.state')} ({g('linear_map.source')}): {mapped}")
    if get(fp, "linear_map.expected"):
        lines.append(f"expected:   {g('linear_map.expected')}: {g('linear_map.expected_reason', '')}")
    lines.append(
        f"memory:     MemTotal {g('memory.total_kb')} kB, MemFree {g('memory.free_kb')} kB, "
        f"PageTables {g('memory.page_tables_kb')} kB"
    )
    gov = get(fp, "tuning.governor")
    gov_text = ",".join(sorted(set(gov.values()))) if isinstance(gov, dict) else "none"
    lines.append(
        f"tuning:     governor {gov_text}, THP {g('tuning.thp_enabled')}/{g('tuning.thp_defrag')}, "
        f"SMT {g('tuning.smt')}, NUMA nodes {g('tuning.numa_nodes')}, "
        f"perf_event_paranoid {g('tuning.perf_event_paranoid')}, KASLR {g('tuning.kaslr')}"
    )
    tools = fp.get("tools")
    if isinstance(tools, dict):
        lines.append("tools:      " + ", ".join(f"{k} {v}" for k, v in tools.items() if v))
    lines.append(f"boot:       {g('boot.id')}, up {g('boot.uptime_s')} s")
    for w in fp.get("warnings", []):
        lines.append(f"warning:    {w}")
    if get(fp, "host.arch") != "aarch64":
        lines[0] = _first_line(fp)
    # Mail and terminal width: every line <= 72 columns, continuations under the values.
    return "\n".join(line for x in lines for line in wrap(x, " " * 12, first=""))


def emulation_text(fp: dict) -> str:
    """host.emulation in words: emulated or not, how, why; and whether the MIDR is silicon."""
    em = get(fp, "host.emulation") or {}
    reason = em.get("reason") or "no reason recorded"
    if em.get("emulated") is True:
        text = reason
    elif em.get("emulated") is False:
        text = f"not emulated ({em.get('how')}): {reason}"
    else:
        text = f"unknown: {reason}"
    if get(fp, "cpu.midr_is_silicon") is False:
        text += "; the MIDR is not silicon"
    return text


def _first_line(fp: dict) -> str:
    """On a non-arm64 host: say the question does not apply, and what the direct map is here."""
    return f"{verdict(fp)}; direct map here: {get(fp, 'linear_map.state', 'unknown')}"


def load(path: Path) -> dict:
    """Read a stored fingerprint; InputError (naming the file) if unreadable, not one,
    or written in a newer major version of the format."""
    data = load_json(path)
    fmt = data.get("format") if isinstance(data, dict) else None
    try:
        major = format_version(fmt, "benchctl-env")
    except ValueError:
        major = None
    if major is None:
        raise InputError(f"not a fingerprint: format is {fmt!r}, expected {FORMAT!r}", path)
    if major > FORMAT_MAJOR:
        raise InputError(f"written in {fmt}, newer than this benchctl reads ({FORMAT}); upgrade benchctl", path)
    return data
