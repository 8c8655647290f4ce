"""MIDR allow-list, kernel-log detection, rodata semantics and the expected linear map."""

from __future__ import annotations

import pytest
from env_trees import ARM64

from benchctl.env.arm64 import expected as ex
from benchctl.env.arm64.midr import Midr, all_bbml2_noabort, dmesg_bbml2, is_bbml2_noabort, midrs_from_cpuinfo, parse_midr


def midr(imp: int, part: int, variant: int = 0, rev: int = 0) -> Midr:
    return Midr.from_fields(imp, variant, part, rev)


@pytest.mark.parametrize("m, ok", [
    (midr(0x41, 0xD82, 0, 2), False),   # Cortex-X4 r0p2: below r0p3
    (midr(0x41, 0xD82, 0, 3), True),
    (midr(0x41, 0xD82, 1, 0), False),   # MIDR_REV_RANGE fixes variant 0, as the kernel compares
    (midr(0x41, 0xD84, 0, 1), False),   # Neoverse-V3 r0p1: erratum 3053180
    (midr(0x41, 0xD84, 0, 2), True),
    (midr(0x41, 0xD83, 0, 2), True),    # Neoverse-V3AE
    (midr(0xC0, 0xAC3, 0, 0), True),    # AmpereOne, all versions
    (midr(0xC0, 0xAC3, 0xF, 0xF), True),
    (midr(0xC0, 0xAC4, 1, 2), True),    # AmpereOne A
    (midr(0x4E, 0x010, 0, 0), True),    # NVIDIA Olympus
    (parse_midr("0x00000000414fd0c1"), False),  # Neoverse N1 r4p1 (recorded)
    (midr(0x41, 0xD40), False), (midr(0x41, 0xD49), False), (midr(0x41, 0xD4F), False),
    (parse_midr("0x000f0510"), False),  # qemu -cpu max
    (Midr(0xC000AC30), False),          # architecture field not 0xF: not the kernel's MIDR_CPU_MODEL
])
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
    assert dmesg_bbml2(boot + "[0.1] CPU features: detected: BBM Level 2 without conflict abort\n")[0] is True
    assert dmesg_bbml2(boot + "[0.1] CPU features: detected: BBML3\n")[0] is True
    assert dmesg_bbml2(boot + "[0.1] CPU features: detected: BBM Level 3 without conflict abort\n")[0] is True
    assert dmesg_bbml2(boot)[0] is False
    # Boot messages rotated out: absence proves nothing.
    assert dmesg_bbml2("[99.0] eth0: link up\n")[0] is None
    real = (ARM64 / "qemu-n1-6.1-4k-rodataon/dmesg.txt").read_text()
    assert dmesg_bbml2(real)[0] is False


@pytest.mark.parametrize("text, parsed", [
    ("6.18.0-rc3+", (6, 18, 0, 3)), ("6.18-rc1", (6, 18, 0, 1)), ("6.1.192-64k", (6, 1, 192, None)),
    ("6.17.0", (6, 17, 0, None)), ("7.3.0-next-20260807", (7, 3, 0, None)),
])
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


CFG_617 = {"CONFIG_RODATA_FULL_DEFAULT_ENABLED": "y", "CONFIG_KFENCE": "y", "CONFIG_KFENCE_SAMPLE_INTERVAL": "100",
           "CONFIG_DEBUG_PAGEALLOC": "y", "CONFIG_DEBUG_PAGEALLOC_ENABLE_DEFAULT": "n"}
CFG_618 = {k: v for k, v in CFG_617.items() if k != "CONFIG_RODATA_FULL_DEFAULT_ENABLED"}


@pytest.mark.parametrize("release, cmd, cfg, effective, warns", [
    ("6.17.0", "", CFG_617, "full", False),
    ("6.17.0", "rodata=full", CFG_617, "full", False),
    ("6.17.0", "rodata=on", CFG_617, "noalias", False),
    ("6.17.0", "rodata=off", CFG_617, "off", False),
    ("6.17.0", "rodata=noalias", CFG_617, "full", True),   # not known before 6.18: rejected
    ("6.17.0", "", CFG_617 | {"CONFIG_RODATA_FULL_DEFAULT_ENABLED": "n"}, "noalias", False),
    ("6.17.0", "", None, None, False),                     # default unknown without config
    ("6.18.0", "", CFG_618, "full", False),
    ("6.18.0", "rodata=on", CFG_618, "full", False),
    ("6.18.0-rc2", "rodata=noalias", CFG_618, "noalias", False),
    ("6.18.0", "rodata=full", CFG_618, "full", True),      # rejected, default (full) stays
    ("6.18.0", "rodata=off", None, "off", False),
])
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


@pytest.mark.parametrize("release, bbml2, rodata, kfence, dpa, state", [
    ("6.18.0", True, "full", False, False, "block"),
    ("6.18.0", True, "full", True, False, "block"),      # late KFENCE pool alone split on BBML2
    ("6.18.0", True, "full", False, True, "pte"),        # debug_pagealloc wins everywhere
    ("6.18.0", False, "full", False, False, "pte"),      # negative control
    ("6.18.0", False, "noalias", False, False, "block"),
    ("6.18.0", False, "noalias", True, False, "pte"),    # KFENCE late init, non-BBML2
    ("6.17.0", True, "full", False, False, "pte"),       # no series before 6.18
    ("6.17.0", True, "noalias", False, False, "block"),
    ("6.18.0", None, "full", False, False, "unknown"),
    ("6.18.0", None, "off", False, False, "block"),
    ("6.18.0", False, "noalias", False, None, "unknown"),
    ("6.18.0", False, "full", False, None, "pte"),
])
def test_expected_linear_map(release, bbml2, rodata, kfence, dpa, state) -> None:
    e = ex.expected_linear_map(rel=ex.parse_release(release), bbml2=bbml2, rodata_effective=rodata,
                               kfence_late=kfence, debug_pagealloc_on=dpa)
    assert e.state == state, e.reason


def test_rc_bug_warning_only_rc1_to_rc5() -> None:
    assert ex.rc_bug_warning(ex.parse_release("6.18.0-rc5"), False, CFG_618)
    assert ex.rc_bug_warning(ex.parse_release("6.18.0-rc6"), True, CFG_618) is None
    assert ex.rc_bug_warning(ex.parse_release("6.18.0"), True, CFG_618) is None
    assert ex.rc_bug_warning(ex.parse_release("6.18.0-rc1"), False, {"CONFIG_KFENCE": "n"}) is None
