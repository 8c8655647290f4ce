"""`collect()` on every recorded arm64 tree and on trees derived from them for the
cases no machine recorded (each says which recorded tree it edits)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from env_trees import (
    AMPEREONE,
    ARM64,
    BBML2_LINE,
    BLOCK_EXCERPT,
    F_RW,
    PTDUMP,
    RO,
    RW,
    RW_BLK,
    RW_CON,
    G,
    K,
    M,
    derive,
    ptdump_text,
)

from benchctl.env.fingerprint import FORMAT, SCHEMA, collect, get, summary

NO_RODATA_CFG = {"CONFIG_RODATA_FULL_DEFAULT_ENABLED": None}  # 6.18 removed the option
N1_PTE_DUMP = (ARM64 / "qemu-n1-6.1-4k-rodatafull" / PTDUMP).read_text()
N1_BLOCK_DUMP = (ARM64 / "qemu-n1-6.1-4k-rodataon" / PTDUMP).read_text()


def check(
    fp: dict, *, bbml2: bool | None, rodata: str | None, state: str, expected: str | None, warnings: list[str] = ()
) -> None:
    """The four things every case must get right, plus the warning set (by substring)."""
    assert fp["cpu"]["bbml2_noabort"] is bbml2
    assert fp["rodata"]["effective"] == rodata
    assert fp["linear_map"]["state"] == state
    assert fp["linear_map"]["expected"] == expected
    assert len(fp["warnings"]) == len(warnings), fp["warnings"]
    for needle, got in zip(warnings, fp["warnings"], strict=True):
        assert needle in got, (needle, got)


# -- recorded trees -------------------------------------------------------------------------

RECORDED = {
    # tree: (rodata.effective, linear_map.state, page size, rodata.requested)
    "qemu-n1-6.1-4k-rodatafull": ("full", "pte", 4096, None),
    "qemu-n1-6.1-4k-rodataon": ("noalias", "block", 4096, "on"),
    "qemu-max-6.1-4k-rodataon": ("noalias", "block", 4096, "on"),
    "qemu-n1-6.1-4k-rodataon-debugpagealloc": ("noalias", "pte", 4096, "on"),
    "qemu-n1-6.1-64k-rodatafull": ("full", "pte", 65536, None),
}


@pytest.mark.parametrize("tree", sorted(RECORDED))
def test_recorded_tree(tree: str) -> None:
    rodata, state, page, requested = RECORDED[tree]
    fp = collect(ARM64 / tree)
    check(fp, bbml2=False, rodata=rodata, state=state, expected=state)
    assert fp["format"] == FORMAT and fp["simulated"] is False
    assert fp["host"]["arch"] == "aarch64"
    assert fp["kernel"]["release"].startswith("6.1.192")
    assert fp["kernel"]["page_size"] == page
    assert fp["rodata"]["requested"] == requested
    assert fp["linear_map"]["source"] == "ptdump"
    assert fp["cpu"]["count"] == 2
    assert fp["cpu"]["midr"][0]["cpus"] == [0, 1]
    assert fp["cpu"]["bbml2_dmesg"] is False  # boot log present, no "detected" line
    assert fp["kernel"]["config"]["CONFIG_PTDUMP_DEBUGFS"] == "y"
    assert fp["memory"]["total_kb"] > 2_000_000
    assert fp["memory"]["directmap"] is None and "DirectMap" in fp["missing"]["memory.directmap"]
    assert fp["boot"]["id"] and fp["boot"]["uptime_s"] < 5
    assert fp["tuning"]["thp_enabled"] == "always" and fp["tuning"]["thp_defrag"] == "madvise"
    assert fp["tuning"]["perf_event_paranoid"] == 2
    assert fp["tuning"]["kaslr"] is False  # CONFIG_RANDOMIZE_BASE is not set
    assert fp["tools"] is None and "recorded tree" in fp["missing"]["tools"]
    assert fp["verdict"].startswith("arm: " + {"pte": "PTE-mapped", "block": "block-mapped"}[state])
    # Every promised path is either a value with a source or null with a reason.
    for path in SCHEMA:
        value = get(fp, path)
        assert (path in fp["sources"]) or (value is None and path in fp["missing"]), path
    json.dumps(fp)


def test_cpu_max_midr_is_not_allow_listed() -> None:
    fp = collect(ARM64 / "qemu-max-6.1-4k-rodataon")
    assert fp["cpu"]["midr"] == [{"value": "0x000f0510", "name": "implementer 0x00 part 0x051 r0p0", "cpus": [0, 1]}]


def test_summary_leads_with_the_verdict() -> None:
    fp = collect(ARM64 / "qemu-n1-6.1-4k-rodatafull")
    text = summary(fp)
    assert " ".join(text.split("\nhost:")[0].split()) == (
        "arm: PTE-mapped linear map (ptdump), no BBML2_NOABORT (Neoverse N1 r4p1), rodata=full"
    )
    assert max(len(line) for line in text.splitlines()) <= 72
    assert "linear map: pte (ptdump): PTE 1.999 GiB, invalid 1.035 MiB" in text


# -- derived trees --------------------------------------------------------------------------


def test_ampereone_618_block(tmp_path: Path) -> None:
    # From qemu-n1-6.1-4k-rodatafull: kernel 6.18.0, AmpereOne MIDR, BBML2 log line,
    # ptdump = the real AmpereOne block excerpt.
    tree = derive(
        tmp_path,
        "qemu-n1-6.1-4k-rodatafull",
        release="6.18.0",
        midr=AMPEREONE,
        config=NO_RODATA_CFG,
        ptdump=BLOCK_EXCERPT.read_text(),
        dmesg_add=[BBML2_LINE],
    )
    fp = collect(tree)
    check(fp, bbml2=True, rodata="full", state="block", expected="block")
    assert fp["cpu"]["bbml2_dmesg"] is True
    assert fp["cpu"]["model"] == "AmpereOne r0p0"
    assert fp["linear_map"]["bytes"]["PUD"] == 9 * G
    assert fp["verdict"] == "arm: block-mapped linear map (ptdump), BBML2_NOABORT CPU, rodata=full"


def test_ampereone_618_pte_excerpt_warns(tmp_path: Path) -> None:
    # Same as above with the real repainted (PTE) excerpt: observed and expected disagree.
    tree = derive(
        tmp_path,
        "qemu-n1-6.1-4k-rodatafull",
        release="6.18.0",
        midr=AMPEREONE,
        config=NO_RODATA_CFG,
        ptdump=(ARM64 / "ptdump-pte-excerpt.txt").read_text(),
        dmesg_add=[BBML2_LINE],
    )
    check(
        collect(tree),
        bbml2=True,
        rodata="full",
        state="pte",
        expected="block",
        warnings=["linear map is pte (ptdump) but block was expected"],
    )


def test_ampereone_without_detected_line_warns(tmp_path: Path) -> None:
    # From qemu-n1-6.1-4k-rodatafull, AmpereOne MIDR on 6.18 but no BBML2 log line.
    tree = derive(
        tmp_path,
        "qemu-n1-6.1-4k-rodatafull",
        release="6.18.0",
        midr=AMPEREONE,
        config=NO_RODATA_CFG,
        ptdump=BLOCK_EXCERPT.read_text(),
    )
    fp = collect(tree)
    check(
        fp,
        bbml2=True,
        rodata="full",
        state="block",
        expected="block",
        warnings=["allow-list but the kernel log has no"],
    )


def test_n1_618_negative_control(tmp_path: Path) -> None:
    # From qemu-n1-6.1-4k-rodatafull (real N1 PTE dump) relabelled as 6.18.0.
    tree = derive(tmp_path, "qemu-n1-6.1-4k-rodatafull", release="6.18.0", config=NO_RODATA_CFG)
    fp = collect(tree)
    check(fp, bbml2=False, rodata="full", state="pte", expected="pte")
    assert "CPU lacks BBML2_NOABORT" in fp["linear_map"]["expected_reason"]


def test_n1_618_with_blocks_warns(tmp_path: Path) -> None:
    # From qemu-n1-6.1-4k-rodatafull with the real block dump of qemu-n1-6.1-4k-rodataon:
    # a non-BBML2 CPU under rodata_full must not show blocks.
    tree = derive(tmp_path, "qemu-n1-6.1-4k-rodatafull", release="6.18.0", config=NO_RODATA_CFG, ptdump=N1_BLOCK_DUMP)
    check(
        collect(tree),
        bbml2=False,
        rodata="full",
        state="block",
        expected="pte",
        warnings=["linear map is block (ptdump) but pte was expected"],
    )


def test_617_rodata_full(tmp_path: Path) -> None:
    # From qemu-n1-6.1-4k-rodatafull: 6.17.0 with an explicit rodata=full.
    tree = derive(
        tmp_path, "qemu-n1-6.1-4k-rodatafull", release="6.17.0", cmdline="console=ttyAMA0 panic=-1 rodata=full"
    )
    fp = collect(tree)
    check(fp, bbml2=False, rodata="full", state="pte", expected="pte")
    assert fp["rodata"]["requested"] == "full"


def test_617_ampereone_rodata_full_is_pte(tmp_path: Path) -> None:
    # From qemu-n1-6.1-4k-rodatafull: AmpereOne on 6.17, whose allow-list predates the
    # AmpereOne entries (no "detected" line, as measured on 6.17.13); no series either -> PTE.
    tree = derive(
        tmp_path,
        "qemu-n1-6.1-4k-rodatafull",
        release="6.17.0",
        midr=AMPEREONE,
        cmdline="console=ttyAMA0 panic=-1 rodata=full",
    )
    fp = collect(tree)
    check(fp, bbml2=False, rodata="full", state="pte", expected="pte")
    assert fp["cpu"]["bbml2_allow_list"] == "6.17"


def test_618_rodata_full_rejected(tmp_path: Path) -> None:
    # From qemu-n1-6.1-4k-rodatafull: 6.18.0 with rodata=full, and the log line 6.18 prints for it.
    tree = derive(
        tmp_path,
        "qemu-n1-6.1-4k-rodatafull",
        release="6.18.0",
        config=NO_RODATA_CFG,
        cmdline="console=ttyAMA0 panic=-1 rodata=full",
        dmesg_add=["[    0.000000] Invalid option string for rodata: 'full'"],
    )
    fp = collect(tree)
    check(
        fp,
        bbml2=False,
        rodata="full",
        state="pte",
        expected="pte",
        warnings=["rodata=full is rejected by Linux 6.18 ('Invalid option string for rodata: 'full''); effective"],
    )
    assert fp["rodata"]["requested"] == "full"


def test_618_rodata_noalias(tmp_path: Path) -> None:
    # From qemu-n1-6.1-4k-rodataon (real block dump): 6.18.0 spells the old "on" as noalias.
    tree = derive(
        tmp_path,
        "qemu-n1-6.1-4k-rodataon",
        release="6.18.0",
        config=NO_RODATA_CFG,
        cmdline="console=ttyAMA0 panic=-1 rodata=noalias",
    )
    check(collect(tree), bbml2=False, rodata="noalias", state="block", expected="block")


def test_617_rodata_noalias_rejected(tmp_path: Path) -> None:
    # From qemu-n1-6.1-4k-rodataon: noalias means nothing to 6.17, so full stays -> PTE expected.
    tree = derive(
        tmp_path,
        "qemu-n1-6.1-4k-rodataon",
        release="6.17.0",
        cmdline="console=ttyAMA0 panic=-1 rodata=noalias",
        ptdump=N1_PTE_DUMP,
    )
    check(
        collect(tree),
        bbml2=False,
        rodata="full",
        state="pte",
        expected="pte",
        warnings=["rodata=noalias is rejected by Linux 6.17"],
    )


def test_618_rodata_on_means_full(tmp_path: Path) -> None:
    # From qemu-n1-6.1-4k-rodataon, relabelled 6.18.0: its block dump now contradicts expectations.
    tree = derive(tmp_path, "qemu-n1-6.1-4k-rodataon", release="6.18.0", config=NO_RODATA_CFG)
    check(collect(tree), bbml2=False, rodata="full", state="block", expected="pte", warnings=["but pte was expected"])


@pytest.mark.parametrize("how", ["cmdline", "config"])
def test_kfence_late_init_non_bbml2(tmp_path: Path, how: str) -> None:
    # From qemu-n1-6.1-4k-rodataon: 6.18.0, rodata=noalias, KFENCE late init; ptdump from
    # qemu-n1-6.1-4k-rodatafull (the real PTE-mapped N1 dump).
    cmd = "console=ttyAMA0 panic=-1 rodata=noalias" + (" kfence.sample_interval=0" if how == "cmdline" else "")
    cfg = NO_RODATA_CFG | ({"CONFIG_KFENCE_SAMPLE_INTERVAL": "0"} if how == "config" else {})
    tree = derive(tmp_path, "qemu-n1-6.1-4k-rodataon", release="6.18.0", config=cfg, cmdline=cmd, ptdump=N1_PTE_DUMP)
    fp = collect(tree)
    check(fp, bbml2=False, rodata="noalias", state="pte", expected="pte")
    assert fp["linear_map"]["kfence_late_init"] is True
    assert "KFENCE late init" in fp["linear_map"]["expected_reason"]


def test_kfence_late_init_bbml2_keeps_blocks(tmp_path: Path) -> None:
    # From qemu-n1-6.1-4k-rodataon: AmpereOne, 6.18.0, kfence.sample_interval=0, block excerpt.
    tree = derive(
        tmp_path,
        "qemu-n1-6.1-4k-rodataon",
        release="6.18.0",
        midr=AMPEREONE,
        config=NO_RODATA_CFG,
        cmdline="console=ttyAMA0 panic=-1 kfence.sample_interval=0",
        ptdump=BLOCK_EXCERPT.read_text(),
        dmesg_add=[BBML2_LINE],
    )
    check(collect(tree), bbml2=True, rodata="full", state="block", expected="block")


def test_debug_pagealloc_on_bbml2_618(tmp_path: Path) -> None:
    # From qemu-n1-6.1-4k-rodataon-debugpagealloc (real dump: free pages unmapped, ~2 GiB of F
    # lines): AmpereOne, 6.18.0, only debug_pagealloc=on on the command line.
    tree = derive(
        tmp_path,
        "qemu-n1-6.1-4k-rodataon-debugpagealloc",
        release="6.18.0",
        midr=AMPEREONE,
        config=NO_RODATA_CFG,
        cmdline="console=ttyAMA0 panic=-1 debug_pagealloc=on",
        dmesg_add=[BBML2_LINE],
    )
    fp = collect(tree)
    check(fp, bbml2=True, rodata="full", state="pte", expected="pte")
    assert fp["linear_map"]["bytes"]["invalid"] > 1900 * M
    assert fp["linear_map"]["debug_pagealloc"] is True


def test_debug_pagealloc_alone_n1_61(tmp_path: Path) -> None:
    # The held-aside shape "N1 debug_pagealloc=on": qemu-n1-6.1-4k-rodataon-debugpagealloc
    # with rodata=on removed from its command line.
    tree = derive(
        tmp_path, "qemu-n1-6.1-4k-rodataon-debugpagealloc", cmdline="console=ttyAMA0 panic=-1 debug_pagealloc=on"
    )
    check(collect(tree), bbml2=False, rodata="full", state="pte", expected="pte")


def test_618_rc_with_debug_pagealloc_warns(tmp_path: Path) -> None:
    # From qemu-n1-6.1-4k-rodataon-debugpagealloc relabelled 6.18.0-rc3 (KFENCE=y in its config).
    tree = derive(
        tmp_path,
        "qemu-n1-6.1-4k-rodataon-debugpagealloc",
        release="6.18.0-rc3",
        config=NO_RODATA_CFG,
        cmdline="console=ttyAMA0 panic=-1 rodata=noalias debug_pagealloc=on",
    )
    check(collect(tree), bbml2=False, rodata="noalias", state="pte", expected="pte", warnings=["fixed in 6.18-rc6"])


def test_a76_rodata_full_shape(tmp_path: Path) -> None:
    # The held-aside shape "cortex-a76 rodata=full": qemu-n1-6.1-4k-rodatafull with the A76 MIDR
    # (0x414fd0b1, QEMU.md).
    tree = derive(tmp_path, "qemu-n1-6.1-4k-rodatafull", midr=0x414FD0B1)
    fp = collect(tree)
    check(fp, bbml2=False, rodata="full", state="pte", expected="pte")
    assert fp["cpu"]["model"] == "Cortex-A76 r4p1"


# 64K rodata=on shape (QEMU.md qemu-n1-6.1-64k-rodataon): 1 PMD BLK line of 1 GiB (2 x 512M),
# 3 PTE CON lines (2M runs), PTE lines around the kernel alias and a KFENCE pool of F/PTE pages.
def _dump_64k_rodataon() -> str:
    e = [
        (0, 2112 * K, "PTE", RW),
        (2112 * K, 5 * M + 64 * K, "PTE", RO),
        (5 * M + 64 * K, 6 * M, "PTE", RW),
        (6 * M, 512 * M, "PTE", RW_CON),
        (512 * M, 1536 * M, "PMD", RW_BLK),
        (1536 * M, 2014 * M, "PTE", RW_CON),
    ]
    pos = 2014 * M
    while pos < 2046 * M:  # 32M KFENCE pool: alternating guard (F) and object pages
        e += [(pos, pos + 64 * K, "PTE", RW), (pos + 64 * K, pos + 128 * K, "PTE", F_RW)]
        pos += 128 * K
    e += [(2046 * M, 2048 * M, "PTE", RW_CON), (2 * G, 4096 * G, "PMD", ""), (4096 * G, 128 * 1024 * G, "PGD", "")]
    return ptdump_text(e)


def test_64k_rodata_on_blocks(tmp_path: Path) -> None:
    # From qemu-n1-6.1-64k-rodatafull with rodata=on and a 64K block dump of the QEMU.md shape.
    tree = derive(
        tmp_path,
        "qemu-n1-6.1-64k-rodatafull",
        cmdline="console=ttyAMA0 panic=-1 rodata=on",
        ptdump=_dump_64k_rodataon(),
    )
    fp = collect(tree)
    check(fp, bbml2=False, rodata="noalias", state="block", expected="block")
    b = fp["linear_map"]["bytes"]
    assert b["PMD"] == 1 * G and b["invalid"] == 16 * M and fp["kernel"]["page_size"] == 65536


def test_64k_directmap_without_ptdump(tmp_path: Path) -> None:
    # From qemu-n1-6.1-64k-rodatafull: no debugfs dump, DirectMap lines in the 64K naming.
    tree = derive(
        tmp_path,
        "qemu-n1-6.1-64k-rodatafull",
        drop_ptdump=True,
        meminfo_add="DirectMap64k:     2097152 kB\nDirectMap2M:           0 kB\n"
        "DirectMap512M:         0 kB\nDirectMap16G:          0 kB\n",
    )
    fp = collect(tree)
    check(fp, bbml2=False, rodata="full", state="pte", expected="pte")
    assert fp["linear_map"]["source"] == "meminfo-directmap"
    assert fp["linear_map"]["bytes"]["PTE"] == 2 * G


def _dump_16k() -> str:
    # 16K granule: CONT_PTE = 2M, PMD block = 32M, CONT_PMD = 1G.
    return ptdump_text(
        [
            (0, 2 * M, "PTE", RW_CON),
            (2 * M, 2 * M + 64 * K, "PTE", RW),
            (2 * M + 64 * K, 4 * M + 704 * K, "PTE", RO),
            (4 * M + 704 * K, 6 * M, "PTE", RW),
            (6 * M, 32 * M, "PTE", RW_CON),
            (32 * M, 1 * G, "PMD", RW_BLK),
            (1 * G, 2 * G - 64 * M, "PMD", RW_BLK),
            (2 * G - 64 * M, 2 * G - 32 * M, "PTE", RW_CON),
            (2 * G - 32 * M, 2 * G - 32 * M + 16 * K, "PTE", RW),
            (2 * G - 32 * M + 16 * K, 2 * G - 32 * M + 32 * K, "PTE", F_RW),
            (2 * G - 32 * M + 32 * K, 2 * G, "PTE", RW),
            (2 * G, 64 * G, "PUD", ""),
            (64 * G, 128 * 1024 * G, "PGD", ""),
        ]
    )


def test_16k_blocks_from_ptdump(tmp_path: Path) -> None:
    # From qemu-n1-6.1-4k-rodataon with a 16K config (CONFIG_ARM64_16K_PAGES) and a 16K dump.
    tree = derive(
        tmp_path,
        "qemu-n1-6.1-4k-rodataon",
        release="6.18.0",
        config=NO_RODATA_CFG | {"CONFIG_ARM64_4K_PAGES": "n", "CONFIG_ARM64_16K_PAGES": "y"},
        cmdline="console=ttyAMA0 panic=-1 rodata=noalias",
        ptdump=_dump_16k(),
        hugepagesize_kb=32768,
    )
    fp = collect(tree)
    check(fp, bbml2=False, rodata="noalias", state="block", expected="block")
    assert fp["kernel"]["page_size"] == 16384
    assert fp["linear_map"]["bytes"]["PMD"] == 2 * G - 96 * M


def test_16k_rodata_full_directmap(tmp_path: Path) -> None:
    # From qemu-n1-6.1-4k-rodatafull, 16K config, no dump; DirectMap in the 16K naming, where
    # DirectMap2M is contiguous PTEs, so 16k + 2M entries (75% in blocks) is "mixed", not "pte".
    tree = derive(
        tmp_path,
        "qemu-n1-6.1-4k-rodatafull",
        release="6.18.0",
        drop_ptdump=True,
        config=NO_RODATA_CFG | {"CONFIG_ARM64_4K_PAGES": "n", "CONFIG_ARM64_16K_PAGES": "y"},
        meminfo_add="DirectMap16k:      524288 kB\nDirectMap2M:      1572864 kB\n"
        "DirectMap32M:          0 kB\nDirectMap1G:           0 kB\n",
    )
    fp = collect(tree)
    check(
        fp,
        bbml2=False,
        rodata="full",
        state="mixed",
        expected="pte",
        warnings=["linear map is mixed (meminfo-directmap) (75% of bytes in blocks"],
    )
    assert fp["linear_map"]["bytes"]["CONT_PTE"] == 1536 * M


def test_16k_page_size_from_hugepagesize_without_config(tmp_path: Path) -> None:
    # From qemu-n1-6.1-4k-rodataon with both config files removed and Hugepagesize of a 16K kernel.
    tree = derive(tmp_path, "qemu-n1-6.1-4k-rodataon", hugepagesize_kb=32768)
    (tree / "proc/config.gz").unlink()
    next((tree / "boot").glob("config-*")).unlink()
    fp = collect(tree)
    assert fp["kernel"]["page_size"] == 16384
    assert fp["kernel"]["config"] is None and "not present" in fp["missing"]["kernel.config"]
    # On 6.1, rodata=on is explicit, but whether debug_pagealloc is on is not known: no guess.
    check(fp, bbml2=False, rodata="noalias", state="block", expected="unknown")


def test_missing_sources_are_null_with_reason(tmp_path: Path) -> None:
    # From qemu-n1-6.1-4k-rodataon with meminfo, the dump, midr files and cpuinfo removed.
    tree = derive(tmp_path, "qemu-n1-6.1-4k-rodataon", drop_ptdump=True)
    (tree / "proc/meminfo").unlink()
    (tree / "proc/cpuinfo").unlink()
    for f in tree.glob("sys/devices/system/cpu/cpu*/regs/identification/midr_el1"):
        f.unlink()
    (tree / "dmesg.txt").unlink()
    fp = collect(tree)
    assert fp["memory"]["total_kb"] is None and "proc/meminfo not present" in fp["missing"]["memory.total_kb"]
    assert fp["cpu"]["bbml2_noabort"] is None and "midr_el1" in fp["missing"]["cpu.bbml2_noabort"]
    assert fp["cpu"]["bbml2_dmesg"] is None and "dmesg.txt not present" in fp["missing"]["cpu.bbml2_dmesg"]
    assert fp["linear_map"]["source"] == "inferred"
    # 6.1: blocks under rodata=on whatever the CPU, so the inference still holds.
    assert fp["linear_map"]["state"] == "block" and fp["linear_map"]["expected"] == "block"
    assert "(inferred, not observed)" in fp["verdict"]
    assert fp["cpu"]["count"] == 2  # sys/devices/system/cpu/online is still there


def test_degraded_block_map_is_mixed(tmp_path: Path) -> None:
    # From the AmpereOne case (qemu-n1-6.1-4k-rodatafull + block excerpt) with 6G of the 9G of PUD
    # blocks replaced by plain PTEs, as after many splits: (2M+960M+3G+64K)/(that+6G+32K) = 40% blocks.
    dump = (
        BLOCK_EXCERPT.read_text()
        .replace(
            "0xffff0001c0000000-0xffff000300000000           5G PUD       RW NX SHD AF        BLK UXN",
            "0xffff0001c0000000-0xffff000300000000           5G PTE       RW NX SHD AF            UXN",
        )
        .replace(
            "0xffff000040000000-0xffff000140000000           4G PUD       RW NX SHD AF        BLK UXN",
            "0xffff000040000000-0xffff000080000000           1G PTE       RW NX SHD AF            UXN",
        )
    )
    dump = dump.replace(
        "0xffff000300000000-0xffff008000000000         500G PUD",
        "0xffff000080000000-0xffff000140000000           3G PUD       RW NX SHD AF        BLK UXN"
        "    MEM/NORMAL-TAGGED\n0xffff000300000000-0xffff008000000000         500G PUD",
    )
    tree = derive(
        tmp_path,
        "qemu-n1-6.1-4k-rodatafull",
        release="6.18.0",
        midr=AMPEREONE,
        config=NO_RODATA_CFG,
        ptdump=dump,
        dmesg_add=[BBML2_LINE],
    )
    fp = collect(tree)
    check(
        fp,
        bbml2=True,
        rodata="full",
        state="mixed",
        expected="block",
        warnings=["linear map is mixed (ptdump) (40% of writable bytes in blocks"],
    )
    assert fp["verdict"].startswith("arm: mixed linear map (40% in blocks) (ptdump), BBML2_NOABORT CPU")


def test_unknown_arch_still_reads_an_arm64_dump(tmp_path: Path) -> None:
    # From qemu-n1-6.1-4k-rodataon without config files or cpuinfo: the arch cannot be named,
    # but the dump is arm64's and is still the observation.
    tree = derive(tmp_path, "qemu-n1-6.1-4k-rodataon")
    (tree / "proc/config.gz").unlink()
    next((tree / "boot").glob("config-*")).unlink()
    (tree / "proc/cpuinfo").unlink()
    fp = collect(tree)
    assert fp["host"]["arch"] is None
    assert fp["linear_map"]["source"] == "ptdump" and fp["linear_map"]["state"] == "block"
