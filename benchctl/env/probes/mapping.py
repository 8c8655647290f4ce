"""rodata mode, the expected linear map, and the observed one (ptdump > kcore > DirectMap > inferred).

This is the fingerprint's verdict: which arm of the experiment this boot is.
Observation wins over inference; when they disagree the fingerprint says so,
because a boot that is not the arm it was meant to be invalidates every run on it.
"""

from __future__ import annotations

from benchctl.env.arm64 import directmap, expected, kcore
from benchctl.env.arm64.linearmap import Census, block_fraction, classify
from benchctl.env.arm64.ptdump import START, parse_linear_map
from benchctl.env.probes.base import Context, Probe, Unavailable
from benchctl.errors import InputError

PTDUMP = "sys/kernel/debug/kernel_page_tables"
KCORE, KCORE_EXTRACT = "proc/kcore", "proc/kcore.extract.gz"  # live; in a recorded tree (kcore.py)


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
            ctx.miss(
                "rodata.effective",
                f"full/noalias alias protection is arm64 semantics; host is {ctx.get('host.arch', 'unknown')}",
            )
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
        observed = ("ptdump", "kcore", "meminfo-directmap")
        if source in observed and want in ("block", "pte") and state not in (want, "unknown"):
            extra = ""
            if state == "mixed":
                frac = ctx.get("linear_map.block_fraction") or 0.0
                which = "writable bytes" if source in ("ptdump", "kcore") else "bytes"
                extra = f" ({frac:.0%} of {which} in blocks; splits since boot never re-merge)"
            ctx.warn(
                f"linear map is {state} ({source}){extra} but {want} was expected: "
                f"{ctx.get('linear_map.expected_reason')}"
            )

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
        exp = expected.expected_linear_map(
            rel=rel,
            bbml2=bbml2,
            rodata_effective=rodata.effective if rodata else None,
            kfence_late=kfence,
            debug_pagealloc_on=dpa,
        )
        listed = ctx.values.get("cpu.bbml2_allow_list")
        trusted = f"cpu.bbml2_noabort (allow-list of {listed})" if listed else "cpu.bbml2_noabort"
        src = f"kernel.release, kernel.cmdline, kernel.config, {trusted} ({dpa_why}; {kfence_why})"
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
        """Warn when the kernel log and the running release's allow-list disagree, in the kernel's words."""
        seen = ctx.values.get("cpu.bbml2_dmesg")
        allow = ctx.scratch.get("bbml2_allow")
        if rel is None or rel.mm < (6, 17) or seen is None or bbml2 is None or seen == bbml2 or allow is None:
            return  # the "detected" line exists since v6.17; agreement needs no word
        listed = allow.describe(rel)
        if bbml2:
            ctx.warn(
                f"every CPU is on the allow-list but the kernel log has no 'CPU features: detected: "
                f"{allow.desc}' line ({listed}): an early CPU failed the check (the linear map was "
                "then repainted to PTEs), or this kernel build carries a shorter list"
            )
            return
        line = ctx.sources.get("cpu.bbml2_dmesg", "").partition(": ")[2] or f"CPU features: detected: {allow.desc}"
        how = (
            "ID_AA64MMFR2_EL1.BBM >= 3 (BBML3), a field user space cannot read"
            if allow.id_register
            else "a longer list (a backport or a vendor patch)"
        )
        ctx.warn(f"the kernel log says '{line}' although a CPU is not on the {listed}: this kernel trusts it by {how}")

    # -- observation -----------------------------------------------------------------------
    def _observe(self, ctx: Context, exp: expected.Expectation | None) -> None:
        reasons: list[str] = []
        arch = ctx.get("host.arch")
        # x86 also has a kernel_page_tables, in another format; with the arch unknown, try it.
        if arch in ("aarch64", None) and self._from_ptdump(ctx, reasons):
            return
        if ctx.get("host.arch") not in (None, "aarch64"):
            reasons.append("ptdump parsing is arm64-only")
        if self._from_kcore(ctx, reasons):
            return
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
                elif (
                    ctx.live
                    and not ctx.exists("sys/kernel/debug/kernel_page_tables")
                    and not any(True for _ in _safe_iter(ctx, "sys/kernel/debug"))
                ):
                    reason += " (debugfs not mounted: mount -t debugfs none /sys/kernel/debug)"
            reasons.append(reason)
            return False
        if ctx.get("host.arch") != "aarch64" and START not in text:
            reasons.append(f"{ctx.shown(PTDUMP)} is not an arm64 dump (no Linear Mapping section)")
            return False
        _set_census(
            ctx, "ptdump", ctx.shown(PTDUMP) + " (Linear Mapping section)", parse_linear_map(text, ctx.root / PTDUMP)
        )
        return True

    def _from_kcore(self, ctx: Context, reasons: list[str]) -> bool:
        """Walk swapper_pg_dir through /proc/kcore (live, root) or replay DIR/proc/kcore.extract.gz."""
        if ctx.get("host.arch") != "aarch64":
            reasons.append(f"kcore walk is arm64-only (host is {ctx.get('host.arch') or 'unknown'})")
            return False
        rel = KCORE if ctx.live else KCORE_EXTRACT
        if not ctx.live and not ctx.exists(rel):
            reasons.append(f"{ctx.shown(rel)} not present (record one: kcore.record('/proc/kcore', ...))")
            return False
        try:
            walked = kcore.walk_file(ctx.root / rel) if ctx.live else kcore.walk(kcore.read_extract(ctx.root / rel))
        except kcore.KcoreError as e:
            if not ctx.live:  # a recorded extract that does not replay is bad input, like any recorded file
                raise InputError(str(e), ctx.root / rel) from None
            reasons.append(str(e))
            return False
        src = ctx.shown(rel) + " (walk of swapper_pg_dir over the linear map)"
        _set_census(ctx, "kcore", src, walked)
        ctx.set("linear_map.kcore", walked.summary(), src + " (descriptors per level, bytes of kcore read)")
        return True

    def _from_directmap(self, ctx: Context, reasons: list[str]) -> bool:
        labels = ctx.values.get("memory.directmap")
        if not labels:
            reasons.append(ctx.missing.get("memory.directmap", "no DirectMap* lines"))
            return False
        arch, page_size = ctx.get("host.arch"), ctx.values.get("kernel.page_size")
        census = directmap.census(labels, arch or "", page_size)
        if census is None:
            reasons.append(f"DirectMap labels {sorted(labels)} not interpretable for {arch} (page size {page_size})")
            return False
        src = ctx.sources["memory.directmap"]
        if arch == "aarch64":
            src += f" (granule {directmap.arm64_granule(labels, page_size)})"
        ctx.set("linear_map.state", classify(census), src)
        ctx.set("linear_map.source", "meminfo-directmap", src)
        ctx.set("linear_map.bytes", census, src)
        frac = block_fraction(census)
        ctx.set(
            "linear_map.block_fraction",
            None if frac is None else round(frac, 6),
            src + " (all bytes; DirectMap does not separate read-only ones)",
        )
        return True


def _set_census(ctx: Context, source: str, src: str, census: Census) -> None:
    """The observed state of an observer that sees descriptors (ptdump, kcore), in one vocabulary."""
    ctx.set("linear_map.state", census.state, src)
    ctx.set("linear_map.source", source, src)
    ctx.set("linear_map.bytes", dict(census.bytes), src)
    ctx.set("linear_map.ro_bytes", census.ro_bytes, src + " (read-only leaves, excluded from state)")
    frac = census.block_fraction
    ctx.set(
        "linear_map.block_fraction",
        None if frac is None else round(frac, 6),
        src + " (writable bytes in block/contiguous descriptors)",
    )


def _safe_iter(ctx: Context, rel: str):
    try:
        yield from ctx.listdir(rel)
    except Unavailable:
        return
