"""Parser for arm64 /sys/kernel/debug/kernel_page_tables (the Linear Mapping section).

This is the only direct observation of which arm a boot is in, so it is
strict: every line of the section must parse and its printed size must equal
end - start, otherwise InputError names the file and line. Format, from
arch/arm64/mm/ptdump.c note_page(): "0x<start>-0x<end>  <n><K|M|G|T|P|E> <LEVEL>
<attribute words>", where attribute words include F (valid bit clear),
RO/ro/RW, CON (contiguous bit), BLK (block descriptor), TBL (table entry, newer
kernels); a line without attribute words is an unmapped range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from benchctl.env.arm64.linearmap import Census
from benchctl.errors import InputError

START = "---[ Linear Mapping start ]---"
END = "---[ Linear Mapping end ]---"
UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40, "P": 1 << 50, "E": 1 << 60}
LEVELS = ("PGD", "P4D", "PUD", "PMD", "PTE")

_LINE = re.compile(
    r"^0x(?P<start>[0-9a-f]+)-0x(?P<end>[0-9a-f]+)\s+(?P<num>\d+)(?P<unit>[KMGTPE])\s+"
    r"(?P<level>PGD|P4D|PUD|PMD|PTE)(?:\s+(?P<attrs>.*?))?\s*$",
    re.IGNORECASE,
)


@dataclass
class LinearMap(Census):
    """Byte census of ptdump's Linear Mapping section (linearmap.Census), and its line count."""

    lines: int = 0


def _kind(level: str, words: set[str]) -> str:
    if level == "PTE":
        return "CONT_PTE" if "CON" in words else "PTE"
    if level == "PMD":
        return "CONT_PMD" if "CON" in words else "PMD"
    # A valid leaf above PMD is a PUD (or, folded, PGD/P4D) block: the largest kind.
    return "PUD"


def parse_linear_map(text: str, path: object = "kernel_page_tables") -> LinearMap:
    """Census of the Linear Mapping section of a kernel_page_tables dump.

    Accepts the whole file or just the section (with its markers). Raises
    InputError (file, line) on a malformed line, a size that disagrees with
    its range, or a missing section.
    """
    lines = text.splitlines()
    try:
        first = next(i for i, line in enumerate(lines) if line.strip() == START)
    except StopIteration:
        raise InputError(f"no '{START}' section (not an arm64 kernel_page_tables dump?)", path) from None
    out = LinearMap()
    for i in range(first + 1, len(lines)):
        lineno = i + 1
        line = lines[i].strip()
        if line == END:
            return out
        if not line:
            continue
        m = _LINE.match(line)
        if not m:
            raise InputError(f"malformed page-table line: {line[:120]!r}", path, lineno)
        start, end = int(m["start"], 16), int(m["end"], 16)
        if end <= start:
            end += 1 << 64  # the last range of the address space wraps to 0
        size = int(m["num"]) * UNITS[m["unit"].upper()]
        if size != end - start:
            raise InputError(f"size {m['num']}{m['unit']} does not match range length {end - start}", path, lineno)
        out.lines += 1
        words = {w.upper() for w in (m["attrs"] or "").split()}
        if not words:
            out.hole_bytes += size
            continue
        if "TBL" in words:
            continue  # a table entry: its range is described again by the leaves below it
        if "F" in words:
            out.bytes["invalid"] += size
            continue
        kind = _kind(m["level"].upper(), words)
        out.bytes[kind] += size
        if "RO" in words:
            out.ro_bytes += size
        else:
            out.rw_bytes[kind] += size
    raise InputError(f"'{START}' section has no '{END}' (truncated dump?)", path)
