"""CPU model, count, MIDR_EL1 per CPU and the BBML2_NOABORT prediction.

MIDR is read per CPU from sysfs (regs/identification/midr_el1), falling back
to /proc/cpuinfo; the kernel keeps block mappings only if every early CPU is
on the allow-list, so a single odd CPU (big.LITTLE, a mixed VM) decides. The
list is the running kernel's (6.17 trusts fewer CPUs than 6.18), and the
answer names it: cpu.bbml2_allow_list.
"""

from __future__ import annotations

import re

from benchctl.env.arm64.expected import parse_release
from benchctl.env.arm64.midr import Midr, allow_list_for, midrs_from_cpuinfo, parse_midr
from benchctl.env.probes.base import Context, Probe, Unavailable

_CPU_DIR = re.compile(r"^cpu(\d+)$")


MAX_CPUS = 1 << 16  # above any NR_CPUS; a corrupt tree must not make us build a list of 10^9 CPUs


def parse_cpu_list(text: str) -> list[int]:
    """ "0-3,5" -> [0, 1, 2, 3, 5] (the sysfs cpulist format); ValueError when it is not one."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        a, b = int(lo), int(hi or lo)
        if not 0 <= a <= b < MAX_CPUS or len(cpus) + b - a >= MAX_CPUS:
            raise ValueError(f"not a CPU list: {text.strip()[:40]!r}")
        cpus.extend(range(a, b + 1))
    return cpus


class CpuProbe(Probe):
    def run(self, ctx: Context) -> None:
        try:
            cpuinfo = ctx.read("proc/cpuinfo")
        except Unavailable as e:
            cpuinfo = None
            cpuinfo_reason = str(e)
        self._count(ctx, cpuinfo)
        midrs = self._midrs(ctx, cpuinfo) if ctx.get("host.arch") == "aarch64" else None
        self._model(ctx, cpuinfo, midrs)
        arch = ctx.get("host.arch")
        if arch != "aarch64":
            reason = f"not arm64 (host.arch {arch})" if arch else "architecture unknown"
            for path in ("cpu.midr", "cpu.bbml2_noabort", "cpu.bbml2_allow_list"):
                ctx.miss(path, reason)
            return
        if not midrs:
            why = "no regs/identification/midr_el1 in sysfs and " + (
                "no CPU part lines in proc/cpuinfo" if cpuinfo is not None else cpuinfo_reason
            )
            for path in ("cpu.midr", "cpu.bbml2_noabort", "cpu.bbml2_allow_list"):
                ctx.miss(path, why)
            return
        midr_map, source = midrs
        groups: dict[int, list[int]] = {}
        for cpu, midr in sorted(midr_map.items()):
            groups.setdefault(midr.value, []).append(cpu)
        ctx.set(
            "cpu.midr",
            [{"value": Midr(v).hex, "name": Midr(v).name, "cpus": cpus} for v, cpus in groups.items()],
            source,
        )
        self._allow_list(ctx, midr_map, source)

    def _allow_list(self, ctx: Context, midr_map: dict[int, Midr], source: str) -> None:
        rel = parse_release(ctx.get("kernel.release"))
        allow = allow_list_for(rel)
        ctx.scratch["bbml2_allow"] = allow
        if rel is None or allow is None:
            why = "kernel release unknown, so is which release's allow-list applies"
            ctx.miss("cpu.bbml2_noabort", why)
            ctx.miss("cpu.bbml2_allow_list", why)
            return
        described = allow.describe(rel)
        ctx.set(
            "cpu.bbml2_noabort",
            allow.trusts(midr_map.values()),
            f"{source} ({described}, every CPU must match; {allow.source})",
        )
        ctx.set("cpu.bbml2_allow_list", allow.label(rel), f"kernel.release {rel.major}.{rel.minor}: {described}")

    def _count(self, ctx: Context, cpuinfo: str | None) -> None:
        try:
            online = parse_cpu_list(ctx.read("sys/devices/system/cpu/online"))
            ctx.set("cpu.count", len(online), ctx.shown("sys/devices/system/cpu/online"))
            return
        except (Unavailable, ValueError):
            pass
        if cpuinfo is not None:
            n = len(re.findall(r"^processor\s*:", cpuinfo, re.MULTILINE))
            if n:
                ctx.set("cpu.count", n, ctx.shown("proc/cpuinfo"))
                return
        ctx.miss("cpu.count", "no sys/devices/system/cpu/online and no processor lines in proc/cpuinfo")

    def _midrs(self, ctx: Context, cpuinfo: str | None) -> tuple[dict[int, Midr], str] | None:
        out: dict[int, Midr] = {}
        try:
            names = ctx.listdir("sys/devices/system/cpu")
        except Unavailable:
            names = []
        for name in names:
            m = _CPU_DIR.match(name)
            if not m:
                continue
            rel = f"sys/devices/system/cpu/{name}/regs/identification/midr_el1"
            try:
                out[int(m[1])] = parse_midr(ctx.read(rel))
            except (Unavailable, ValueError):
                continue
        if out:
            return out, ctx.shown("sys/devices/system/cpu/cpu*/regs/identification/midr_el1")
        if cpuinfo:
            out = midrs_from_cpuinfo(cpuinfo)
            if out:
                return out, ctx.shown("proc/cpuinfo") + " (CPU implementer/variant/part/revision)"
        return None

    def _model(self, ctx: Context, cpuinfo: str | None, midrs: tuple[dict[int, Midr], str] | None) -> None:
        if midrs:
            names = list(dict.fromkeys(m.name for m in midrs[0].values()))
            ctx.set("cpu.model", " + ".join(names), midrs[1])
            return
        if cpuinfo:
            m = re.search(r"^(?:model name|Model|Hardware)\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
            if m:
                ctx.set("cpu.model", m[1].strip(), ctx.shown("proc/cpuinfo"))
                return
        ctx.miss("cpu.model", "no model name in proc/cpuinfo and no MIDR")
