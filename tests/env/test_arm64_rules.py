"""MIDR allow-list, kernel-log detection, rodata semantics and the expected linear map."""

from __future__ import annotations

from pathlib import Path

import pytest
from env_trees import AMPEREONE, ARM64, BLOCK_EXCERPT, derive

from benchctl.env.arm64 import expected as ex
from benchctl.env.arm64.midr import (
    BBML2_DESC,
    Midr,
    all_bbml2_noabort,
    allow_list_for,
    dmesg_bbml2,
    is_bbml2_noabort,
    midrs_from_cpuinfo,
    parse_midr,
)
from benchctl.env.fingerprint import collect, summary


def midr(imp: int, part: int, variant: int = 0, rev: int = 0) -> Midr:
    return Midr.from_fields(imp, variant, part, rev)


@pytest.mark.parametrize(
    "m, ok",
    [
        (midr(0x41, 0xD82, 0, 2), False),  # Cortex-X4 r0p2: below r0p3
        (midr(0x41, 0xD82, 0, 3), True),
        (midr(0x41, 0xD82, 1, 0), False),  # MIDR_REV_RANGE fixes variant 0, as the kernel compares
        (midr(0x41, 0xD84, 0, 1), False),  # Neoverse-V3 r0p1: erratum 3053180
        (midr(0x41, 0xD84, 0, 2), True),
        (midr(0x41, 0xD83, 0, 2), True),  # Neoverse-V3AE
        (midr(0xC0, 0xAC3, 0, 0), True),  # AmpereOne, all versions
        (midr(0xC0, 0xAC3, 0xF, 0xF), True),
        (midr(0xC0, 0xAC4, 1, 2), True),  # AmpereOne A
        (midr(0x4E, 0x010, 0, 0), True),  # NVIDIA Olympus
        (parse_midr("0x00000000414fd0c1"), False),  # Neoverse N1 r4p1 (recorded)
        (midr(0x41, 0xD40), False),
        (midr(0x41, 0xD49), False),
        (midr(0x41, 0xD4F), False),
        (parse_midr("0x000f0510"), False),  # qemu -cpu max
        (Midr(0xC000AC30), False),  # architecture field not 0xF: not the kernel's MIDR_CPU_MODEL
    ],
)
def test_allow_list(m: Midr, ok: bool) -> None:
    assert is_bbml2_noabort(m) is ok


def test_every_cpu_must_match() -> None:
    one = midr(0xC0, 0xAC3)
    assert all_bbml2_noabort([one, one]) is True
    assert all_bbml2_noabort([one, midr(0x41, 0xD0C, 4, 1)]) is False
    assert all_bbml2_noabort([]) is None


def test_midr_fields_and_cpuinfo_agree_with_sysfs() -> None:
    tree = ARM64 / "qemu-n1-6.1-4k-rodataon"
    sysfs = parse_midr((tree / "sys/devices/system/cpu/cpu0/regs/identification/midr_el1").read_text())
    assert (sysfs.implementer, sysfs.variant, sysfs.part, sysfs.revision) == (0x41, 4, 0xD0C, 1)
    assert sysfs.name == "Neoverse N1 r4p1" and sysfs.hex == "0x414fd0c1"
    assert midrs_from_cpuinfo((tree / "proc/cpuinfo").read_text()) == {0: sysfs, 1: sysfs}


def test_dmesg_detection() -> None:
    boot = "[    0.000000] Booting Linux on physical CPU 0x0000000000 [0xc00fac30]\n"
    # The words 6.17 and 6.18 print (.desc of ARM64_HAS_BBML2_NOABORT; recorded on 6.18.15).
    real = "[    0.012345] CPU features: detected: BBM Level 2 without TLB conflict abort\n"
    assert dmesg_bbml2(boot + real) == (True, "CPU features: detected: BBM Level 2 without TLB conflict abort")
    assert dmesg_bbml2(boot + "[0.1] CPU features: detected: BBM Level 2 without conflict abort\n")[0] is True
    assert dmesg_bbml2(boot + "[0.1] CPU features: detected: BBML3\n")[0] is True
    assert dmesg_bbml2(boot + "[0.1] CPU features: detected: BBM Level 3 without conflict abort\n")[0] is True
    assert dmesg_bbml2(boot)[0] is False
    # Boot messages rotated out: absence proves nothing.
    assert dmesg_bbml2("[99.0] eth0: link up\n")[0] is None
    real = (ARM64 / "qemu-n1-6.1-4k-rodataon/dmesg.txt").read_text()
    assert dmesg_bbml2(real)[0] is False


@pytest.mark.parametrize(
    "text, parsed",
    [
        ("6.18.0-rc3+", (6, 18, 0, 3)),
        ("6.18-rc1", (6, 18, 0, 1)),
        ("6.1.192-64k", (6, 1, 192, None)),
        ("6.17.0", (6, 17, 0, None)),
        ("7.3.0-next-20260807", (7, 3, 0, None)),
    ],
)
def test_parse_release(text: str, parsed: tuple) -> None:
    rel = ex.parse_release(text)
    assert (rel.major, rel.minor, rel.patch, rel.rc) == parsed


def test_has_series_boundary() -> None:
    assert ex.has_series(ex.parse_release("6.18.0-rc1")) is True
    assert ex.has_series(ex.parse_release("6.17.12")) is False
    assert ex.has_series(None) is None


def test_cmdline_last_wins_and_init_args_dropped() -> None:
    p = ex.parse_cmdline('rodata=on quiet rodata=noalias x="a b" -- rodata=off')
    assert p["rodata"] == "noalias" and p["quiet"] is None and p["x"] == "a b"


CFG_617 = {
    "CONFIG_RODATA_FULL_DEFAULT_ENABLED": "y",
    "CONFIG_KFENCE": "y",
    "CONFIG_KFENCE_SAMPLE_INTERVAL": "100",
    "CONFIG_DEBUG_PAGEALLOC": "y",
    "CONFIG_DEBUG_PAGEALLOC_ENABLE_DEFAULT": "n",
}
CFG_618 = {k: v for k, v in CFG_617.items() if k != "CONFIG_RODATA_FULL_DEFAULT_ENABLED"}


@pytest.mark.parametrize(
    "release, cmd, cfg, effective, warns",
    [
        ("6.17.0", "", CFG_617, "full", False),
        ("6.17.0", "rodata=full", CFG_617, "full", False),
        ("6.17.0", "rodata=on", CFG_617, "noalias", False),
        ("6.17.0", "rodata=off", CFG_617, "off", False),
        ("6.17.0", "rodata=noalias", CFG_617, "full", True),  # not known before 6.18: rejected
        ("6.17.0", "", CFG_617 | {"CONFIG_RODATA_FULL_DEFAULT_ENABLED": "n"}, "noalias", False),
        ("6.17.0", "", None, None, False),  # default unknown without config
        ("6.18.0", "", CFG_618, "full", False),
        ("6.18.0", "rodata=on", CFG_618, "full", False),
        ("6.18.0-rc2", "rodata=noalias", CFG_618, "noalias", False),
        ("6.18.0", "rodata=full", CFG_618, "full", True),  # rejected, default (full) stays
        ("6.18.0", "rodata=off", None, "off", False),
    ],
)
def test_rodata(release: str, cmd: str, cfg: dict | None, effective: str | None, warns: bool) -> None:
    r = ex.rodata(ex.parse_release(release), ex.parse_cmdline(cmd), cfg)
    assert r.effective == effective
    assert bool(r.warnings) is warns


def test_kfence_and_debug_pagealloc() -> None:
    assert ex.kfence_late_init({}, CFG_618)[0] is False
    assert ex.kfence_late_init({"kfence.sample_interval": "0"}, CFG_618)[0] is True
    assert ex.kfence_late_init({}, CFG_618 | {"CONFIG_KFENCE_SAMPLE_INTERVAL": "0"})[0] is True
    assert ex.kfence_late_init({"kfence.sample_interval": "0"}, CFG_618 | {"CONFIG_KFENCE": "n"})[0] is False
    assert ex.debug_pagealloc({"debug_pagealloc": "on"}, CFG_618)[0] is True
    assert ex.debug_pagealloc({"debug_pagealloc": "1"}, CFG_618)[0] is True
    assert ex.debug_pagealloc({"debug_pagealloc": "off"}, CFG_618)[0] is False
    assert ex.debug_pagealloc({"debug_pagealloc": "on"}, CFG_618 | {"CONFIG_DEBUG_PAGEALLOC": "n"})[0] is False
    assert ex.debug_pagealloc({}, CFG_618 | {"CONFIG_DEBUG_PAGEALLOC_ENABLE_DEFAULT": "y"})[0] is True


@pytest.mark.parametrize(
    "release, bbml2, rodata, kfence, dpa, state",
    [
        ("6.18.0", True, "full", False, False, "block"),
        ("6.18.0", True, "full", True, False, "block"),  # late KFENCE pool alone split on BBML2
        ("6.18.0", True, "full", False, True, "pte"),  # debug_pagealloc wins everywhere
        ("6.18.0", False, "full", False, False, "pte"),  # negative control
        ("6.18.0", False, "noalias", False, False, "block"),
        ("6.18.0", False, "noalias", True, False, "pte"),  # KFENCE late init, non-BBML2
        ("6.17.0", True, "full", False, False, "pte"),  # no series before 6.18
        ("6.17.0", True, "noalias", False, False, "block"),
        ("6.18.0", None, "full", False, False, "unknown"),
        ("6.18.0", None, "off", False, False, "block"),
        ("6.18.0", False, "noalias", False, None, "unknown"),
        ("6.18.0", False, "full", False, None, "pte"),
    ],
)
def test_expected_linear_map(release, bbml2, rodata, kfence, dpa, state) -> None:
    e = ex.expected_linear_map(
        rel=ex.parse_release(release), bbml2=bbml2, rodata_effective=rodata, kfence_late=kfence, debug_pagealloc_on=dpa
    )
    assert e.state == state, e.reason


def test_rc_bug_warning_only_rc1_to_rc5() -> None:
    assert ex.rc_bug_warning(ex.parse_release("6.18.0-rc5"), False, CFG_618)
    assert ex.rc_bug_warning(ex.parse_release("6.18.0-rc6"), True, CFG_618) is None
    assert ex.rc_bug_warning(ex.parse_release("6.18.0"), True, CFG_618) is None
    assert ex.rc_bug_warning(ex.parse_release("6.18.0-rc1"), False, {"CONFIG_KFENCE": "n"}) is None


# -- the allow-list of each release ---------------------------------------------------------

V3_R0P2, V3_R0P0, V3AE_R0P2 = midr(0x41, 0xD84, 0, 2), midr(0x41, 0xD84, 0, 0), midr(0x41, 0xD83, 0, 2)
N1 = parse_midr("0x414fd0c1")
OLYMPUS, N3 = midr(0x4E, 0x010), midr(0x41, 0xD8E)


@pytest.mark.parametrize(
    "release, m, ok, label",
    [
        ("6.16.0", V3_R0P2, False, "6.16"),  # no BBML2_NOABORT capability before 6.17
        ("6.17.13", V3_R0P2, True, "6.17"),  # measured: 6.17.13 detects V3 r0p2 ...
        ("6.17.13", Midr(AMPEREONE), False, "6.17"),  # ... and not AmpereOne
        ("6.17.13", V3AE_R0P2, False, "6.17"),
        ("6.17.13", OLYMPUS, False, "6.17"),
        ("6.17.13", V3_R0P0, False, "6.17"),
        ("6.18.15", Midr(AMPEREONE), True, "6.18"),
        ("6.18.15", V3AE_R0P2, True, "6.18"),
        ("6.18.15", OLYMPUS, True, "6.18"),
        ("6.18.15", N1, False, "6.18"),
        ("6.19.2", Midr(AMPEREONE), True, "6.18"),  # unchanged through 7.2
        ("7.2.0", N3, False, "6.18"),
        ("7.3.0", N3, True, "7.3"),  # the BBML3 list of linux-next for 7.3
        ("7.3.0", midr(0x41, 0xD8C, 1, 0), False, "7.3"),  # C1-Ultra r1p0: erratum 3683289
        ("7.3.0", midr(0x41, 0xD8C, 1, 1), True, "7.3"),
        ("7.3.0", N1, False, "7.3"),
    ],
)
def test_allow_list_by_release(release: str, m: Midr, ok: bool, label: str) -> None:
    rel = ex.parse_release(release)
    allow = allow_list_for(rel)
    assert allow is not None
    assert allow.trusts([m]) is ok
    assert all_bbml2_noabort([m, m], allow) is ok
    assert allow.label(rel) == label
    assert allow.describe(rel).startswith(f"allow-list of {label}")


def test_allow_list_needs_the_release() -> None:
    assert allow_list_for(None) is None
    assert allow_list_for(ex.parse_release("6.19.1")).describe(ex.parse_release("6.19.1")) == (
        "allow-list of 6.18 (unchanged in 6.19)"
    )
    assert is_bbml2_noabort(Midr(AMPEREONE))  # default: the list the series shipped with (6.18)


@pytest.mark.parametrize(
    "release, bbml2, kfence, state",
    [
        ("6.18.0", False, True, "pte"),  # Debian's CONFIG_KFENCE_SAMPLE_INTERVAL=0, untrusted CPU
        ("6.18.0", True, True, "block"),  # trusted: only the KFENCE pool is split
        ("6.17.0", False, True, "pte"),  # 6.17: can_set_direct_map() for any CPU
        ("6.17.0", True, True, "pte"),
        ("6.17.0", True, False, "block"),
    ],
)
def test_kfence_late_init_under_noalias(release: str, bbml2: bool, kfence: bool, state: str) -> None:
    e = ex.expected_linear_map(
        rel=ex.parse_release(release),
        bbml2=bbml2,
        rodata_effective="noalias",
        kfence_late=kfence,
        debug_pagealloc_on=False,
    )
    assert e.state == state, e.reason


def test_rodata_full_rejected_once_with_the_effective_mode() -> None:
    r = ex.rodata(ex.parse_release("6.18.15"), ex.parse_cmdline("rodata=full"), CFG_618)
    assert r.effective == "full"
    assert len(r.warnings) == 1 and "effective: full" in r.warnings[0]


# -- the fingerprint: kernel words, per-release lists, one warning each -----------------------

NO_RODATA = {"CONFIG_RODATA_FULL_DEFAULT_ENABLED": None}
LINE = f"[    0.004000] CPU features: detected: {BBML2_DESC}"


def _tree(tmp_path: Path, release: str, cpu: int | None, lines: list[str], cmdline: str | None = None) -> Path:
    # From qemu-n1-6.1-4k-rodatafull (6.17 keeps its RODATA_FULL_DEFAULT_ENABLED=y), with the
    # AmpereOne block excerpt as its ptdump on 6.18.
    return derive(
        tmp_path,
        "qemu-n1-6.1-4k-rodatafull",
        release=release,
        midr=cpu,
        config=None if release.startswith("6.17") else NO_RODATA,
        cmdline=cmdline,
        ptdump=BLOCK_EXCERPT.read_text() if release.startswith("6.18") and cpu == AMPEREONE else None,
        dmesg_add=lines,
    )


def test_trusted_cpu_with_the_kernel_line_is_no_alarm(tmp_path: Path) -> None:
    fp = collect(_tree(tmp_path, "6.18.15", AMPEREONE, [LINE]))
    assert fp["cpu"]["bbml2_dmesg"] is True and fp["cpu"]["bbml2_noabort"] is True
    assert fp["cpu"]["bbml2_allow_list"] == "6.18" and "allow-list of 6.18" in fp["sources"]["cpu.bbml2_noabort"]
    assert fp["linear_map"]["expected"] == "block"
    assert fp["warnings"] == []
    assert "allow-list of 6.18: True, kernel log: True" in " ".join(summary(fp).split())


def test_617_lists_v3_not_ampereone(tmp_path: Path) -> None:
    fp = collect(_tree(tmp_path, "6.17.13", 0x410FD842, [LINE]))
    assert fp["cpu"]["bbml2_noabort"] is True and fp["cpu"]["bbml2_dmesg"] is True
    assert fp["linear_map"]["expected"] == "pte"  # 6.17 detects BBML2 but lacks the series
    assert fp["warnings"] == []
    fp = collect(_tree(tmp_path / "a1", "6.17.13", AMPEREONE, []))
    assert (fp["cpu"]["bbml2_noabort"], fp["cpu"]["bbml2_dmesg"], fp["warnings"]) == (False, False, [])
    assert fp["cpu"]["bbml2_allow_list"] == "6.17"


def test_allow_listed_without_the_line_warns_in_the_kernels_words(tmp_path: Path) -> None:
    fp = collect(_tree(tmp_path, "6.18.15", AMPEREONE, []))
    assert len(fp["warnings"]) == 1
    assert f"'CPU features: detected: {BBML2_DESC}'" in fp["warnings"][0]
    assert "(allow-list of 6.18)" in fp["warnings"][0] and "repainted to PTEs" in fp["warnings"][0]


@pytest.mark.parametrize(
    "release, line, why",
    [
        ("6.17.13", LINE, "a longer list"),  # AmpereOne detected by a 6.17: a backport
        ("7.3.0", "[    0.004000] CPU features: detected: BBM Level 3", "ID_AA64MMFR2_EL1.BBM >= 3"),
    ],
)
def test_line_without_the_list_names_why(tmp_path: Path, release: str, line: str, why: str) -> None:
    cpu = AMPEREONE if release.startswith("6.17") else None  # None: the tree's N1
    fp = collect(_tree(tmp_path, release, cpu, [line]))
    assert fp["cpu"]["bbml2_noabort"] is False and fp["cpu"]["bbml2_dmesg"] is True
    assert len(fp["warnings"]) == 1 and why in fp["warnings"][0], fp["warnings"]
    assert line.split("] ", 1)[1] in fp["warnings"][0]


def test_618_rodata_full_is_one_warning_with_the_effective_mode(tmp_path: Path) -> None:
    rejected = "[    0.000000] Invalid option string for rodata: 'full'"
    fp = collect(_tree(tmp_path, "6.18.15", None, [rejected], cmdline="console=ttyAMA0 rodata=full"))
    assert fp["rodata"]["requested"] == "full" and fp["rodata"]["effective"] == "full"
    assert len(fp["warnings"]) == 1 and "effective: full" in fp["warnings"][0], fp["warnings"]
    assert "requested full, effective full" in summary(fp)
