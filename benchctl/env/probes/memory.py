"""/proc/meminfo: totals, page tables and the DirectMap* census.

MemTotal is itself a signal (the PTE arm's page tables come out of memblock
before MemTotal is computed), and PageTables/DirectMap track the map.
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


_LINE = re.compile(r"^([\w()]+):\s+(\d+)", re.MULTILINE | re.ASCII)   # ASCII digits: int() takes '٣'


def parse_meminfo(text: str) -> dict[str, int]:
    """{label: value} for every "Label: N [kB]" line (the one /proc/meminfo parser)."""
    return {k: int(v) for k, v in _LINE.findall(text)}


class MemoryProbe(Probe):
    def run(self, ctx: Context) -> None:
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
            ctx.miss("memory.directmap", f"no DirectMap* lines in {source} (arm64 prints them only "
                                         "with a linux-next patch)")
