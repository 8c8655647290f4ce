"""DirectMap* lines of /proc/meminfo as a linear-map census.

x86 always prints them; arm64 only with a patch seen in linux-next
(Nov 2025), so they are optional there. On arm64 the same label names a
different descriptor kind per granule (DirectMap2M is a PMD block at 4K but a
contiguous-PTE run at 16K and 64K), so the granule must be known first; the
labels themselves identify it (DirectMap4k / 16k / 64k is always printed).
"""

from __future__ import annotations

import re

from benchctl.env.arm64.linearmap import empty_census

_LINE = re.compile(r"^(DirectMap\w+):\s+(\d+)\s*kB", re.MULTILINE)

X86_KINDS = {"DirectMap4k": "PTE", "DirectMap2M": "PMD", "DirectMap4M": "PMD", "DirectMap1G": "PUD"}
ARM64_KINDS = {
    4096: {"DirectMap4k": "PTE", "DirectMap64k": "CONT_PTE", "DirectMap2M": "PMD",
           "DirectMap32M": "CONT_PMD", "DirectMap1G": "PUD"},
    16384: {"DirectMap16k": "PTE", "DirectMap2M": "CONT_PTE", "DirectMap32M": "PMD",
            "DirectMap1G": "CONT_PMD"},
    65536: {"DirectMap64k": "PTE", "DirectMap2M": "CONT_PTE", "DirectMap512M": "PMD",
            "DirectMap16G": "CONT_PMD"},
}


def parse_directmap(meminfo: str) -> dict[str, int]:
    """{label: kB} for every DirectMap* line (empty if none)."""
    return {label: int(kb) for label, kb in _LINE.findall(meminfo)}


def arm64_granule(labels: dict[str, int], page_size: int | None) -> int | None:
    """Granule from the labels (the smallest one is always printed), else the page size."""
    if "DirectMap4k" in labels:
        return 4096
    if "DirectMap16k" in labels:
        return 16384
    if "DirectMap64k" in labels:
        return 65536
    return page_size if page_size in ARM64_KINDS else None


def census(labels: dict[str, int], arch: str, page_size: int | None) -> dict[str, int] | None:
    """Bytes per kind, or None when the labels cannot be interpreted (unknown granule/label)."""
    if arch in ("x86_64", "i686", "i386"):
        table = X86_KINDS
    elif arch == "aarch64":
        granule = arm64_granule(labels, page_size)
        if granule is None:
            return None
        table = ARM64_KINDS[granule]
    else:
        return None
    out = empty_census()
    for label, kb in labels.items():
        kind = table.get(label)
        if kind is None:
            return None
        out[kind] += kb * 1024
    return out
