"""Host name and architecture, boot id and uptime.

A recorded tree has no uname(), so the architecture comes from the kernel
config (CONFIG_ARM64 / CONFIG_X86_64) or from /proc/cpuinfo's shape.
"""

from __future__ import annotations

import os

from benchctl.env.probes.base import Context, Probe, Unavailable


class HostProbe(Probe):
    def run(self, ctx: Context) -> None:
        try:
            ctx.set("host.name", ctx.read("proc/sys/kernel/hostname").strip(),
                    ctx.shown("proc/sys/kernel/hostname"))
        except Unavailable as e:
            ctx.miss("host.name", str(e))
        if ctx.live:
            ctx.set("host.arch", os.uname().machine, "uname()")
            return
        config = ctx.scratch.get("config") or {}
        if config.get("CONFIG_ARM64") == "y":
            ctx.set("host.arch", "aarch64", ctx.sources["kernel.config"] + " (CONFIG_ARM64)")
            return
        if config.get("CONFIG_X86_64") == "y":
            ctx.set("host.arch", "x86_64", ctx.sources["kernel.config"] + " (CONFIG_X86_64)")
            return
        try:
            cpuinfo = ctx.read("proc/cpuinfo")
        except Unavailable as e:
            ctx.miss("host.arch", f"no kernel config and {e}")
            return
        if "CPU implementer" in cpuinfo:
            ctx.set("host.arch", "aarch64", ctx.shown("proc/cpuinfo") + " (CPU implementer lines)")
        elif "vendor_id" in cpuinfo:
            flags = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), "")
            arch = "x86_64" if " lm " in f" {flags} " else "i686"
            ctx.set("host.arch", arch, ctx.shown("proc/cpuinfo") + " (vendor_id, lm flag)")
        else:
            ctx.miss("host.arch", "architecture not recognisable from proc/cpuinfo")


class BootProbe(Probe):
    def run(self, ctx: Context) -> None:
        try:
            ctx.set("boot.id", ctx.read("proc/sys/kernel/random/boot_id").strip(),
                    ctx.shown("proc/sys/kernel/random/boot_id"))
        except Unavailable as e:
            ctx.miss("boot.id", str(e))
        try:
            text = ctx.read("proc/uptime")
            ctx.set("boot.uptime_s", float(text.split()[0]), ctx.shown("proc/uptime"))
        except Unavailable as e:
            ctx.miss("boot.uptime_s", str(e))
        except (ValueError, IndexError):
            ctx.miss("boot.uptime_s", f"{ctx.shown('proc/uptime')}: not a number: {text[:40]!r}")
