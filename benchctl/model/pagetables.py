"""Exact page-table arithmetic for the arm64 linear map, PTE arm vs block arm.

Why exact and not a rule of thumb: the boot-memory claim (+504 MiB MemTotal on
256 GB) is checked against this arithmetic, and a reviewer must be able to redo
it by hand. Every table is one granule of 8-byte descriptors
(../shared/domain.md, "Page-table arithmetic"; kernel.md section 7).

Model of the map (stated so it can be checked):
- RAM is one bank starting at a physical address aligned to the largest block;
  the top-level table (swapper_pg_dir) is static and not counted.
- VA_BITS=48 layout: 4K = PGD/PUD/PMD/PTE (PUD entry 1 GiB, PMD 2 MiB);
  16K = PGD/PUD/PMD/PTE (PUD entry 64 GiB, never a block in Linux, PMD 32 MiB);
  64K = PGD/PMD/PTE (PGD entry 4 TiB, PMD 512 MiB).
- The map is built range by range as map_mem() does: a leaf of span S is used
  for an S-aligned chunk only if the chunk lies wholly inside one range whose
  flags allow it; contiguous runs likewise (ARM64_CONT_PTE/PMD_SHIFT).
- PTE arm: NO_BLOCK_MAPPINGS|NO_CONT_MAPPINGS everywhere except the kernel
  image alias, which map_mem() maps with NO_CONT_MAPPINGS only, in both arms.
- Block arm: blocks everywhere; the KFENCE pool is PTE-mapped; a 4 KiB
  permission change splits only the blocks holding its boundaries
  (PUD -> CONT_PMD -> PMD -> CONT_PTE -> PTE), which is the same end state as
  mapping that page as its own no-block range. Splits never re-merge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchctl.errors import UsageError

KiB, MiB, GiB, TiB = 1 << 10, 1 << 20, 1 << 30, 1 << 40
MAPPING_KINDS = ("PUD", "CONT_PMD", "PMD", "CONT_PTE", "PTE")


@dataclass(frozen=True)
class Level:
    """One table level: what one entry spans, and whether it may be a leaf."""

    name: str
    entry_span: int
    block: bool  # entries may be block (leaf) descriptors
    cont_span: int | None  # span of a contiguous-bit run of entries, if any


@dataclass(frozen=True)
class Layout:
    granule: int
    pgd_entry_span: int  # one table at levels[0] covers this much
    levels: tuple[Level, ...]  # from the first allocated table level down to PTE


LAYOUTS: dict[int, Layout] = {
    4 * KiB: Layout(
        4 * KiB,
        512 * GiB,
        (
            Level("PUD", 1 * GiB, True, None),
            Level("PMD", 2 * MiB, True, 32 * MiB),
            Level("PTE", 4 * KiB, True, 64 * KiB),
        ),
    ),
    16 * KiB: Layout(
        16 * KiB,
        128 * TiB,
        (
            Level("PUD", 64 * GiB, False, None),
            Level("PMD", 32 * MiB, True, 1 * GiB),
            Level("PTE", 16 * KiB, True, 2 * MiB),
        ),
    ),
    64 * KiB: Layout(
        64 * KiB,
        4 * TiB,
        (
            Level("PMD", 512 * MiB, True, 16 * GiB),
            Level("PTE", 64 * KiB, True, 2 * MiB),
        ),
    ),
}

GRANULE_NAMES = {"4k": 4 * KiB, "16k": 16 * KiB, "64k": 64 * KiB}


def parse_granule(value: str | int) -> int:
    """Granule in bytes from "4k"/"16k"/"64k" or 4096/16384/65536."""
    if isinstance(value, int) or str(value).strip().isdigit():
        g = int(value)
        if g in LAYOUTS:
            return g
        raise UsageError(f"unsupported granule {value!r}; use 4k, 16k or 64k")
    named = GRANULE_NAMES.get(str(value).strip().lower().removesuffix("b").removesuffix("i"))
    if named is None:
        raise UsageError(f"unsupported granule {value!r}; use 4k, 16k or 64k")
    return named


@dataclass(frozen=True)
class Range:
    """A physical range mapped in one map_mem() call, with its mapping flags."""

    start: int
    end: int
    no_block: bool
    no_cont: bool
    what: str = "ram"


def _full(a: int, b: int, span: int) -> int:
    """Bytes of span-aligned chunks lying wholly inside [a, b)."""
    lo = -(-a // span) * span
    hi = (b // span) * span
    return max(0, hi - lo)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def build_ranges(
    ram: int,
    granule: int,
    arm: str,
    *,
    kernel_image: int = 0,
    kfence_pool: int = 0,
    perm_changes: int = 0,
    kernel_start: int = 0,
) -> list[Range]:
    """The ranges map_mem() would map, for one arm, in address order.

    Placement (documented, deterministic): the kernel image alias at the
    bottom of RAM, the KFENCE pool at the top, and the `perm_changes` 4 KiB
    pages spread evenly over the rest — the worst case, every change landing
    in a block no earlier change has split.
    """
    if arm not in ("pte", "block"):
        raise UsageError(f"unknown arm {arm!r}; use pte or block")
    if ram <= 0 or ram % granule:
        raise UsageError(f"RAM size must be a positive multiple of the {granule // KiB} KiB granule")
    for name, v in (("kernel image", kernel_image), ("KFENCE pool", kfence_pool), ("permission changes", perm_changes)):
        if v < 0:
            raise UsageError(f"{name} must not be negative")
    kimg = _ceil_div(kernel_image, granule) * granule
    kfence = _ceil_div(kfence_pool, granule) * granule
    if kimg + kfence + perm_changes * granule > ram:
        raise UsageError("kernel image, KFENCE pool and permission changes do not fit in the RAM size given")
    general_no_block = arm == "pte"
    specials: list[Range] = []
    if kimg:  # kernel_start: where the alias begins (_text is 2 MiB aligned; 6.1 starts at _stext, 64 KiB on)
        specials.append(Range(kernel_start, kernel_start + kimg, False, True, "kernel image alias"))
    lo, hi = kernel_start + kimg, ram - kfence
    if kfence:
        specials.append(Range(hi, ram, True, True, "KFENCE pool"))
    if perm_changes:
        span = hi - lo
        pages = span // granule
        n = min(perm_changes, pages)
        for i in range(n):
            page = (i * pages) // n + (pages // n) // 2 if n < pages else i
            s = lo + page * granule
            specials.append(Range(s, s + granule, True, True, "4 KiB permission change"))
    specials.sort(key=lambda r: r.start)
    out: list[Range] = []
    pos = 0
    for r in specials:
        if r.start > pos:
            out.append(Range(pos, r.start, general_no_block, general_no_block))
        out.append(
            Range(
                r.start,
                r.end,
                r.no_block or (general_no_block and r.what != "kernel image alias"),
                r.no_cont or general_no_block,
                r.what,
            )
        )
        pos = r.end
    if pos < ram:
        out.append(Range(pos, ram, general_no_block, general_no_block))
    return out


def _covered_by_leaves_at_or_above(r: Range, layout: Layout, k: int) -> int:
    """Bytes of level-k-entry-sized chunks of r that a leaf at level <= k covers."""
    if r.no_block:
        return 0
    allowed = [j for j in range(k + 1) if layout.levels[j].block and j < len(layout.levels) - 1]
    if not allowed:
        return 0
    return _full(r.start, r.end, layout.levels[max(allowed)].entry_span)


def map_arm(ram: int, granule: int, arm: str, **splits: int) -> dict:
    """Tables per level and bytes per mapping kind for one arm."""
    layout = LAYOUTS[granule]
    ranges = build_ranges(ram, granule, arm, **splits)
    levels = layout.levels
    tables: dict[str, dict[str, int]] = {}
    for k, lvl in enumerate(levels):
        if k == 0:
            count = _ceil_div(ram, layout.pgd_entry_span)
        else:
            parent = levels[k - 1]
            covered = sum(_covered_by_leaves_at_or_above(r, layout, k - 1) for r in ranges)
            count = _ceil_div(ram, parent.entry_span) - covered // parent.entry_span
        tables[lvl.name] = {"count": count, "bytes": count * granule}

    mapped = {kind: 0 for kind in MAPPING_KINDS}
    for r in ranges:
        higher = 0  # bytes of r already mapped by leaves at higher levels
        for k, lvl in enumerate(levels):
            last = k == len(levels) - 1
            if last:
                here = r.end - r.start
            elif lvl.block and not r.no_block:
                here = _full(r.start, r.end, lvl.entry_span)
            else:
                continue
            leaf = here - higher
            cont = 0
            if lvl.cont_span and not r.no_cont:
                cont = _full(r.start, r.end, lvl.cont_span) - higher
            name = lvl.name if lvl.name != "PUD" else "PUD"
            if cont:
                mapped["CONT_" + name] += cont
            mapped[name] += leaf - cont
            higher = here
    return {"tables": tables, "table_bytes": sum(t["bytes"] for t in tables.values()), "mapped": mapped}


def compare(
    ram: int,
    granule: int = 4 * KiB,
    *,
    kernel_image: int = 0,
    kfence_pool: int = 0,
    perm_changes: int = 0,
    block_allowed: bool = True,
    kernel_start: int = 0,
) -> dict:
    """Both arms and their difference; JSON-ready (keys per issue 6).

    `block_allowed=False` models a CPU off the BBML2_NOABORT allow-list: the
    patched kernel maps it with PTEs, so both arms are the PTE arm.
    """
    if granule not in LAYOUTS:
        raise UsageError(f"unsupported granule {granule}; use 4k, 16k or 64k")
    splits = {
        "kernel_image": kernel_image,
        "kfence_pool": kfence_pool,
        "perm_changes": perm_changes,
        "kernel_start": kernel_start,
    }
    pte = map_arm(ram, granule, "pte", **splits)
    block = map_arm(ram, granule, "block" if block_allowed else "pte", **splits)
    per_level = [
        {
            "level": name,
            "pte_arm_tables": pte["tables"][name]["count"],
            "block_arm_tables": block["tables"][name]["count"],
            "pte_arm_bytes": pte["tables"][name]["bytes"],
            "block_arm_bytes": block["tables"][name]["bytes"],
            "saving_bytes": pte["tables"][name]["bytes"] - block["tables"][name]["bytes"],
        }
        for name in pte["tables"]
    ]
    return {
        "simulated": True,
        "basis": "exact page-table arithmetic (model output, not a measurement)",
        "ram_bytes": ram,
        "granule_bytes": granule,
        "va_bits": 48,
        "splits": splits,
        "block_allowed": block_allowed,
        "pte_arm_bytes": pte["table_bytes"],
        "block_arm_bytes": block["table_bytes"],
        "saving_bytes": pte["table_bytes"] - block["table_bytes"],
        "levels": per_level,
        "mapped_bytes": {"pte": pte["mapped"], "block": block["mapped"]},
    }


def leaf_size_at(ram: int, granule: int, arm: str, address: int, **splits: int) -> int:
    """Size of the TLB entry that maps `address` (contiguous runs count as one entry)."""
    layout = LAYOUTS[granule]
    for r in build_ranges(ram, granule, arm, **splits):
        if r.start <= address < r.end:
            for lvl in layout.levels[:-1]:
                if (
                    lvl.block
                    and not r.no_block
                    and _full(r.start, r.end, lvl.entry_span)
                    and _chunk_inside(r, address, lvl.entry_span)
                ):
                    if lvl.cont_span is None or r.no_cont:
                        return lvl.entry_span
                    return lvl.cont_span if _chunk_inside(r, address, lvl.cont_span) else lvl.entry_span
            last = layout.levels[-1]
            if last.cont_span and not r.no_cont and _chunk_inside(r, address, last.cont_span):
                return last.cont_span
            return granule
    raise UsageError(f"address {address:#x} outside RAM")


def _chunk_inside(r: Range, address: int, span: int) -> bool:
    lo = address // span * span
    return r.start <= lo and lo + span <= r.end


STRUCT_PAGE = 64  # sizeof(struct page) on 64-bit kernels: the memmap costs 64 bytes per granule


def memmap_bytes(mapped: int, granule: int) -> int:
    """The memmap (struct pages) of `mapped` bytes of RAM: memblock-reserved, inside RAM, mapped by
    the linear map like any other RAM (1/64 of RAM at 4 KiB, 1/256 at 16 KiB, 1/1024 at 64 KiB)."""
    return mapped // granule * STRUCT_PAGE


@dataclass(frozen=True)
class BootMemory:
    """What each arm leaves in MemTotal and MemFree right after boot (docs/model.md, "Boot memory").

    The kernel's rules: map_mem() maps every memblock.memory range that is not
    MEMBLOCK_NOMAP, allocating its page tables from memblock before the buddy
    allocator exists, so the tables are reserved memory: they lower MemTotal
    (totalram_pages) and, being never freed, MemFree by the same amount. The
    memmap is reserved too, in both arms alike. Splits after boot (block arm:
    module and BPF text, vmalloc'd memory with VM_FLUSH_RESET_PERMS) allocate
    their tables from the page allocator: they lower MemFree only.
    """

    installed: int
    unmapped: int  # firmware-reserved (no-map) memory and holes: never in the linear map
    granule: int
    mapped: int
    memmap: int
    pte_arm_tables: int  # memblock tables of the PTE arm (the whole map)
    block_arm_tables: int  # memblock tables of the block arm at boot (kernel alias, KFENCE pool)
    split_tables: int  # tables the block arm allocates after boot for `perm_changes` splits
    mem_total_change: int  # block arm minus PTE arm, bytes
    mem_free_change: int  # the same for MemFree, without boot-to-boot noise

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def boot_memory(
    installed: int,
    granule: int = 4 * KiB,
    *,
    unmapped: int = 0,
    kernel_image: int = 0,
    kfence_pool: int = 0,
    perm_changes: int = 0,
    block_allowed: bool = True,
    kernel_start: int = 0,
) -> BootMemory:
    """MemTotal and MemFree change of the block arm over the PTE arm, from the kernel's allocation rules."""
    if unmapped < 0 or unmapped >= installed:
        raise UsageError("unmapped memory must be at least 0 and less than the installed RAM")
    mapped = (installed - unmapped) // granule * granule
    kw: dict[str, Any] = {"kernel_image": kernel_image, "kfence_pool": kfence_pool, "block_allowed": block_allowed}
    at_boot = compare(mapped, granule, kernel_start=kernel_start, **kw)
    later = compare(mapped, granule, perm_changes=perm_changes, kernel_start=kernel_start, **kw)
    split = later["block_arm_bytes"] - at_boot["block_arm_bytes"]
    total = at_boot["pte_arm_bytes"] - at_boot["block_arm_bytes"]
    return BootMemory(
        installed,
        unmapped,
        granule,
        mapped,
        memmap_bytes(mapped, granule),
        at_boot["pte_arm_bytes"],
        at_boot["block_arm_bytes"],
        split,
        total,
        total - split,
    )


def boot_memory_report(
    installed: int,
    granule: int,
    *,
    unmapped: int = 0,
    unmapped_range: tuple[int, int] | None = None,
    source: str = "",
    notes: list[str] | None = None,
    **rules: Any,
) -> dict:
    """What `model pagetables` reports: compare() of the mapped RAM, boot_memory(), where the RAM figure
    came from, and the MemTotal change over an assumed range of unmapped memory (least, most). `rules`:
    kernel_image, kfence_pool, perm_changes, kernel_start, block_allowed (as boot_memory takes them)."""
    bm = boot_memory(installed, granule, unmapped=unmapped, **rules)
    r = compare(bm.mapped, granule, **rules)
    r.update(
        installed_bytes=installed, unmapped_bytes=unmapped, source=source, notes=notes or [], boot_memory=bm.to_json()
    )
    if unmapped_range:
        at_boot = {k: val for k, val in rules.items() if k != "perm_changes"}
        lo = boot_memory(installed, granule, unmapped=unmapped_range[1], **at_boot)
        hi = boot_memory(installed, granule, unmapped=unmapped_range[0], **at_boot)
        r["mem_total_change_range_bytes"] = [lo.mem_total_change, hi.mem_total_change]
    return r


def from_fingerprint(doc: dict, path: object = None) -> tuple[int, int]:
    """(mapped RAM bytes, granule bytes) from a `benchctl env --format json` fingerprint.

    MemTotal is what the buddy allocator manages: the mapped RAM minus what
    memblock kept, chiefly the memmap (1/64 of the mapped RAM at 4 KiB) and,
    on a PTE-mapped kernel, the linear map's own tables (linear_map.state
    says which). Both are inside the linear map, so the mapped RAM is
    MemTotal plus them: with M = MemTotal and t = tables per byte mapped
    (8/granule for PTEs, ~0 for blocks), mapped = M / (1 - 64/granule - t).
    The kernel image and smaller reservations are left out (tens of MiB).
    """
    from benchctl.errors import InputError

    if not isinstance(doc, dict) or not str(doc.get("format", "")).startswith("benchctl-env/"):
        raise InputError("not a benchctl env fingerprint (format benchctl-env/1 expected)", path)
    total_kb = (doc.get("memory") or {}).get("total_kb")
    page = (doc.get("kernel") or {}).get("page_size")
    if not isinstance(total_kb, (int, float)) or isinstance(total_kb, bool) or total_kb <= 0:
        raise InputError("memory.total_kb is missing or not a positive number", path)
    if page is None:
        raise InputError("kernel.page_size is missing", path)
    try:
        granule = parse_granule(page)
    except UsageError as e:
        raise InputError(f"kernel.page_size: {e}", path) from None
    state = (doc.get("linear_map") or {}).get("state")
    tables = 8 / granule if state == "pte" else 0.0
    ram = int(int(total_kb) * 1024 / (1.0 - STRUCT_PAGE / granule - tables))
    return ram // granule * granule, granule
