"""Kernel identity: release, version, command line, the relevant CONFIG_ values, page size.

The linear-map prediction depends on the kernel version (the series and the
rodata= meaning both changed in 6.18) and on a handful of config options, so
these are read first and shared with later probes via ctx.scratch.
"""

from __future__ import annotations

import os
import re

from benchctl.env.arm64.expected import parse_cmdline
from benchctl.env.probes.base import Context, Probe, Unavailable

RELEVANT_CONFIG = (
    "CONFIG_ARM64", "CONFIG_X86_64",
    "CONFIG_PTDUMP_DEBUGFS", "CONFIG_ARM64_PTDUMP_DEBUGFS",
    "CONFIG_KFENCE", "CONFIG_KFENCE_SAMPLE_INTERVAL",
    "CONFIG_DEBUG_PAGEALLOC", "CONFIG_DEBUG_PAGEALLOC_ENABLE_DEFAULT",
    "CONFIG_RODATA_FULL_DEFAULT_ENABLED", "CONFIG_STRICT_KERNEL_RWX",
    "CONFIG_ARM64_4K_PAGES", "CONFIG_ARM64_16K_PAGES", "CONFIG_ARM64_64K_PAGES",
    "CONFIG_ARM64_VA_BITS", "CONFIG_PGTABLE_LEVELS",
    "CONFIG_RANDOMIZE_BASE", "CONFIG_TRANSPARENT_HUGEPAGE",
    "CONFIG_PROVE_LOCKING", "CONFIG_DEBUG_ATOMIC_SLEEP",
)
_PAGE_CONFIG = {"CONFIG_ARM64_4K_PAGES": 4096, "CONFIG_ARM64_16K_PAGES": 16384, "CONFIG_ARM64_64K_PAGES": 65536}
_HUGEPAGE_TO_PAGE = {2048: 4096, 32768: 16384, 524288: 65536}  # PMD size (kB) -> granule on arm64
_CONFIG_LINE = re.compile(r"^(CONFIG_\w+)=(.*)$|^# (CONFIG_\w+) is not set$")
_VERSION_RELEASE = re.compile(r"^Linux version (\S+)")


def parse_config(text: str) -> dict[str, str]:
    """A kernel .config -> {CONFIG_NAME: value}; "is not set" becomes "n", quotes are removed."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = _CONFIG_LINE.match(line.strip())
        if not m:
            continue
        if m[3]:
            out[m[3]] = "n"
        else:
            value = m[2]
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            out[m[1]] = value
    return out


class ReleaseProbe(Probe):
    def run(self, ctx: Context) -> None:
        try:
            version = ctx.read("proc/version").strip()
            ctx.set("kernel.version", version, ctx.shown("proc/version"))
        except Unavailable as e:
            version = None
            ctx.miss("kernel.version", str(e))
        try:
            ctx.set("kernel.release", ctx.read("proc/sys/kernel/osrelease").strip(),
                    ctx.shown("proc/sys/kernel/osrelease"))
        except Unavailable as e:
            m = _VERSION_RELEASE.match(version or "")
            if m:
                ctx.set("kernel.release", m[1], ctx.shown("proc/version"))
            else:
                ctx.miss("kernel.release", str(e))


class CmdlineProbe(Probe):
    def run(self, ctx: Context) -> None:
        try:
            cmdline = ctx.read("proc/cmdline").strip()
            ctx.set("kernel.cmdline", cmdline, ctx.shown("proc/cmdline"))
        except Unavailable as e:
            cmdline = None
            ctx.miss("kernel.cmdline", str(e))
        ctx.scratch["params"] = parse_cmdline(cmdline)
        ctx.scratch["cmdline_known"] = cmdline is not None


class ConfigProbe(Probe):
    """/proc/config.gz (CONFIG_IKCONFIG_PROC), else /boot/config-RELEASE."""

    def run(self, ctx: Context) -> None:
        candidates = ["proc/config.gz"]
        release = ctx.get("kernel.release")
        if release:
            candidates.append(f"boot/config-{release}")
        reasons = []
        for rel in candidates:
            try:
                config = parse_config(ctx.read(rel))
            except Unavailable as e:
                reasons.append(str(e))
                continue
            ctx.scratch["config"] = config
            ctx.set("kernel.config", {name: config.get(name) for name in RELEVANT_CONFIG}, ctx.shown(rel))
            return
        ctx.scratch["config"] = None
        ctx.miss("kernel.config", "; ".join(reasons) if release else reasons[0] + "; kernel release unknown")


class PageSizeProbe(Probe):
    def run(self, ctx: Context) -> None:
        config = ctx.scratch.get("config")
        if config:
            for name, size in _PAGE_CONFIG.items():
                if config.get(name) == "y":
                    ctx.set("kernel.page_size", size, ctx.sources["kernel.config"] + f" ({name})")
                    return
        if ctx.live:
            ctx.set("kernel.page_size", os.sysconf("SC_PAGE_SIZE"), "sysconf(_SC_PAGE_SIZE)")
            return
        try:
            m = re.search(r"^Hugepagesize:\s+(\d+) kB", ctx.read("proc/meminfo"), re.MULTILINE)
        except Unavailable as e:
            ctx.miss("kernel.page_size", f"no CONFIG_ARM64_*_PAGES and {e}")
            return
        arch = ctx.get("host.arch")
        if m and arch == "aarch64" and int(m[1]) in _HUGEPAGE_TO_PAGE:
            ctx.set("kernel.page_size", _HUGEPAGE_TO_PAGE[int(m[1])],
                    ctx.shown("proc/meminfo") + " (Hugepagesize = PMD size)")
        elif m and arch == "x86_64":
            ctx.set("kernel.page_size", 4096, ctx.shown("proc/meminfo") + " (x86_64 base page)")
        else:
            ctx.miss("kernel.page_size", "no CONFIG_ARM64_*_PAGES and no usable Hugepagesize line")
