"""The /proc/kcore page-table walk: a synthetic arm64 core with known tables, its refusals, the
extract format, the fingerprint's use of it, and the extracts recorded in real arm64 guests."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import struct
import sys
from pathlib import Path
from unittest.mock import ANY

import deadline  # tests/support/deadline.py
import pytest
from env_trees import AMPEREONE, derive

from benchctl.env.arm64.kcore import (
    FORMAT,
    Core,
    KcoreError,
    geometry,
    read_core,
    read_extract,
    record,
    walk,
    walk_file,
)
from benchctl.env.fingerprint import collect
from benchctl.errors import InputError

K, M, G = 1 << 10, 1 << 20, 1 << 30
PAGE = 4096
LINEAR = 0xFFFF_0000_0000_0000  # -(1 << 48): the linear region of a 52-bit build on a 48-bit CPU
KIMAGE = 0xFFFF_8000_8000_0000
PHYS = 0x4000_0000
TEXT_PA = PHYS + 0x20_0000  # the kernel image, inside the first GiB of RAM
PGD, PUD, PMD, PTE1, PTE2 = (TEXT_PA + n * PAGE for n in range(1, 6))
NO_PADDR = (1 << 64) - 1
# AF, inner shareable, PXN/UXN, like PAGE_KERNEL; bits[1:0] added per descriptor.
ATTRS = 1 << 10 | 3 << 8 | 1 << 53 | 1 << 54
TABLE, BLOCK, PAGE_D = 3, 1, 3
RO, CONT = 1 << 7, 1 << 52
RELEASE = "6.18.15+deb13-arm64"

N1 = 0x414FD0C1  # Neoverse N1 r4p1, qemu's neoverse-n1: not on the allow-list
FIXTURES = Path(__file__).parents[1] / "fixtures" / "arm64-kcore"
BLOCK_EXTRACT = FIXTURES / "ampereone-6.18-block.extract.gz"
PTE_EXTRACT = FIXTURES / "n1-6.18-pte.extract.gz"
PTE_617_EXTRACT = FIXTURES / "ampereone-6.17-pte.extract.gz"  # AmpereOne, but 6.17 lacks the series


def vmcoreinfo(**drop: bool) -> dict[str, str]:
    """The keys Debian's 6.18 prints, in the kernel's number formats ("%lx", "%ld", "0x%llx")."""
    info = {
        "OSRELEASE": RELEASE,
        "PAGESIZE": "4096",
        "SYMBOL(swapper_pg_dir)": f"{KIMAGE + 0x1000:x}",
        "NUMBER(VA_BITS)": "52",
        "NUMBER(kimage_voffset)": f"0x{KIMAGE - TEXT_PA:x}",
        "NUMBER(PHYS_OFFSET)": f"0x{PHYS:x}",
        "NUMBER(TCR_EL1_T1SZ)": "0x10",
        "KERNELOFFSET": "0",
    }
    return {k: v for k, v in info.items() if not drop.get(k.replace("(", "_").replace(")", ""))}


def note(name: bytes, ntype: int, desc: bytes) -> bytes:
    pad = lambda b: b + b"\0" * (-len(b) % 4)  # noqa: E731
    return struct.pack("<III", len(name) + 1, len(desc), ntype) + pad(name + b"\0") + pad(desc)


def tables() -> dict[int, dict[int, int]]:
    """Physical table page -> {index: descriptor}; the map the tests count by hand.

    VA LINEAR+0 .. 1G: one PUD block. LINEAR+1G: a PMD table: [0] RW block, [1] read-only block,
    [2] a full PTE table, [3] a block with the valid bit cleared (invalid), [4] zero (hole),
    [5] a PTE table the segment ends inside (entry 256), [16..31] a contiguous PMD run.
    PTE1 (counted whole): [0..15] contiguous, [16..19] read-only, [20] invalid, [21] hole,
    [22] reserved (0b01 at the last level: invalid), [32..47] contiguous read-only, the rest plain.
    PTE2 (counted up to entry 256, one by one): [32..47] contiguous, [100] reserved, the rest plain.
    """
    pa_of = lambda off: PHYS + off  # noqa: E731  (linear offset -> physical)
    pmd = {
        0: pa_of(G) | ATTRS | BLOCK,
        1: pa_of(G + 2 * M) | ATTRS | BLOCK | RO,
        2: PTE1 | TABLE,
        3: pa_of(G + 6 * M) | ATTRS,  # a block with bit 0 clear: invalid, not a hole
        5: PTE2 | TABLE,
    }
    pmd |= {i: pa_of(G + i * 2 * M) | ATTRS | BLOCK | CONT for i in range(16, 32)}
    pte1 = {i: pa_of(G + 4 * M + i * PAGE) | ATTRS | PAGE_D for i in range(23, 512)}
    pte1 |= {i: pa_of(G + 4 * M + i * PAGE) | ATTRS | PAGE_D | CONT for i in range(16)}
    pte1 |= {i: pa_of(G + 4 * M + i * PAGE) | ATTRS | PAGE_D | RO for i in range(16, 20)}
    pte1 |= {i: pa_of(G + 4 * M + i * PAGE) | ATTRS | PAGE_D | CONT | RO for i in range(32, 48)}
    pte1[20] = pa_of(G + 4 * M + 20 * PAGE) | ATTRS | 2  # valid bit clear, not zero
    pte1[22] = pa_of(G + 4 * M + 22 * PAGE) | ATTRS | 1  # reserved at the last level
    pte2 = {i: pa_of(G + 10 * M + i * PAGE) | ATTRS | PAGE_D | (CONT if 32 <= i < 48 else 0) for i in range(512)}
    pte2[100] &= ~2
    return {
        PGD: {0: PUD | TABLE},
        PUD: {0: PHYS | ATTRS | BLOCK, 1: PMD | TABLE},
        PMD: pmd,
        PTE1: pte1,
        PTE2: pte2,
    }


SEGMENTS = [  # (vaddr, paddr, size): kernel text, RAM (ends inside PTE2), RAM (the CONT_PMD run), ...
    (KIMAGE, TEXT_PA, 0x10000),
    (LINEAR, PHYS, G + 11 * M),
    (LINEAR + G + 32 * M, PHYS + G + 32 * M, 32 * M),
    (0xFFFF_FDFF_C000_0000, NO_PADDR, 2 * M),  # vmemmap
    (LINEAR + 4 * G, NO_PADDR, 2 * M),  # no p_paddr: not RAM, skipped even inside the linear region
]


def build_core(
    path: Path,
    *,
    machine: int = 183,
    info: dict[str, str] | None = None,
    notes: bool = True,
    pages: dict[int, dict[int, int]] | None = None,
    segments: list[tuple[int, int, int]] = SEGMENTS,
    page_size: int = PAGE,
) -> Path:
    """A sparse ELF64 core laid out as fs/proc/kcore.c does: PT_NOTE, then PT_LOADs with p_paddr."""
    desc = "\n".join(f"{k}={v}" for k, v in (vmcoreinfo() if info is None else info).items()) + "\n"
    blob = note(b"CORE", 1, bytes(16)) + (note(b"VMCOREINFO", 0, desc.encode()) if notes else b"")
    nph = 1 + len(segments)
    phdrs = struct.pack("<IIQQQQQQ", 4, 0, 0x1000, 0, 0, len(blob), 0, 0)
    offsets, at = [], 0x10000
    for vaddr, paddr, size in segments:
        offsets.append(at)
        phdrs += struct.pack("<IIQQQQQQ", 1, 7, at, vaddr, paddr, size, size, page_size)
        at += size
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    ehdr = struct.pack("<16sHHIQQQIHHHHHH", ident, 4, machine, 1, 0, 64, 0, 0, 64, 56, nph, 0, 0, 0)
    with open(path, "wb") as f:
        f.truncate(at)
        f.write(ehdr + phdrs)
        f.seek(0x1000)
        f.write(blob)
        for pa, entries in (tables() if pages is None else pages).items():
            page = b"".join(struct.pack("<Q", entries.get(i, 0)) for i in range(page_size // 8))
            for (_, paddr, size), off in zip(segments, offsets, strict=True):
                if paddr != NO_PADDR and paddr <= pa < paddr + size:
                    f.seek(off + pa - paddr)
                    f.write(page)
    return path


@pytest.fixture
def core(tmp_path: Path) -> Path:
    return build_core(tmp_path / "kcore")


def test_synthetic_core_gives_exact_bytes_per_kind(core: Path) -> None:
    w = walk_file(core)
    assert w.bytes == {
        "PUD": G,
        "CONT_PMD": 32 * M,
        "PMD": 4 * M,  # the RW block and the read-only one
        "CONT_PTE": (16 + 16 + 16) * 4 * K,  # PTE1 (whole table: RW and RO runs), PTE2 (before the cut)
        "PTE": (4 + 9 + 464 + 239) * 4 * K,
        "invalid": 2 * M + 3 * 4 * K,  # the PMD with bit 0 clear; PTE1 [20], [22]; PTE2 [100]
    }
    assert w.rw_bytes == {
        "PUD": G,
        "CONT_PMD": 32 * M,
        "PMD": 2 * M,
        "CONT_PTE": 128 * K,
        "PTE": (9 + 464 + 239) * 4 * K,
        "invalid": 0,
    }
    assert (w.ro_bytes, w.hole_bytes) == (2 * M + 4 * 4 * K + 16 * 4 * K, 2 * M + 4 * K)
    assert w.summary()["descriptors"] == {
        "PGD_table": 1,
        "PUD_table": 1,  # once, though both RAM ranges pass through it
        "PMD_table": 2,
        "PUD_block": 1,
        "PMD_block": 2,
        "CONT_PMD": 16,
        "CONT_PMD_ranges": 1,
        "CONT_PTE": 48,
        "CONT_PTE_ranges": 3,
        "PTE": 716,
        "read_only": 1 + 4 + 16,
        "invalid": 4,
    }
    assert (w.va_bits, w.page_size, w.levels, w.osrelease) == (48, PAGE, 4, RELEASE)
    assert w.state == "block"
    # ELF header, 6 program headers, the notes, then the 5 table pages and nothing else
    notes = read_core_notes_size(core)
    assert w.bytes_read == 64 + 6 * 56 + notes + 5 * PAGE


def read_core_notes_size(path: Path) -> int:
    with open(path, "rb") as f:
        f.seek(64)
        return struct.unpack("<IIQQQQQQ", f.read(56))[5]


def test_a_pte_mapped_core_is_pte(tmp_path: Path) -> None:
    # The PTE arm: no block or contiguous descriptor anywhere; the read-only alias may be anything.
    pages = tables()
    pages[PUD] = {1: PMD | TABLE}
    pages[PMD] = {2: PTE1 | TABLE, 5: PTE2 | TABLE, 1: PHYS + G + 2 * M | ATTRS | BLOCK | RO}
    pages[PTE1] = {i: PHYS + G + 4 * M + i * PAGE | ATTRS | PAGE_D for i in range(512)}
    pages[PTE2] = {i: PHYS + G + 10 * M + i * PAGE | ATTRS | PAGE_D for i in range(512)}
    w = walk_file(build_core(tmp_path / "kcore", pages=pages))
    assert w.rw_bytes["PTE"] == (512 + 256) * PAGE and w.ro_bytes == 2 * M
    assert sum(w.rw_bytes[k] for k in ("PUD", "CONT_PMD", "PMD", "CONT_PTE")) == 0
    assert w.state == "pte"


def test_64k_granule_with_physical_addresses_above_48_bits(tmp_path: Path) -> None:
    # 64K pages, a 52-bit build on a 48-bit CPU: 3 levels, TTBR1 inside a 1024-entry PGD (index 960 for
    # the linear map's start), and RAM above 2**48, so every output address needs OA[51:48] from bits[15:12].
    p64, phys = 64 * K, 1 << 48
    text = phys + 2 * M
    pgd, pmd, pte = text + p64, text + 2 * p64, text + 3 * p64
    enc = lambda pa: (pa & ((1 << 48) - 1)) | (pa >> 48) << 12  # noqa: E731
    pages = {
        pgd: {960: enc(pmd) | TABLE},
        pmd: {0: enc(phys) | ATTRS | BLOCK, 1: enc(pte) | TABLE},
        pte: {i: enc(phys + 512 * M + i * p64) | ATTRS | PAGE_D | (CONT if i < 32 else 0) for i in range(8192)},
    }
    info = vmcoreinfo() | {"PAGESIZE": "65536", "SYMBOL(swapper_pg_dir)": f"{KIMAGE + p64:x}"}
    segments = [(KIMAGE, text, 4 * p64), (LINEAR, phys, G)]
    w = walk_file(build_core(tmp_path / "kcore", info=info, pages=pages, segments=segments, page_size=p64))
    assert (w.page_size, w.va_bits, w.levels) == (p64, 48, 3)
    assert w.bytes == {"PUD": 0, "CONT_PMD": 0, "PMD": 512 * M, "CONT_PTE": 2 * M, "PTE": 510 * M, "invalid": 0}
    assert w.summary()["descriptors"] == {
        "PGD_table": 1,
        "PMD_table": 1,
        "PMD_block": 1,
        "CONT_PTE": 32,
        "CONT_PTE_ranges": 1,
        "PTE": 8160,
    }


def test_lpa2_52_bit_va_walks_five_levels(tmp_path: Path) -> None:
    # 4K pages with LPA2 in use (T1SZ 12): 5 levels from a 16-entry PGD, the linear map at -(1 << 52),
    # OA[49:12] in place and OA[51:50] in bits[9:8] (so no shareability bits there: they move to TCR).
    phys, linear = (1 << 50) + (1 << 48), (1 << 64) - (1 << 52)
    text = phys + G + 64 * M
    pgd, p4d, pud, pmd = (text + n * PAGE for n in range(1, 5))
    enc = lambda pa: (pa & ((1 << 50) - 1)) | (pa >> 50) << 8  # noqa: E731
    attrs = ATTRS & ~(3 << 8)
    pages = {
        pgd: {0: enc(p4d) | TABLE},
        p4d: {0: enc(pud) | TABLE},
        pud: {0: enc(phys) | attrs | BLOCK, 1: enc(pmd) | TABLE},
        pmd: {i: enc(phys + G + i * 2 * M) | attrs | BLOCK | CONT for i in range(16)},
    }
    info = vmcoreinfo() | {"NUMBER(TCR_EL1_T1SZ)": "0xc", "SYMBOL(swapper_pg_dir)": f"{KIMAGE + PAGE:x}"}
    segments = [(KIMAGE, text, 0x10000), (linear, phys, G + 32 * M)]
    w = walk_file(build_core(tmp_path / "kcore", info=info, pages=pages, segments=segments))
    assert (w.va_bits, w.levels) == (52, 5)
    assert w.bytes == {"PUD": G, "CONT_PMD": 32 * M, "PMD": 0, "CONT_PTE": 0, "PTE": 0, "invalid": 0}
    assert w.summary()["descriptors"] == {
        "PGD_table": 1,
        "P4D_table": 1,
        "PUD_table": 1,
        "PUD_block": 1,
        "CONT_PMD": 16,
        "CONT_PMD_ranges": 1,
    }


@pytest.mark.parametrize(
    ("page", "built", "t1sz", "levels", "top_entries"),
    [
        (4096, 52, 16, 4, 512),  # Debian: LPA2 build on a CPU without LPA2 -> 48 bits, 4 levels
        (4096, 52, 12, 5, 16),  # LPA2 in use: 5 levels, a 16-entry PGD
        (4096, 39, 25, 3, 512),
        (16384, 47, 17, 3, 2048),
        (65536, 52, 16, 3, 1024),  # TTBR1 points into a 1024-entry PGD (indexing from its base works)
        (65536, 42, 22, 2, 8192),
    ],
)
def test_geometry_from_page_size_and_va_bits(page: int, built: int, t1sz: int, levels: int, top_entries: int) -> None:
    info = {"PAGESIZE": str(page), "NUMBER(VA_BITS)": str(built), "NUMBER(TCR_EL1_T1SZ)": hex(t1sz)}
    geo = geometry(Core([], info))
    assert (geo.va_bits, geo.levels, geo.top_entries) == (64 - t1sz, levels, top_entries)


def one_line(e: pytest.ExceptionInfo) -> str:
    text = str(e.value)
    assert "\n" not in text
    return text


def test_refuses_a_core_of_another_architecture(tmp_path: Path) -> None:
    with pytest.raises(KcoreError) as e:
        walk_file(build_core(tmp_path / "kcore", machine=62))
    assert "machine 62" in one_line(e) and "EM_AARCH64 (183)" in one_line(e) and "arm64-only" in one_line(e)


def test_refuses_a_core_without_vmcoreinfo(tmp_path: Path) -> None:
    with pytest.raises(KcoreError) as e:
        walk_file(build_core(tmp_path / "kcore", notes=False))
    assert "no VMCOREINFO note" in one_line(e) and "CONFIG_VMCORE_INFO" in one_line(e)


@pytest.mark.parametrize("key", ["SYMBOL(swapper_pg_dir)", "PAGESIZE"])
def test_refusal_names_the_missing_key(tmp_path: Path, key: str) -> None:
    info = {k: v for k, v in vmcoreinfo().items() if k != key}
    with pytest.raises(KcoreError) as e:
        walk_file(build_core(tmp_path / "kcore", info=info))
    assert f"VMCOREINFO has no {key}" in one_line(e)


def test_without_t1sz_the_built_va_bits_are_used(tmp_path: Path) -> None:
    # Before TCR_EL1_T1SZ was exported, VA_BITS alone: 52 here puts the linear region elsewhere.
    info = {k: v for k, v in vmcoreinfo().items() if k != "NUMBER(TCR_EL1_T1SZ)"}
    with pytest.raises(KcoreError, match="no KCORE_RAM segment in the 52-bit linear region"):
        walk_file(build_core(tmp_path / "kcore", info=info))
    info["NUMBER(VA_BITS)"] = "48"
    assert walk_file(build_core(tmp_path / "kcore", info=info)).bytes["PUD"] == G


def test_refusals_for_permission_and_absence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(KcoreError) as e:
        walk_file(tmp_path / "no-kcore")
    assert "CONFIG_PROC_KCORE is not set" in one_line(e)

    def denied(*args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", denied)  # as a non-root user (or under lockdown) sees /proc/kcore
    with pytest.raises(KcoreError) as e:
        walk_file(tmp_path / "kcore")
    assert "permission denied: run as root" in one_line(e)


def test_extract_replays_the_walk_and_holds_only_what_it_read(core: Path, tmp_path: Path) -> None:
    out = tmp_path / "k.extract.gz"
    live = record(core, out)
    replayed = walk(read_extract(out))
    assert replayed == live
    payload = gzip.decompress(out.read_bytes())
    tag, header_line, _ = payload.split(b"\n", 2)
    header = json.loads(header_line)
    assert tag.decode() == FORMAT == header["format"] == "benchctl-kcore-extract/1"
    assert header["state"] == "block" and header["osrelease"] == RELEASE
    # Every byte read is stored once (delta64 keeps sizes); reads that touch are merged: the ELF
    # header with the program headers, the notes, and the 5 table pages (adjacent in the text segment).
    assert sum(size for _, size, _ in header["chunks"]) == live.bytes_read
    assert [(offset, size) for offset, size, _ in header["chunks"]] == [
        (0, 64 + 6 * 56),
        (0x1000, ANY),
        (ANY, 5 * PAGE),
    ]
    assert {enc for _, _, enc in header["chunks"]} <= {"raw", "delta64"}


def test_a_damaged_or_foreign_extract_is_refused(core: Path, tmp_path: Path) -> None:
    out = tmp_path / "k.extract.gz"
    record(core, out)
    payload = gzip.decompress(out.read_bytes())
    cut = tmp_path / "cut.extract.gz"
    cut.write_bytes(gzip.compress(payload[:-100]))
    with pytest.raises(KcoreError, match="not a benchctl-kcore-extract/1 file"):
        read_extract(cut)
    other = tmp_path / "other.extract.gz"
    other.write_bytes(gzip.compress(b"benchctl-kcore-extract/9\n{}\n"))
    with pytest.raises(KcoreError, match="not a benchctl-kcore-extract/1 file"):
        read_extract(other)
    # An extract serves only the reads it recorded.
    with pytest.raises(KcoreError, match="extract lacks kcore bytes"):
        read_extract(out).pread(12345, 8)
    assert read_core(read_extract(out)).info["OSRELEASE"] == RELEASE


# -- the fingerprint ------------------------------------------------------------------------------
def tree_with(tmp_path: Path, extract: Path | None, midr: int = AMPEREONE, name: str = "t") -> Path:
    tree = derive(tmp_path, "qemu-n1-6.1-4k-rodataon", name, release=RELEASE, midr=midr, drop_ptdump=True)
    if extract is not None:
        shutil.copy(extract, tree / "proc/kcore.extract.gz")
    return tree


def test_fingerprint_reads_the_extract_of_a_recorded_tree(core: Path, tmp_path: Path) -> None:
    record(core, tmp_path / "k.extract.gz")
    fp = collect(tree_with(tmp_path, tmp_path / "k.extract.gz"))
    lm = fp["linear_map"]
    assert (lm["source"], lm["state"], lm["expected"]) == ("kcore", "block", "block")
    assert lm["bytes"]["PUD"] == G and lm["ro_bytes"] == 2 * M + 80 * K
    assert lm["kcore"]["descriptors"]["PTE"] == 716 and lm["kcore"]["va_bits"] == 48
    assert fp["sources"]["linear_map.state"].startswith("/proc/kcore.extract.gz")
    assert not [w for w in fp["warnings"] if w.startswith("linear map is")]


def test_observed_pte_where_block_was_expected_warns(tmp_path: Path) -> None:
    pages = tables()
    pages[PUD] = {1: PMD | TABLE}
    pages[PMD] = {2: PTE1 | TABLE}
    pages[PTE1] = {i: PHYS + G + 4 * M + i * PAGE | ATTRS | PAGE_D for i in range(512)}
    record(build_core(tmp_path / "kcore", pages=pages), tmp_path / "pte.extract.gz")
    fp = collect(tree_with(tmp_path, tmp_path / "pte.extract.gz"))
    assert fp["linear_map"]["state"] == "pte" and fp["linear_map"]["expected"] == "block"
    assert any(w.startswith("linear map is pte (kcore) but block was expected") for w in fp["warnings"])


def test_a_tree_without_extract_says_why_and_infers(tmp_path: Path) -> None:
    fp = collect(tree_with(tmp_path, None))
    assert fp["linear_map"]["source"] == "inferred"
    assert "/proc/kcore.extract.gz not present" in fp["sources"]["linear_map.source"]


def test_a_corrupt_extract_in_a_recorded_tree_is_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.extract.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(InputError, match="kcore.extract.gz"):
        collect(tree_with(tmp_path, bad))


# -- the real guests (tests/fixtures/arm64-kcore/README.md) -----------------------------------------
# The live walks in the guests, as walk.json recorded them; a replay must give the same census.
REAL = {
    BLOCK_EXTRACT: {
        "state": "block",
        "bytes": {"PUD": G, "CONT_PMD": 928 * M, "PMD": 86 * M, "CONT_PTE": 5440 * K, "PTE": 4800 * K, "invalid": 0},
        "ro_bytes": 37572608,
        "descriptors": {"PUD_block": 1, "CONT_PMD": 464, "PMD_block": 43, "CONT_PTE": 1360, "PTE": 1200},
        "bytes_read": 42288,
    },
    PTE_EXTRACT: {
        "state": "pte",
        "bytes": {"PUD": 0, "CONT_PMD": 0, "PMD": 32 * M, "CONT_PTE": 0, "PTE": 2016 * M, "invalid": 0},
        "ro_bytes": 37572608,
        "descriptors": {"PMD_block": 16, "PTE": 516096, "PMD_table": 1008},  # the PMD blocks: the image alias
        "bytes_read": 4154672,
    },
    PTE_617_EXTRACT: {
        "state": "pte",
        "bytes": {"PUD": 0, "CONT_PMD": 0, "PMD": 32 * M, "CONT_PTE": 0, "PTE": 2016 * M, "invalid": 0},
        "ro_bytes": 36069376,
        "descriptors": {"PMD_block": 16, "PTE": 516096, "PMD_table": 1008, "read_only": 630},
        "bytes_read": 4154672,
        "release": "6.17.13+deb13-arm64",
    },
}


@pytest.mark.parametrize("extract", sorted(REAL), ids=lambda p: p.name)
def test_real_guest_extracts(extract: Path) -> None:
    want, w = REAL[extract], walk(read_extract(extract))
    assert (w.state, w.bytes, w.ro_bytes, w.bytes_read) == (
        want["state"],
        want["bytes"],
        want["ro_bytes"],
        want["bytes_read"],
    )
    assert {k: w.descriptors.get(k, 0) for k in want["descriptors"]} == want["descriptors"]
    assert w.osrelease == want.get("release", RELEASE) and (w.page_size, w.va_bits, w.levels) == (PAGE, 48, 4)
    assert sum(w.bytes.values()) == 2 * G  # the 2 GiB guest's RAM, each byte once
    # Both 6.18 arms map the same read-only kernel alias (997 descriptors); only the writable bytes differ.
    assert w.descriptors["read_only"] == want["descriptors"].get("read_only", 997)
    assert w.block_fraction == (0.0 if want["state"] == "pte" else pytest.approx(0.999575, abs=1e-6))


@pytest.mark.parametrize(("extract", "midr", "state"), [(BLOCK_EXTRACT, AMPEREONE, "block"), (PTE_EXTRACT, N1, "pte")])
def test_benchctl_env_reports_kcore_for_a_real_extract(tmp_path: Path, extract: Path, midr: int, state: str) -> None:
    tree = tree_with(tmp_path, extract, midr=midr)
    r = deadline.run(
        [sys.executable, "-m", "benchctl", "env", "--root", str(tree), "--format", "json"],
        timeout=60,
        phase="benchctl env",
        text=True,
    )
    assert r.returncode == 0, r.stderr
    lm = json.loads(r.stdout)["linear_map"]
    assert (lm["source"], lm["state"], lm["expected"]) == ("kcore", state, state)


def test_the_extracts_are_small() -> None:
    for extract in REAL:
        assert extract.stat().st_size < 1 * M, extract
