"""The kernel log: the BBML2 "detected" line, rejected rodata= options, KASLR state.

The "CPU features: detected: BBM Level 2 without conflict abort" line is the
only user-visible sign that the kernel decided on BBML2 (no cpuinfo flag), and
"Invalid option string for rodata" is the only sign a rodata= was ignored.
A recorded tree carries it as ROOT/dmesg.txt; live it is read from /dev/kmsg
(no subprocess) and, failing that, from `dmesg`.
"""

from __future__ import annotations

import errno
import os
import re
import subprocess

from benchctl.env.arm64.midr import dmesg_bbml2
from benchctl.env.probes.base import Context, Probe, Unavailable

DMESG_TIMEOUT_S = 3.0
_INVALID_RODATA = re.compile(r"Invalid option string for rodata: '([^']*)'")


def read_kmsg(path: str = "/dev/kmsg") -> str:
    """Every record currently in the kernel ring buffer, one message per line.

    /dev/kmsg returns one record per read(): "prio,seq,usec,flags;message\\n"
    followed by " KEY=value" continuation lines; EPIPE means records were
    overwritten while reading and the next read resumes after them.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    lines = []
    try:
        while True:
            try:
                record = os.read(fd, 16384)
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno == errno.EPIPE:
                    continue
                raise
            if not record:
                break
            head, _, rest = record.decode("utf-8", errors="replace").partition(";")
            lines.append(rest.split("\n", 1)[0])
    finally:
        os.close(fd)
    return "\n".join(lines) + "\n"


def read_live(ctx: Context) -> tuple[str, str]:
    """(log text, source); Unavailable with both reasons if neither way works."""
    try:
        return read_kmsg(), "/dev/kmsg"
    except OSError as e:
        kmsg_reason = f"/dev/kmsg: {e.strerror or e}"
    exe = ctx.which("dmesg")
    if not exe:
        raise Unavailable(f"{kmsg_reason}; dmesg not on PATH")
    try:
        proc = subprocess.run([exe], capture_output=True, timeout=DMESG_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise Unavailable(f"{kmsg_reason}; dmesg: {e}") from None
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        raise Unavailable(f"{kmsg_reason}; dmesg exit {proc.returncode}: {err[0] if err else ''}".rstrip(": "))
    return proc.stdout.decode("utf-8", errors="replace"), exe


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
        for bad in dict.fromkeys(_INVALID_RODATA.findall(text)):
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
