"""Page-table arithmetic: every figure below is redone by hand in the test.

Hand rules (domain.md "Page-table arithmetic"): a table is one granule of
8-byte descriptors, so it has granule/8 entries; the top level is static.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchctl.errors import InputError, UsageError
from benchctl.human import fmt_size, parse_size
from benchctl.model.pagetables import (
    GiB,
    KiB,
    MiB,
    TiB,
    boot_memory,
    compare,
    from_fingerprint,
    leaf_size_at,
    parse_granule,
)


def hand(ram: int, granule: int) -> tuple[int, int]:
    """(PTE arm bytes, block arm bytes) worked out level by level by hand."""
    ceil = lambda a, b: -(-a // b)  # noqa: E731
    if granule == 4 * KiB:
        # PUD tables: one per 512 GiB; PMD tables: one per GiB; PTE tables: one per 2 MiB.
        pte = (ceil(ram, 512 * GiB) + ceil(ram, GiB) + ceil(ram, 2 * MiB)) * 4 * KiB
        block = ceil(ram, 512 * GiB) * 4 * KiB  # every whole GiB is a PUD block
    elif granule == 16 * KiB:
        # PUD tables: one per 128 TiB; PMD tables: one per 64 GiB (2048 x 32 MiB); PTE: one per 32 MiB.
        pte = (ceil(ram, 128 * TiB) + ceil(ram, 64 * GiB) + ceil(ram, 32 * MiB)) * 16 * KiB
        block = (ceil(ram, 128 * TiB) + ceil(ram, 64 * GiB)) * 16 * KiB  # no PUD blocks on 16K
    else:
        # PMD tables: one per 4 TiB (8192 x 512 MiB); PTE tables: one per 512 MiB.
        pte = (ceil(ram, 4 * TiB) + ceil(ram, 512 * MiB)) * 64 * KiB
        block = ceil(ram, 4 * TiB) * 64 * KiB
    return pte, block


EXPECTED = {
    # (granule KiB, RAM GiB): (PTE arm bytes, block arm bytes), written out
    (4, 1): ((1 + 1 + 512) * 4 * KiB, 4 * KiB),
    (4, 256): ((1 + 256 + 131072) * 4 * KiB, 4 * KiB),
    (4, 1024): ((2 + 1024 + 524288) * 4 * KiB, 8 * KiB),
    (16, 1): ((1 + 1 + 32) * 16 * KiB, 2 * 16 * KiB),
    (16, 256): ((1 + 4 + 8192) * 16 * KiB, 5 * 16 * KiB),
    (16, 1024): ((1 + 16 + 32768) * 16 * KiB, 17 * 16 * KiB),
    (64, 1): ((1 + 2) * 64 * KiB, 64 * KiB),
    (64, 256): ((1 + 512) * 64 * KiB, 64 * KiB),
    (64, 1024): ((1 + 2048) * 64 * KiB, 64 * KiB),
}


@pytest.mark.parametrize("g,ram", sorted(EXPECTED))
def test_exact_figures_match_hand_arithmetic(g, ram):
    c = compare(ram * GiB, g * KiB)
    assert (c["pte_arm_bytes"], c["block_arm_bytes"]) == EXPECTED[(g, ram)] == hand(ram * GiB, g * KiB)
    assert c["saving_bytes"] == c["pte_arm_bytes"] - c["block_arm_bytes"]
    assert sum(lv["pte_arm_bytes"] for lv in c["levels"]) == c["pte_arm_bytes"]
    assert sum(sum(m.values()) for m in [c["mapped_bytes"]["block"]]) == ram * GiB


def test_256g_4k_pte_tables_and_published_difference():
    c = compare(256 * GiB, 4 * KiB)
    pte_level = next(lv for lv in c["levels"] if lv["level"] == "PTE")
    assert pte_level["pte_arm_bytes"] == 512 * MiB
    assert pte_level["block_arm_bytes"] == 0
    published = 504 * MiB  # MemTotal 258988984 -> 259505132 kB
    assert (259505132 - 258988984) * KiB == pytest.approx(published, rel=0.002)
    assert abs(c["saving_bytes"] - published) / published < 0.05


def test_block_kinds_per_granule():
    assert compare(256 * GiB, 4 * KiB)["mapped_bytes"]["block"]["PUD"] == 256 * GiB
    assert compare(256 * GiB, 16 * KiB)["mapped_bytes"]["block"]["CONT_PMD"] == 256 * GiB
    # 64K: CONT_PMD is 16 GiB, so 1 GiB is plain 512 MiB PMD blocks
    assert compare(1 * GiB, 64 * KiB)["mapped_bytes"]["block"]["PMD"] == 1 * GiB
    assert compare(256 * GiB, 4 * KiB)["mapped_bytes"]["pte"]["PTE"] == 256 * GiB


def test_one_permission_change_costs_one_pmd_and_one_pte_table():
    base = compare(256 * GiB, 4 * KiB)
    one = compare(256 * GiB, 4 * KiB, perm_changes=1)
    assert one["block_arm_bytes"] - base["block_arm_bytes"] == 8 * KiB  # domain.md: PMD + PTE table
    m = one["mapped_bytes"]["block"]
    assert m["PTE"] == 64 * KiB  # the CONT_PTE run holding it
    assert m["CONT_PTE"] == 2 * MiB - 64 * KiB  # rest of its PMD
    assert m["PMD"] == 32 * MiB - 2 * MiB  # rest of its CONT_PMD
    assert m["CONT_PMD"] == 1 * GiB - 32 * MiB  # rest of its PUD
    assert m["PUD"] == 255 * GiB
    assert one["pte_arm_bytes"] == base["pte_arm_bytes"]  # already PTE


def test_scattered_changes_degrade_block_arm_monotonically():
    costs = [compare(256 * GiB, 4 * KiB, perm_changes=n)["block_arm_bytes"] for n in (0, 10, 256, 1000)]
    assert costs == sorted(costs) and costs[0] < costs[-1]
    # 256 changes, one per GiB: 256 PMD tables + 256 PTE tables + the PUD table
    assert costs[2] == (1 + 256 + 256) * 4 * KiB


def test_kernel_alias_and_kfence():
    c = compare(256 * GiB, 4 * KiB, kernel_image=40 * MiB, kfence_pool=2 * MiB)
    # block arm: PMD tables for the GiB holding the alias and the GiB holding the pool, one PTE table for the pool
    assert c["block_arm_bytes"] == (1 + 2 + 1) * 4 * KiB
    # PTE arm: the alias stays in 2 MiB blocks (NO_CONT only), so 20 fewer PTE tables
    assert c["pte_arm_bytes"] == (1 + 256 + 131072 - 20) * 4 * KiB
    assert c["mapped_bytes"]["block"]["PMD"] >= 40 * MiB


def test_off_allow_list_means_no_change():
    c = compare(256 * GiB, 4 * KiB, block_allowed=False)
    assert c["saving_bytes"] == 0


def test_leaf_size_at():
    assert leaf_size_at(256 * GiB, 4 * KiB, "block", 5 * GiB) == GiB
    assert leaf_size_at(256 * GiB, 4 * KiB, "pte", 5 * GiB) == 4 * KiB
    assert leaf_size_at(256 * GiB, 16 * KiB, "block", 5 * GiB) == GiB  # CONT_PMD


@pytest.mark.parametrize(
    "text,value",
    [
        ("256G", 256 * GiB),
        ("256GiB", 256 * GiB),
        ("1T", TiB),
        ("512M", 512 * MiB),
        ("4k", 4096),
        ("1024", 1024),
        (" 2 gb", 2 * GiB),
    ],
)
def test_parse_size(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["-1G", "lots", "", "1.5.G", "12X", "0.3k"])
def test_parse_size_rejects(text):
    with pytest.raises(UsageError) as e:
        parse_size(text, error=UsageError)
    assert "\n" not in str(e.value)
    with pytest.raises(InputError):
        parse_size(text)


def test_fmt_size():
    assert fmt_size(512 * MiB) == "512 MiB" and fmt_size(1536 * MiB) == "1.5 GiB" and fmt_size(8 * KiB) == "8 KiB"


def test_granules():
    assert parse_granule("16k") == 16 * KiB and parse_granule(65536) == 64 * KiB
    with pytest.raises(UsageError):
        parse_granule("8k")


def test_from_fingerprint_adds_the_memmap():
    # MemTotal of the published block arm (commit a166563e7ec3): the mapped RAM is MemTotal plus the memmap
    # (1/64 of the mapped RAM at 4 KiB), so mapped = MemTotal x 64/63
    doc = {
        "format": "benchctl-env/1",
        "memory": {"total_kb": 259505132},
        "kernel": {"page_size": 4096},
        "linear_map": {"state": "block"},
    }
    ram, g = from_fingerprint(doc)
    assert g == 4096 and ram == (259505132 * 1024 * 64 // 63) // 4096 * 4096
    # the PTE arm's MemTotal is also net of its own tables (8 bytes per 4 KiB): the same mapped RAM comes out
    pte = dict(doc, memory={"total_kb": 258988984}, linear_map={"state": "pte"})
    ram_pte, _ = from_fingerprint(pte)
    assert abs(ram_pte - ram) < 8 * MiB
    with pytest.raises(InputError, match="total_kb"):
        from_fingerprint({"format": "benchctl-env/1", "memory": {}, "kernel": {"page_size": 4096}}, "f.json")
    with pytest.raises(InputError, match="page_size"):
        from_fingerprint({"format": "benchctl-env/1", "memory": {"total_kb": 1}, "kernel": {}}, "f.json")
    with pytest.raises(InputError):
        from_fingerprint(json.loads('{"x": 1}'))


def test_published_memtotal_change_from_the_machine_description():
    """The published machine's mapped RAM (MemTotal + memmap) needs 515,892 kB of tables more in the PTE arm:
    0.05 % from the published MemTotal change, 259505132 - 258988984 = 516,148 kB."""
    doc = {
        "format": "benchctl-env/1",
        "memory": {"total_kb": 259505132},
        "kernel": {"page_size": 4096},
        "linear_map": {"state": "block"},
    }
    ram, g = from_fingerprint(doc)
    b = boot_memory(ram, g)
    assert b.mem_total_change // 1024 == pytest.approx(516148, rel=0.001)


def test_boot_memory_rules():
    b = boot_memory(256 * GiB, 4 * KiB, kfence_pool=2 * MiB, perm_changes=100)
    assert b.mapped == 256 * GiB and b.memmap == 4 * GiB  # 64 bytes per 4 KiB page
    # memblock tables lower MemTotal and MemFree alike; splits after boot lower MemFree only
    assert b.mem_total_change == b.pte_arm_tables - b.block_arm_tables
    assert b.mem_free_change == b.mem_total_change - b.split_tables and b.split_tables > 0
    none = boot_memory(256 * GiB, 4 * KiB, block_allowed=False, perm_changes=100)
    assert none.mem_total_change == 0 and none.mem_free_change == 0
    less = boot_memory(256 * GiB, 4 * KiB, unmapped=4 * GiB)
    assert less.mapped == 252 * GiB and less.mem_total_change < boot_memory(256 * GiB).mem_total_change
    with pytest.raises(UsageError):
        boot_memory(1 * GiB, unmapped=2 * GiB)


QEMU = Path("/work/shared/fixtures/arm64")
LINE = re.compile(r"^0x([0-9a-f]+)-0x([0-9a-f]+)\s+\d+[KMG]\s+(PMD|PTE)\b(.*)$")


def _meminfo(tree: Path) -> dict[str, int]:
    out = {}
    for line in (tree / "proc/meminfo").read_text().splitlines():
        k, _, v = line.partition(":")
        out[k] = int(v.split()[0])
    return out


@pytest.mark.skipif(not (QEMU / "qemu-n1-6.1-4k-rodatafull").is_dir(), reason="shared arm64 fixtures not present")
def test_memtotal_change_matches_real_kernels():
    """Real arm64 6.1 guests (2 GiB, QEMU): rodata=full maps the linear map with PTEs, rodata=on with blocks.
    The block arm's tables, counted from its dump: one PUD table, a PMD table for every GiB not mapped by a
    PUD block, a PTE table for every 2 MiB holding PTE leaves (kernel alias, KFENCE pool, edges). MemTotal
    differs by exactly the table bytes, MemFree by the same up to what the two boots did differently."""
    pte, block = QEMU / "qemu-n1-6.1-4k-rodatafull", QEMU / "qemu-n1-6.1-4k-rodataon"
    text = (block / "sys/kernel/debug/kernel_page_tables").read_text()
    section = text.split("---[ Linear Mapping start ]---")[1].split("---[ Linear Mapping end ]---")[0]
    pte_regions, pmd_regions = set(), set()
    for line in section.splitlines():
        m = LINE.match(line.strip())
        if m:
            for a in range(int(m[1], 16), int(m[2], 16), 2 * MiB):
                pmd_regions.add(a // GiB)
                if m[3] == "PTE":
                    pte_regions.add(a // (2 * MiB))
    mapped = 2 * GiB  # "Memory: .../2097152K available"
    pte_tables = compare(mapped, 4 * KiB)["pte_arm_bytes"]
    block_tables = (1 + len(pmd_regions) + len(pte_regions)) * 4 * KiB
    change_kb = (pte_tables - block_tables) // 1024
    assert change_kb == _meminfo(block)["MemTotal"] - _meminfo(pte)["MemTotal"] == 4080
    free_change = _meminfo(block)["MemFree"] - _meminfo(pte)["MemFree"]
    assert abs(free_change - change_kb) < 64  # alike, up to what the two boots did differently
