"""/proc/meminfo: totals, page tables and the DirectMap* census.

MemTotal is itself a signal (the PTE arm's page tables come out of memblock
before MemTotal is computed), and PageTables/DirectMap track the map.
memory.ram_kb is the RAM the kernel was given, from its own boot line
"Memory: 2048604K/2097152K available (...)": what a page-table prediction
(benchctl model pagetables) needs, and what MemTotal is not.
"""

from __future__ import annotations

import re

from benchctl.env.arm64.directmap import parse_directmap
from benchctl.env.probes.base import Context, Probe, Unavailable

FIELDS = {
    "memory.total_kb": "MemTotal",
    "memory.free_kb": "MemFree",
    "memory.available_kb": "MemAvailable",
    "memory.page_tables_kb": "PageTables",
}


_LINE = re.compile(r"^([\w()]+):\s+(\d+)", re.MULTILINE | re.ASCII)  # ASCII digits: int() takes '٣'
_BOOT_MEMORY = re.compile(r"\bMemory: (\d+)K/(\d+)K available", re.ASCII)


def parse_meminfo(text: str) -> dict[str, int]:
    """{label: value} for every "Label: N [kB]" line (the one /proc/meminfo parser)."""
    return {k: int(v) for k, v in _LINE.findall(text)}


def parse_boot_memory(log: str) -> int | None:
    """kB of RAM from the kernel's "Memory: AK/BK available" boot line (the last one in the log)."""
    found = _BOOT_MEMORY.findall(log)
    return int(found[-1][1]) if found else None


class MemoryProbe(Probe):
    def run(self, ctx: Context) -> None:
        log = ctx.scratch.get("dmesg")
        ram = parse_boot_memory(log) if log else None
        if ram:
            ctx.set("memory.ram_kb", ram, f"{ctx.scratch.get('dmesg_source')} ('Memory: .../{ram}K available')")
        else:
            why = ctx.scratch.get("dmesg_reason") or "no 'Memory: ...K available' line in the kernel log"
            ctx.miss("memory.ram_kb", why)
        source = ctx.shown("proc/meminfo")
        try:
            text = ctx.read("proc/meminfo")
        except Unavailable as e:
            for path in (*FIELDS, "memory.directmap"):
                ctx.miss(path, str(e))
            return
        values = parse_meminfo(text)
        for path, label in FIELDS.items():
            if label in values:
                ctx.set(path, values[label], f"{source} ({label})")
            else:
                ctx.miss(path, f"no {label} line in {source}")
        directmap = parse_directmap(text)
        if directmap:
            ctx.set("memory.directmap", directmap, f"{source} (DirectMap*)")
        else:
            ctx.miss(
                "memory.directmap", f"no DirectMap* lines in {source} (arm64 prints them only with a linux-next patch)"
            )
