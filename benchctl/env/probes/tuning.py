"""Tuning state that confounds benchmarks: cpufreq governors, THP, SMT, NUMA,
perf_event_paranoid, KASLR. analyze compares governor and THP between boots."""

from __future__ import annotations

import re

from benchctl.env.arm64.expected import kstrtobool
from benchctl.env.probes.base import Context, Probe, Unavailable

_BRACKETED = re.compile(r"\[(\w[\w+]*)\]")


def bracketed(text: str) -> str | None:
    """"always [madvise] never" -> "madvise" (the sysfs way of showing the active choice)."""
    m = _BRACKETED.search(text)
    return m[1] if m else None


class GovernorProbe(Probe):
    def run(self, ctx: Context) -> None:
        base = "sys/devices/system/cpu/cpufreq"
        try:
            policies = [p for p in ctx.listdir(base) if re.fullmatch(r"policy\d+", p)]
        except Unavailable as e:
            ctx.miss("tuning.governor", f"{e} (no cpufreq driver: VM or fixed clock)")
            return
        governors = {}
        for policy in sorted(policies, key=lambda p: int(p[6:])):
            try:
                governors[policy] = ctx.read(f"{base}/{policy}/scaling_governor").strip()
            except Unavailable:
                continue
        if governors:
            ctx.set("tuning.governor", governors, ctx.shown(f"{base}/policy*/scaling_governor"))
        else:
            ctx.miss("tuning.governor", f"no {ctx.shown(base)}/policy*/scaling_governor (no cpufreq driver)")


class ThpProbe(Probe):
    def run(self, ctx: Context) -> None:
        for key, name in (("tuning.thp_enabled", "enabled"), ("tuning.thp_defrag", "defrag")):
            rel = f"sys/kernel/mm/transparent_hugepage/{name}"
            try:
                value = bracketed(ctx.read(rel))
            except Unavailable as e:
                ctx.miss(key, str(e))
                continue
            if value is None:
                ctx.miss(key, f"{ctx.shown(rel)}: no [selected] value")
            else:
                ctx.set(key, value, ctx.shown(rel))


class SmtProbe(Probe):
    def run(self, ctx: Context) -> None:
        rel = "sys/devices/system/cpu/smt/control"
        try:
            ctx.set("tuning.smt", ctx.read(rel).strip(), ctx.shown(rel))
        except Unavailable as e:
            ctx.miss("tuning.smt", str(e))


class NumaProbe(Probe):
    def run(self, ctx: Context) -> None:
        try:
            nodes = [n for n in ctx.listdir("sys/devices/system/node") if re.fullmatch(r"node\d+", n)]
        except Unavailable as e:
            ctx.miss("tuning.numa_nodes", str(e))
            return
        ctx.set("tuning.numa_nodes", len(nodes), ctx.shown("sys/devices/system/node/node*"))


class PerfParanoidProbe(Probe):
    def run(self, ctx: Context) -> None:
        rel = "proc/sys/kernel/perf_event_paranoid"
        try:
            ctx.set("tuning.perf_event_paranoid", int(ctx.read(rel).strip()), ctx.shown(rel))
        except Unavailable as e:
            ctx.miss("tuning.perf_event_paranoid", str(e))
        except ValueError:
            ctx.miss("tuning.perf_event_paranoid", f"{ctx.shown(rel)}: not an integer")


class KaslrProbe(Probe):
    """nokaslr / kaslr on the command line, a "KASLR disabled" log line, else CONFIG_RANDOMIZE_BASE."""

    def run(self, ctx: Context) -> None:
        params = ctx.scratch.get("params") or {}
        if "nokaslr" in params:
            ctx.set("tuning.kaslr", False, ctx.sources.get("kernel.cmdline", "cmdline") + " (nokaslr)")
            return
        dmesg = ctx.scratch.get("dmesg") or ""
        m = re.search(r"^.*KASLR disabled.*$", dmesg, re.MULTILINE)
        if m:
            ctx.set("tuning.kaslr", False, f"{ctx.scratch.get('dmesg_source')}: {m[0].strip()}")
            return
        config = ctx.scratch.get("config")
        if config is None or "CONFIG_RANDOMIZE_BASE" not in config:
            ctx.miss("tuning.kaslr", "no kernel config (CONFIG_RANDOMIZE_BASE) and no nokaslr/KASLR log line")
            return
        on = kstrtobool(config["CONFIG_RANDOMIZE_BASE"]) is True
        ctx.set("tuning.kaslr", on, ctx.sources["kernel.config"] + f" (CONFIG_RANDOMIZE_BASE={config['CONFIG_RANDOMIZE_BASE']})")
