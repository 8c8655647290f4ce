"""The kernel log: the BBML2 "detected" line, rejected rodata= options, KASLR state.

The "CPU features: detected: BBM Level 2 without TLB conflict abort" line is
the only user-visible sign that the kernel decided on BBML2 (no cpuinfo flag),
and "Invalid option string for rodata" is the only sign a rodata= was ignored.
A rejection the version rules predict (rodata=full on 6.18) is reported once,
by the rodata probe; the log line alone is reported only when no rule explains
it. A recorded tree carries the log as ROOT/dmesg.txt; live it is read from
/dev/kmsg (no subprocess) and, failing that, from `dmesg`.
"""

from __future__ import annotations

import re

from benchctl.env.arm64 import expected
from benchctl.env.arm64.midr import dmesg_bbml2
from benchctl.env.kmsg import DmesgError, read_kmsg, run_dmesg
from benchctl.env.probes.base import Context, Probe, Unavailable

_INVALID_RODATA = re.compile(r"Invalid option string for rodata: '([^']*)'")


def read_live(ctx: Context) -> tuple[str, str]:
    """(log text, source); Unavailable with both reasons if neither way works."""
    try:
        return "".join(r.message + "\n" for r in read_kmsg()), "/dev/kmsg"
    except OSError as e:
        kmsg_reason = f"/dev/kmsg: {e.strerror or e}"
    exe = ctx.which("dmesg")
    if not exe:
        raise Unavailable(f"{kmsg_reason}; dmesg not on PATH")
    try:
        return run_dmesg(exe), exe
    except DmesgError as e:
        raise Unavailable(f"{kmsg_reason}; {e}") from None


def predicted_rejections(ctx: Context) -> set[str]:
    """The rodata= values the version rules already report as rejected (RodataProbe's warning)."""
    if ctx.get("host.arch") != "aarch64" or not ctx.scratch.get("cmdline_known"):
        return set()
    params = ctx.scratch.get("params") or {}
    result = expected.rodata(expected.parse_release(ctx.get("kernel.release")), params, ctx.scratch.get("config"))
    return {result.requested} if result.warnings and result.requested is not None else set()


class DmesgProbe(Probe):
    def run(self, ctx: Context) -> None:
        try:
            if ctx.live:
                text, source = read_live(ctx)
            else:
                text, source = ctx.read("dmesg.txt"), ctx.shown("dmesg.txt") + " (recorded kernel log)"
        except Unavailable as e:
            ctx.scratch["dmesg"] = None
            ctx.scratch["dmesg_reason"] = str(e)
            ctx.miss("cpu.bbml2_dmesg", str(e))
            return
        ctx.scratch["dmesg"] = text
        ctx.scratch["dmesg_source"] = source
        predicted = predicted_rejections(ctx)
        for bad in dict.fromkeys(_INVALID_RODATA.findall(text)):
            if bad in predicted:
                continue
            ctx.warn(f"kernel log: \"Invalid option string for rodata: '{bad}'\" (the option was ignored)")
        arch = ctx.get("host.arch")
        if arch != "aarch64":
            ctx.miss("cpu.bbml2_dmesg", f"not arm64 (host.arch {arch})" if arch else "architecture unknown")
            return
        found, why = dmesg_bbml2(text)
        if found is None:
            ctx.miss("cpu.bbml2_dmesg", f"{source}: {why}")
        else:
            ctx.set("cpu.bbml2_dmesg", found, f"{source}: {why}")
