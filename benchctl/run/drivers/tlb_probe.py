"""tlb-probe: the cost of a translation miss on this machine, measured natively (issue 14).

The measurement kernel is C (tlb_probe.c, next to this file), compiled with
the system cc into the run folder at setup, so the binary that measured is
kept with its results (bin/tlb-probe, with the compiler's version, flags and
the source's SHA-256 in run.json `run_info.probe`). An interpreter would
measure itself. Each iteration is one probe process: fresh buffers, one per
page-size arm (4 KiB, THP 2 MiB, hugetlbfs 2 MiB where the host has free
huge pages, or reserved with hugetlb=reserve), the same access pattern on
each, repetitions alternating the arms' order. The probe reads its own
user-mode counters with perf_event_open per sample (cycles, instructions,
dTLB misses; DTLB_WALK and DTLB_WALK_PERCYC on arm64) and says "unsupported"
where the PMU has none, so the engine's system-wide perf stat is not used: it
would mix the arms.

The records: per kernel and arm the mean time per operation, and per
huge-page arm the paired 4 KiB penalty (benchctl/parsers/tlbprobe.py);
`benchctl model calibrate` reads the raw samples for standard errors.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchctl.errors import InputError, ResourceError, RunFailed
from benchctl.human import parse_size
from benchctl.parsers import ParseError
from benchctl.run import proctree
from benchctl.run.drivers.base import IterationResult, RunContext

SOURCE = Path(__file__).with_name("tlb_probe.c")
CFLAGS = ["-O2", "-std=gnu11", "-Wall"]
HUGEPAGES = Path("/proc/sys/vm/nr_hugepages")
OUTPUT = "tlb-probe.txt"
COMPILE_TIMEOUT_S = 60.0


def caches(sys_root: Path = Path("/sys")) -> dict[str, Any]:
    """L2 and last-level cache sizes of CPU 0 from sysfs (bytes; None when the kernel does not say)."""
    out: dict[str, Any] = {"l2_bytes": None, "llc_bytes": None, "levels": []}
    base = sys_root / "devices/system/cpu/cpu0/cache"
    for d in sorted(base.glob("index*")):
        try:
            level = int((d / "level").read_text())
            kind = (d / "type").read_text().strip()
            size = parse_size((d / "size").read_text().strip())
        except (OSError, ValueError, InputError):
            continue
        if kind == "Instruction":
            continue
        out["levels"].append({"level": level, "type": kind, "bytes": size})
        if level == 2:
            out["l2_bytes"] = size
        if out["llc_bytes"] is None or level >= max(x["level"] for x in out["levels"]):
            out["llc_bytes"] = size
    return out


def meminfo(root: Path = Path("/")) -> dict[str, int]:
    out = {}
    try:
        for line in (root / "proc/meminfo").read_text().splitlines():
            k, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[0].isascii() and parts[0].isdigit():
                out[k.strip()] = int(parts[0])
    except OSError:
        pass
    return out


def thp_mode(sys_root: Path = Path("/sys")) -> str | None:
    try:
        text = (sys_root / "kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return None
    for w in text.split():
        if w.startswith("[") and w.endswith("]"):
            return w[1:-1]
    return None


def probe_argv(binary: Path, p: dict[str, Any], arms: list[str]) -> list[str]:
    argv = [
        str(binary),
        "--size",
        str(parse_size(p["size"])),
        "--reps",
        str(int(p["reps"])),
        "--arms",
        ",".join(arms),
        "--kernels",
        str(p["kernels"]),
        "--chase-steps",
        str(int(p["chase_steps"])),
        "--seed",
        str(int(p["seed"])),
    ]
    if str(p.get("cpu", "none")) not in ("none", ""):
        argv += ["--cpu", str(int(p["cpu"]))]
    return argv


class TlbProbe:
    name = "tlb-probe"

    def requirements(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        return [("cc", "gcc")]

    def _arms(self, p: dict[str, Any]) -> list[str]:
        arms = ["4k", "thp"]
        if p.get("hugetlb", "auto") != "off":
            arms.append("hugetlb")
        return arms

    def check(self, ctx: RunContext) -> list[str]:
        p = ctx.params
        size = parse_size(p["size"])
        warnings = []
        mode = thp_mode()
        if mode in (None, "never"):
            warnings.append(f"transparent huge pages are {mode or 'unknown'} here: the THP arm will be unavailable")
        need = size * len(self._arms(p)) + size // 4096 * 24 + (256 << 20)
        avail = meminfo().get("MemAvailable", 0) * 1024
        if avail and need > avail:
            raise ResourceError(
                f"tlb-probe with size={p['size']} needs about {need / 2**30:.1f} GiB (one buffer per "
                f"arm); MemAvailable is {avail / 2**30:.1f} GiB: use --set size="
            )
        if p.get("hugetlb") == "reserve" and os.geteuid() != 0:
            raise ResourceError("hugetlb=reserve changes vm.nr_hugepages and must run as root; use hugetlb=auto")
        return warnings

    def setup(self, ctx: RunContext) -> None:
        p = ctx.params
        bindir = Path(ctx.run_dir) / "bin"
        bindir.mkdir(exist_ok=True)
        binary = bindir / "tlb-probe"
        cc = shutil.which("cc")
        argv = [cc or "cc", *CFLAGS, "-o", str(binary), str(SOURCE)]
        try:
            proc = proctree.run(argv, timeout=COMPILE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise RunFailed(f"compiling the probe did not finish within {COMPILE_TIMEOUT_S:.0f} s") from None
        ctx.log_command(argv, rc=proc.returncode)
        if proc.returncode != 0:
            raise RunFailed(f"cc could not build the probe: {(proc.stderr or proc.stdout).strip()[-300:]}")
        version = proctree.run([cc or "cc", "--version"], timeout=10).stdout.splitlines()[:1]
        info: dict[str, Any] = {
            "binary": str(binary.relative_to(ctx.run_dir)),
            "compiler": version[0] if version else "unknown",
            "cflags": CFLAGS,
            "source_sha256": hashlib.sha256(SOURCE.read_bytes()).hexdigest(),
            "caches": caches(),
            "thp_enabled": thp_mode(),
            "arms_requested": self._arms(p),
        }
        if p.get("hugetlb") == "reserve":
            info["hugetlb_reserved"] = self._reserve(ctx, parse_size(p["size"]))
        ctx.state["binary"] = binary
        ctx.state["run_info"] = {"probe": info}
        ctx.state["note"] = {"size": str(p["size"]), "reps": int(p["reps"])}

    def _reserve(self, ctx: RunContext, size: int) -> int:
        """Raise vm.nr_hugepages by the buffer's worth of 2 MiB pages; the ledger restores it."""
        try:
            current = int(HUGEPAGES.read_text().strip() or 0)
        except (OSError, ValueError):
            raise ResourceError(f"cannot read {HUGEPAGES}") from None
        want = current + -(-size // (2 << 20))
        ctx.ledger.set_knob(HUGEPAGES, str(want))
        got = int(HUGEPAGES.read_text().strip() or 0)
        if got < want:
            ctx.warn(
                f"hugetlb=reserve: asked for {want} huge pages, the kernel gave {got} "
                "(memory too fragmented); the hugetlb arm may be unavailable"
            )
        return got - current

    def _run(self, ctx: RunContext, reps: int | None = None) -> tuple[list[str], subprocess.CompletedProcess]:
        p = dict(ctx.params)
        if reps is not None:
            p["reps"] = reps
        argv = probe_argv(ctx.state["binary"], p, self._arms(p))
        size_gib = parse_size(p["size"]) / 2**30
        deadline = 120.0 + 20.0 * size_gib * int(p["reps"]) * len(self._arms(p))
        try:
            proc = proctree.run(argv, timeout=deadline)
        except subprocess.TimeoutExpired:
            ctx.log_command(argv, rc=None)
            raise RunFailed(f"tlb-probe did not finish within {deadline:.0f} s and was killed") from None
        ctx.log_command(argv, rc=proc.returncode)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip()[-300:]
            raise RunFailed(f"tlb-probe failed (rc {proc.returncode}): {tail}")
        return argv, proc

    def warmup(self, ctx: RunContext, index: int) -> None:
        self._run(ctx, reps=1)

    def measure(self, ctx: RunContext, iteration: int, perf_wrap: Callable[[list[str]], list[str]]) -> IterationResult:
        from benchctl.parsers.tlbprobe import parse

        argv, proc = self._run(ctx)
        try:
            res = parse(proc.stdout)
        except ParseError as e:
            raise RunFailed(f"tlb-probe output not understood: {e}") from None
        for w in res.warnings:
            ctx.warn(f"tlb-probe: {w}")
        arms = {k: {kk: vv for kk, vv in a.items() if kk != "reason"} for k, a in res.info["arms"].items()}
        return IterationResult(measurements=res.measurements, raw={OUTPUT: proc.stdout}, argv=argv, note={"arms": arms})

    def teardown(self, ctx: RunContext) -> None:
        pass  # buffers die with the probe process; a reserved nr_hugepages is restored by the ledger


DRIVER = TlbProbe()
