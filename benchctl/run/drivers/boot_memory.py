"""boot-memory: what the booted kernel left free, read from /proc/meminfo.

The claim (+500 MB free) is a difference of MemTotal/MemFree between two
freshly booted kernels: the PTE arm pays for its linear-map page tables out
of memblock, before MemTotal is counted. Anything that runs after boot
changes MemFree, so the reading carries the uptime and a warning when the
boot is older than the preset's `max_uptime_s`; run it first in a suite.
DirectMap lines (x86 always, arm64 only with a linux-next patch) and
PageTables go into the note and raw output.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

from benchctl.env.probes import memory as meminfo
from benchctl.run.drivers.base import IterationResult, RunContext
from benchctl.errors import InputError
from benchctl.parsers import Measurement

FIELDS = {"MemTotal": "mem_total_kb", "MemFree": "mem_free_kb", "MemAvailable": "mem_available_kb",
          "PageTables": "page_tables_kb"}


def parse_meminfo(text: str) -> dict[str, int]:
    """`Key:  N kB` lines -> {Key: N} (values in kB as the kernel prints them); MemTotal must be there."""
    out = meminfo.parse_meminfo(text)
    if "MemTotal" not in out:
        raise InputError("no MemTotal line in meminfo")
    return out


def parse_uptime(text: str) -> float:
    try:
        value = float(text.split()[0])
    except (IndexError, ValueError):
        raise InputError(f"unreadable uptime {text[:40]!r}") from None
    if not math.isfinite(value) or value < 0:
        raise InputError(f"unreadable uptime {text[:40]!r}")
    return value


def read(root: Path = Path("/")) -> tuple[str, dict[str, int], float]:
    meminfo = (root / "proc" / "meminfo").read_text()
    return meminfo, parse_meminfo(meminfo), parse_uptime((root / "proc" / "uptime").read_text())


def measurements(mem: dict[str, int], uptime_s: float, max_uptime_s: float) -> tuple[list[Measurement], dict]:
    directmap = {k: v for k, v in mem.items() if k.startswith("DirectMap")}
    note: dict[str, Any] = {"uptime_s": round(uptime_s, 2), "fresh_boot": uptime_s <= max_uptime_s}
    if directmap:
        note["directmap_kb"] = directmap
    ms = [Measurement(metric, float(mem[key]), "kB") for key, metric in FIELDS.items() if key in mem]
    return ms, note


class BootMemory:
    name = "boot-memory"
    root = Path("/")

    def requirements(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        return []

    def _stale(self, uptime: float, limit: float) -> str | None:
        if uptime > limit:
            return (f"boot is not fresh: uptime {uptime:.0f} s > max_uptime_s={limit:.0f}; "
                    "MemFree drifts after boot, so run boot-memory first after a reboot")
        return None

    def check(self, ctx: RunContext) -> list[str]:
        _, _, uptime = read(self.root)
        w = self._stale(uptime, float(ctx.params.get("max_uptime_s", 600)))
        return [w] if w else []

    def setup(self, ctx: RunContext) -> None:
        pass

    def warmup(self, ctx: RunContext, index: int) -> None:
        pass

    def measure(self, ctx: RunContext, iteration: int,
                perf_wrap: Callable[[list[str]], list[str]]) -> IterationResult:
        text, mem, uptime = read(self.root)
        ms, note = measurements(mem, uptime, float(ctx.params.get("max_uptime_s", 600)))
        missing = [k for k in FIELDS if k not in mem]
        if missing:
            ctx.warn(f"boot-memory: /proc/meminfo has no {', '.join(missing)} line")
        return IterationResult(measurements=ms, raw={"meminfo.txt": text}, note=note)

    def teardown(self, ctx: RunContext) -> None:
        pass


DRIVER = BootMemory()
