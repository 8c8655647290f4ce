"""ptdump parser on the real excerpts and recorded dumps, and on malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest
from env_trees import ARM64, BLOCK_EXCERPT, PTE_EXCERPT, G, K, M, ptdump_text, size_text

from benchctl.env.arm64.directmap import census, parse_directmap
from benchctl.env.arm64.linearmap import classify
from benchctl.env.arm64.ptdump import parse_linear_map
from benchctl.errors import InputError

# Per-tree byte sums as tabulated independently in tests/fixtures/arm64/QEMU.md
# ("level / flags | lines | bytes"); PTE there includes the read-only kernel alias run.
QEMU_MD = {
    "qemu-n1-6.1-4k-rodatafull": {"PTE": 2146398208, "invalid": 1085440},
    "qemu-n1-6.1-4k-rodataon": {
        "PMD": 58720256,
        "CONT_PMD": 2080374784,
        "PTE": 3829760,
        "CONT_PTE": 3473408,
        "invalid": 1085440,
    },
    "qemu-max-6.1-4k-rodataon": {
        "PMD": 58720256,
        "CONT_PMD": 2080374784,
        "PTE": 3817472,
        "CONT_PTE": 3473408,
        "invalid": 1097728,
    },
    "qemu-n1-6.1-4k-rodataon-debugpagealloc": {"PTE": 54448128, "invalid": 2093035520},
    "qemu-n1-6.1-64k-rodatafull": {"PTE": 2130444288, "invalid": 17039360},
}
STATE = {
    "qemu-n1-6.1-4k-rodatafull": "pte",
    "qemu-n1-6.1-4k-rodataon": "block",
    "qemu-max-6.1-4k-rodataon": "block",
    "qemu-n1-6.1-4k-rodataon-debugpagealloc": "pte",
    "qemu-n1-6.1-64k-rodatafull": "pte",
}


@pytest.mark.parametrize("tree", sorted(QEMU_MD))
def test_recorded_dumps_match_the_recorders_tables(tree: str) -> None:
    path = ARM64 / tree / "sys/kernel/debug/kernel_page_tables"
    lm = parse_linear_map(path.read_text(), path)
    expected = {"PUD": 0, "CONT_PMD": 0, "PMD": 0, "CONT_PTE": 0, "PTE": 0, "invalid": 0} | QEMU_MD[tree]
    assert lm.bytes == expected
    # Every valid or invalid byte of the 2 GiB guest is accounted for, nothing twice.
    assert sum(lm.bytes.values()) == 2 * G
    assert lm.state == STATE[tree]


def test_block_excerpt_is_block_with_ro_alias_counted_but_not_deciding() -> None:
    lm = parse_linear_map(BLOCK_EXCERPT.read_text(), BLOCK_EXCERPT)
    assert lm.bytes == {
        "PUD": 9 * G,
        "CONT_PMD": 960 * M,
        "PMD": 2 * M + 32 * M,
        "CONT_PTE": 64 * K,
        "PTE": 1984 * K + 32 * K + 196 * K,
        "invalid": 0,
    }
    assert lm.ro_bytes == 1984 * K + 32 * M + 196 * K
    assert lm.hole_bytes == 500 * G
    assert lm.state == "block"
    assert lm.block_fraction == pytest.approx(
        (9 * G + 960 * M + 2 * M + 64 * K) / (9 * G + 960 * M + 2 * M + 64 * K + 32 * K)
    )


def test_pte_excerpt_is_pte_despite_the_kernel_alias_pmd_block() -> None:
    # The 32M "ro" PMD BLK run is the kernel image alias, mapped the same way in both arms.
    lm = parse_linear_map(PTE_EXCERPT.read_text(), PTE_EXCERPT)
    assert lm.bytes["PMD"] == 32 * M
    assert lm.rw_bytes["PMD"] == 0
    assert lm.bytes["PTE"] == 2112 * K + 5264452 * K
    assert lm.state == "pte"


def test_only_the_linear_mapping_section_is_read() -> None:
    # qemu-n1-6.1-4k-rodatafull: the vmalloc area holds CON and BLK lines that must not count.
    path = ARM64 / "qemu-n1-6.1-4k-rodatafull/sys/kernel/debug/kernel_page_tables"
    text = path.read_text()
    assert "CON" in text.split("Linear Mapping end")[1]
    assert parse_linear_map(text, path).state == "pte"


def test_case_tbl_and_uppercase_units() -> None:
    text = ptdump_text(
        [
            (0, 1 * G, "PUD", "TBL"),  # table entry: not a leaf
            (0, 2 * M, "pmd", "rw nx shd af blk uxn mem/normal"),  # lowercase words
            (2 * M, 4 * M, "PTE", "RW NX SHD AF con UXN MEM/NORMAL"),
            (4 * M, 1 * G, "PMD", ""),  # hole
        ]
    )
    lm = parse_linear_map(text, "x")
    assert lm.bytes["PMD"] == 2 * M and lm.bytes["CONT_PTE"] == 2 * M and lm.bytes["PUD"] == 0
    assert lm.hole_bytes == 1 * G - 4 * M


def test_size_units_up_to_exabytes_and_wrapping_end() -> None:
    assert size_text(2 * (1 << 40)) == "2T"
    text = "\n".join(
        [
            "---[ Linear Mapping start ]---",
            "0xfffffe0000000000-0x0000000000000000           2T PGD",
            "---[ Linear Mapping end ]---",
        ]
    )
    assert parse_linear_map(text, "x").hole_bytes == 2 << 40


@pytest.mark.parametrize(
    "bad, message",
    [
        ("0xffff000000000000-0xffff000000200000           2M PMX       RW BLK", "malformed"),
        ("0xffff000000000000-0xffff000000200000           3M PMD       RW BLK", "does not match"),
        ("0xffff000000000000-0xffff000000200000           2Q PMD       RW BLK", "malformed"),
        ("garbage", "malformed"),
    ],
)
def test_malformed_line_names_file_and_line(bad: str, message: str) -> None:
    text = BLOCK_EXCERPT.read_text().splitlines()
    text.insert(3, bad)
    with pytest.raises(InputError) as err:
        parse_linear_map("\n".join(text), Path("/t/kernel_page_tables"))
    assert "/t/kernel_page_tables:4:" in str(err.value)
    assert message in str(err.value)
    assert err.value.line == 4


def test_missing_or_truncated_section_is_input_error() -> None:
    with pytest.raises(InputError, match="no '---\\[ Linear Mapping start"):
        parse_linear_map("0x0-0x1000 4K PTE RW\n", "f")
    with pytest.raises(InputError, match="truncated"):
        parse_linear_map("\n".join(BLOCK_EXCERPT.read_text().splitlines()[:-1]), "f")


def test_directmap_labels_mean_different_kinds_per_granule() -> None:
    x86 = parse_directmap(
        "MemTotal: 1 kB\nDirectMap4k:       30720 kB\nDirectMap2M:     2066432 kB\nDirectMap1G:    25165824 kB\n"
    )
    assert census(x86, "x86_64", 4096) == {
        "PUD": 24 * G,
        "CONT_PMD": 0,
        "PMD": 2066432 * K,
        "CONT_PTE": 0,
        "PTE": 30 * M,
        "invalid": 0,
    }
    k16 = {"DirectMap16k": 1024, "DirectMap2M": 2048, "DirectMap32M": 32768, "DirectMap1G": 1048576}
    assert census(k16, "aarch64", None)["CONT_PTE"] == 2 * M  # 2M = contiguous PTEs at 16K
    k64 = {"DirectMap64k": 64, "DirectMap2M": 4096, "DirectMap512M": 524288, "DirectMap16G": 0}
    c64 = census(k64, "aarch64", None)
    assert c64["PMD"] == 512 * M and c64["CONT_PTE"] == 4 * M and c64["PTE"] == 64 * K
    k4 = {"DirectMap4k": 4, "DirectMap64k": 64, "DirectMap2M": 2048, "DirectMap32M": 0, "DirectMap1G": 0}
    assert census(k4, "aarch64", 4096)["PMD"] == 2 * M  # 2M = PMD block at 4K
    assert census({"DirectMap3M": 3}, "aarch64", 4096) is None  # unknown label: no guess


def test_classify_thresholds() -> None:
    assert classify({"PTE": 10}) == "pte"
    assert classify({"PTE": 10, "PMD": 90}) == "block"
    assert classify({"PTE": 50, "PMD": 50}) == "mixed"
    assert classify({"PTE": 0}) == "unknown"
