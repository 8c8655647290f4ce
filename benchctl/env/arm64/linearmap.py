"""Mapping kinds of the arm64 linear map and how a byte census becomes a verdict.

Both observers (ptdump and /proc/meminfo DirectMap*) reduce to bytes per
descriptor kind; the verdict "block" / "pte" / "mixed" is made here once so the
two sources cannot disagree on what the words mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("PUD", "CONT_PMD", "PMD", "CONT_PTE", "PTE")
BLOCK_KINDS = ("PUD", "CONT_PMD", "PMD", "CONT_PTE")
STATES = ("block", "pte", "mixed", "unknown")

# A block-mapped map still has PTE islands (KFENCE pool, unaligned edges,
# regions split by set_memory_*): ~1% in the recorded trees. Below 90% blocks
# the map has degraded enough to call it "mixed" rather than either arm.
BLOCK_THRESHOLD = 0.90


def empty_census() -> dict[str, int]:
    return {kind: 0 for kind in KINDS} | {"invalid": 0}


def block_fraction(rw_bytes: dict[str, int]) -> float | None:
    """Share of mapped bytes held by block or contiguous descriptors; None if nothing mapped."""
    total = sum(rw_bytes.get(k, 0) for k in KINDS)
    if total == 0:
        return None
    return sum(rw_bytes.get(k, 0) for k in BLOCK_KINDS) / total


def classify(rw_bytes: dict[str, int]) -> str:
    """ "pte" when not one writable byte sits in a block/contiguous descriptor (the PTE arm
    sets NO_BLOCK_MAPPINGS | NO_CONT_MAPPINGS for the whole map), "block" when at least
    BLOCK_THRESHOLD of it does, "mixed" in between, "unknown" when nothing is mapped."""
    frac = block_fraction(rw_bytes)
    if frac is None:
        return "unknown"
    if frac == 0.0:
        return "pte"
    if frac >= BLOCK_THRESHOLD:
        return "block"
    return "mixed"


@dataclass
class Census:
    """Bytes of the linear map by descriptor kind, as any observer that sees descriptors counts them.

    `bytes` counts every valid leaf (writable or read-only) by kind, plus invalid
    bytes; `rw_bytes` holds only writable leaves, which decide the state: the
    read-only kernel-image alias is mapped separately (NO_CONT_MAPPINGS, never
    split) in both arms, as a PMD block or a PTE run, so it says nothing about
    which arm this is.
    """

    bytes: dict[str, int] = field(default_factory=empty_census)
    rw_bytes: dict[str, int] = field(default_factory=empty_census)
    ro_bytes: int = 0
    hole_bytes: int = 0

    @property
    def state(self) -> str:
        return classify(self.rw_bytes)

    @property
    def block_fraction(self) -> float | None:
        return block_fraction(self.rw_bytes)
