"""rodata mode, the expected linear map, and the observed one (ptdump > DirectMap > inferred).

This is the fingerprint's verdict: which arm of the experiment this boot is.
Observation wins over inference; when they disagree the fingerprint says so,
because a boot that is not the arm it was meant to be invalidates every run on it.
"""

from __future__ import annotations

from benchctl.env.arm64 import directmap, expected
from benchctl.env.arm64.linearmap import block_fraction, classify
from benchctl.env.probes.base import Context, Probe, Unavailable
from benchctl.env.arm64.ptdump import START, parse_linear_map

PTDUMP = "sys/kernel/debug/kernel_page_tables"


class RodataProbe(Probe):
    def run(self, ctx: Context) -> None:
        params = ctx.scratch.get("params") or {}
        if not ctx.scratch.get("cmdline_known"):
            reason = ctx.missing.get("kernel.cmdline", "command line unknown")
            ctx.miss("rodata.requested", reason)
            ctx.miss("rodata.effective", reason)
            ctx.scratch["rodata"] = None
            return
        src = ctx.sources["kernel.cmdline"]
        requested = params.get("rodata", "" if "rodata" in params else None)
        ctx.set("rodata.requested", requested, src + (" (rodata=)" if requested is not None else " (no rodata=)"))
        if ctx.get("host.arch") != "aarch64":
            ctx.miss("rodata.effective", "full/noalias alias protection is arm64 semantics; host is "
                                         f"{ctx.get('host.arch', 'unknown')}")
            ctx.scratch["rodata"] = None
            return
        rel = expected.parse_release(ctx.get("kernel.release"))
        result = expected.rodata(rel, params, ctx.scratch.get("config"))
        ctx.scratch["rodata"] = result
        for w in result.warnings:
            ctx.warn(w)
        if result.effective is None:
            ctx.miss("rodata.effective", result.reason)
        else:
            ctx.set("rodata.effective", result.effective, f"{src} + kernel.release: {result.reason}")


class LinearMapProbe(Probe):
    def run(self, ctx: Context) -> None:
        exp = self._expected(ctx)
        self._observe(ctx, exp)
        state, source, want = ctx.get("linear_map.state"), ctx.get("linear_map.source"), ctx.get("linear_map.expected")
        if source in ("ptdump", "meminfo-directmap") and want in ("block", "pte") and state not in (want, "unknown"):
            extra = ""
            if state == "mixed":
                frac = ctx.get("linear_map.block_fraction") or 0.0
                which = "writable bytes" if source == "ptdump" else "bytes"
                extra = f" ({frac:.0%} of {which} in blocks; splits since boot never re-merge)"
            ctx.warn(f"linear map is {state} ({source}){extra} but {want} was expected: "
                     f"{ctx.get('linear_map.expected_reason')}")

    # -- prediction ------------------------------------------------------------------------
    def _expected(self, ctx: Context) -> expected.Expectation | None:
        arch = ctx.get("host.arch")
        if arch != "aarch64":
            reason = f"the prediction rules are arm64's; host is {arch or 'unknown'}"
            ctx.miss("linear_map.expected", reason)
            ctx.miss("linear_map.expected_reason", reason)
            return None
        params = ctx.scratch.get("params") or {}
        config = ctx.scratch.get("config")
        rel = expected.parse_release(ctx.get("kernel.release"))
        rodata = ctx.scratch.get("rodata")
        dpa, dpa_why = expected.debug_pagealloc(params, config)
        kfence, kfence_why = expected.kfence_late_init(params, config)
        bbml2 = ctx.values.get("cpu.bbml2_noabort")
        exp = expected.expected_linear_map(rel=rel, bbml2=bbml2,
                                           rodata_effective=rodata.effective if rodata else None,
                                           kfence_late=kfence, debug_pagealloc_on=dpa)
        src = f"kernel.release, kernel.cmdline, kernel.config, cpu.bbml2_noabort ({dpa_why}; {kfence_why})"
        ctx.set("linear_map.expected", exp.state, src)
        ctx.set("linear_map.expected_reason", exp.reason, src)
        ctx.set("linear_map.debug_pagealloc", dpa, dpa_why)
        ctx.set("linear_map.kfence_late_init", kfence, kfence_why)
        warning = expected.rc_bug_warning(rel, dpa, config)
        if warning:
            ctx.warn(warning)
        self._bbml2_consistency(ctx, rel, bbml2)
        return exp

    def _bbml2_consistency(self, ctx: Context, rel: expected.Release | None, bbml2: bool | None) -> None:
        seen = ctx.values.get("cpu.bbml2_dmesg")
        if rel is None or rel.mm < (6, 17) or seen is None or bbml2 is None or seen == bbml2:
            return  # the "detected" line exists since v6.17
        if bbml2 and not seen:
            ctx.warn("every CPU is on the BBML2_NOABORT allow-list but the kernel log has no 'BBM Level 2 "
                     "without conflict abort' line: this kernel lacks the allow-list entry, or an early CPU "
                     "failed the check (then the linear map was repainted to PTEs)")
        else:
            ctx.warn("the kernel log reports BBML2/BBML3 detected although a CPU is not on the v6.18 "
                     "allow-list: a newer kernel's list or MMFR2.BBM detection (BBML3)")

    # -- observation -----------------------------------------------------------------------
    def _observe(self, ctx: Context, exp: expected.Expectation | None) -> None:
        reasons: list[str] = []
        arch = ctx.get("host.arch")
        # x86 also has a kernel_page_tables, in another format; with the arch unknown, try it.
        if arch in ("aarch64", None) and self._from_ptdump(ctx, reasons):
            return
        if ctx.get("host.arch") not in (None, "aarch64"):
            reasons.append("ptdump parsing is arm64-only")
        if self._from_directmap(ctx, reasons):
            return
        state = exp.state if exp else "unknown"
        ctx.set("linear_map.state", state, "inferred from linear_map.expected (nothing observable)")
        ctx.set("linear_map.source", "inferred", "; ".join(reasons))
        ctx.miss("linear_map.bytes", "not observed: " + "; ".join(reasons))
        ctx.miss("linear_map.block_fraction", "not observed")

    def _from_ptdump(self, ctx: Context, reasons: list[str]) -> bool:
        try:
            text = ctx.read(PTDUMP)
        except Unavailable as e:
            reason = str(e)
            config = ctx.scratch.get("config") or {}
            if "not present" in reason:
                if config.get("CONFIG_PTDUMP_DEBUGFS", "") == "n" or config.get("CONFIG_ARM64_PTDUMP_DEBUGFS") == "n":
                    reason += " (CONFIG_PTDUMP_DEBUGFS is not set)"
                elif ctx.live and not ctx.exists("sys/kernel/debug/kernel_page_tables") and not any(
                        True for _ in _safe_iter(ctx, "sys/kernel/debug")):
                    reason += " (debugfs not mounted: mount -t debugfs none /sys/kernel/debug)"
            reasons.append(reason)
            return False
        if ctx.get("host.arch") != "aarch64" and START not in text:
            reasons.append(f"{ctx.shown(PTDUMP)} is not an arm64 dump (no Linear Mapping section)")
            return False
        census = parse_linear_map(text, ctx.root / PTDUMP)
        src = ctx.shown(PTDUMP) + " (Linear Mapping section)"
        ctx.set("linear_map.state", census.state, src)
        ctx.set("linear_map.source", "ptdump", src)
        ctx.set("linear_map.bytes", dict(census.bytes), src)
        ctx.set("linear_map.ro_bytes", census.ro_bytes, src + " (read-only leaves, excluded from state)")
        frac = census.block_fraction
        ctx.set("linear_map.block_fraction", None if frac is None else round(frac, 6),
                src + " (writable bytes in block/contiguous descriptors)")
        return True

    def _from_directmap(self, ctx: Context, reasons: list[str]) -> bool:
        labels = ctx.values.get("memory.directmap")
        if not labels:
            reasons.append(ctx.missing.get("memory.directmap", "no DirectMap* lines"))
            return False
        arch, page_size = ctx.get("host.arch"), ctx.values.get("kernel.page_size")
        census = directmap.census(labels, arch or "", page_size)
        if census is None:
            reasons.append(f"DirectMap labels {sorted(labels)} not interpretable for {arch} "
                           f"(page size {page_size})")
            return False
        src = ctx.sources["memory.directmap"]
        if arch == "aarch64":
            src += f" (granule {directmap.arm64_granule(labels, page_size)})"
        ctx.set("linear_map.state", classify(census), src)
        ctx.set("linear_map.source", "meminfo-directmap", src)
        ctx.set("linear_map.bytes", census, src)
        frac = block_fraction(census)
        ctx.set("linear_map.block_fraction", None if frac is None else round(frac, 6),
                src + " (all bytes; DirectMap does not separate read-only ones)")
        return True


def _safe_iter(ctx: Context, rel: str):
    try:
        yield from ctx.listdir(rel)
    except Unavailable:
        return
