"""Emulation as a fact of the host (host.emulation, cpu.midr_is_silicon), and the recorded
Debian trixie guests (tests/fixtures/arm64-trixie) end to end through `benchctl env`."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import deadline  # tests/support/deadline.py: waits with a deadline
import pytest
from env_trees import ARM64, derive

from benchctl.campaign.verify import verify
from benchctl.env.fingerprint import collect, summary
from benchctl.env.probes.emulation import Emulation, Evidence, classify, midr_is_silicon

KVM_LINE = "[    0.000000] smccc: KVM: hypervisor services detected (0x00000000 0x00000000 0x00000000 0x00000003)"
TRIXIE = Path(__file__).parents[1] / "fixtures" / "arm64-trixie"
DMESG_FIXTURES = sorted((Path(__file__).parents[1] / "fixtures" / "arm64-env").glob("*.dmesg.txt"))


# -- the rules ---------------------------------------------------------------------------------


def test_qemu_without_kvm_line_is_tcg() -> None:
    em = classify(Evidence(qemu=["qemu virt machine"], boot_log=True))
    assert (em.emulated, em.how) == (True, "qemu TCG")
    assert em.reason.startswith("qemu, no KVM: TCG (emulated)")
    assert midr_is_silicon(em)[0] is False


def test_kvm_line_means_silicon() -> None:
    em = classify(Evidence(qemu=["qemu virt machine"], hypervisor=("KVM", KVM_LINE), boot_log=True))
    assert (em.emulated, em.how) == (False, "KVM")
    silicon, why = midr_is_silicon(em)
    assert silicon is True and "host CPU" in why


@pytest.mark.parametrize(
    "ev, how",
    [
        (Evidence(qemu=["qemu virt machine"], boot_log=False), "qemu"),  # boot log wrapped
        (Evidence(qemu=["qemu virt machine"], boot_log=None), "qemu"),  # no log at all
        (Evidence(qemu=["qemu virt machine"], boot_log=True, kvm_line_printed=False), "qemu"),
        (Evidence(qemu=[], boot_log=True), None),  # arm64, nothing says anything
        (Evidence(qemu=[], boot_log=True, hypervisor_flag=True, x86=True), "hypervisor"),
    ],
)
def test_nothing_tells_is_none(ev: Evidence, how: str | None) -> None:
    em = classify(ev)
    assert em.emulated is None and em.how == how and em.reason
    assert midr_is_silicon(em)[0] is None


def test_x86_without_hypervisor_flag_is_bare_metal() -> None:
    em = classify(Evidence(qemu=[], boot_log=True, hypervisor_flag=False, x86=True))
    assert em == Emulation(False, "bare metal", em.reason)


@pytest.mark.parametrize("path", DMESG_FIXTURES, ids=lambda p: p.name)
def test_recorded_tcg_logs_show_no_kvm_sign(path: Path) -> None:
    # Real TCG guests print "kvm [1]: HYP mode not available" (their own KVM): no KVM sign.
    text = path.read_text()
    assert "Machine model: linux,dummy-virt" in text and "HYP mode not available" in text
    assert "smccc: KVM" not in text


# -- the probe on trees -------------------------------------------------------------------------


def test_recorded_arm64_tree_is_tcg() -> None:
    fp = collect(ARM64 / "qemu-n1-6.1-4k-rodatafull")
    em = fp["host"]["emulation"]
    assert (em["emulated"], em["how"]) == (True, "qemu TCG")
    assert "linux,dummy-virt" in em["reason"]
    assert fp["cpu"]["midr_is_silicon"] is False
    assert "dmesg.txt" in fp["sources"]["host.emulation"]
    text = summary(fp)
    assert max(len(line) for line in text.splitlines()) <= 72
    assert "emulation:  qemu, no KVM: TCG (emulated)" in text and "the MIDR is not silicon" in " ".join(text.split())


def test_device_tree_and_kvm_line(tmp_path: Path) -> None:
    # From qemu-n1-6.1-4k-rodatafull: the device tree qemu's virt machine passes, plus the
    # line a KVM guest prints.
    tree = derive(tmp_path, "qemu-n1-6.1-4k-rodatafull", dmesg_add=[KVM_LINE])
    dt = tree / "sys/firmware/devicetree/base"
    dt.mkdir(parents=True)
    (dt / "compatible").write_bytes(b"linux,dummy-virt\0")
    fp = collect(tree)
    em = fp["host"]["emulation"]
    assert (em["emulated"], em["how"]) == (False, "KVM")
    assert "device tree compatible 'linux,dummy-virt'" in em["reason"] and "smccc: KVM" in em["reason"]
    assert fp["cpu"]["midr_is_silicon"] is True
    assert "/sys/firmware/devicetree/base/compatible" in fp["sources"]["host.emulation"]
    assert fp["warnings"] == []  # a fact, not a warning


def test_wrapped_log_leaves_it_unknown(tmp_path: Path) -> None:
    tree = derive(tmp_path, "qemu-n1-6.1-4k-rodatafull")
    (tree / "proc/device-tree").mkdir(parents=True)
    (tree / "proc/device-tree/compatible").write_bytes(b"linux,dummy-virt\0")
    (tree / "dmesg.txt").write_text("[ 9999.000000] eth0: link up\n")
    fp = collect(tree)
    assert fp["host"]["emulation"]["emulated"] is None and fp["host"]["emulation"]["how"] == "qemu"
    assert fp["cpu"]["midr_is_silicon"] is None and "unknown" in fp["missing"]["cpu.midr_is_silicon"]
    assert "emulation:  unknown: " in summary(fp)


def _x86_tree(root: Path, *, flags: str, vendor: str | None, log: str) -> Path:
    (root / "proc/sys/kernel").mkdir(parents=True)
    (root / "proc/sys/kernel/osrelease").write_text("6.12.57+deb13-amd64\n")
    (root / "proc/cpuinfo").write_text(f"processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu lm {flags}\n")
    if vendor:
        (root / "sys/class/dmi/id").mkdir(parents=True)
        (root / "sys/class/dmi/id/sys_vendor").write_text(vendor + "\n")
    (root / "dmesg.txt").write_text("[    0.000000] Linux version 6.12.57+deb13-amd64 (gcc)\n" + log)
    return root


@pytest.mark.parametrize(
    "flags, vendor, log, emulated, how",
    [
        ("hypervisor", "QEMU", "[    0.000000] Hypervisor detected: KVM\n", False, "KVM"),
        ("hypervisor", "QEMU", "", True, "qemu TCG"),
        ("", None, "", False, "bare metal"),
        ("hypervisor", None, "", None, "hypervisor"),
    ],
)
def test_x86(tmp_path: Path, flags: str, vendor: str | None, log: str, emulated: bool | None, how: str) -> None:
    fp = collect(_x86_tree(tmp_path, flags=flags, vendor=vendor, log=log))
    assert fp["host"]["arch"] == "x86_64"
    assert (fp["host"]["emulation"]["emulated"], fp["host"]["emulation"]["how"]) == (emulated, how)
    assert fp["cpu"]["midr_is_silicon"] is None and "not arm64" in fp["missing"]["cpu.midr_is_silicon"]
    if emulated:
        assert "'Hypervisor detected: KVM'" in fp["host"]["emulation"]["reason"]


def test_campaign_verification_records_cpu_and_emulation() -> None:
    fp = collect(ARM64 / "qemu-n1-6.1-4k-rodatafull")
    v = verify(fp, "pte", {})
    assert v.observed["midr"] == [{"value": "0x414fd0c1", "name": "Neoverse N1 r4p1", "cpus": [0, 1]}]
    assert v.observed["bbml2_dmesg"] is False
    assert v.observed["emulation"]["emulated"] is True
    assert v.as_dict()["observed"]["emulation"]["how"] == "qemu TCG"


# -- the recorded Debian trixie guests (6.17.13 / 6.18.15 under qemu TCG) -----------------------

TREES = sorted(p for p in TRIXIE.iterdir() if (p / "proc").is_dir()) if TRIXIE.is_dir() else []
needs_trees = pytest.mark.skipif(not TREES, reason="tests/fixtures/arm64-trixie not recorded yet")


def _expect(name: str) -> dict | None:
    """What each tree must show, from its name: <cpu>-<release>[-variant]; None if not one."""
    m = re.match(r"(n1|ampereone|v3r0p2)-(6\.1[78])\b", name)
    if not m:
        return None
    cpu, release = m.groups()
    # 6.17 lists Neoverse V3 r0p2+ but not AmpereOne; only 6.18 maps blocks for what it trusts.
    trusted = cpu == "v3r0p2" or (cpu == "ampereone" and release == "6.18")
    block = trusted and release == "6.18"
    return {"bbml2": trusted, "dmesg": trusted, "list": release, "expected": "block" if block else "pte"}


def _env_json(tree: Path) -> dict:
    r = deadline.run(
        [sys.executable, "-m", "benchctl", "env", "--root", str(tree), "--format", "json"],
        timeout=60,
        phase="benchctl env",
        text=True,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@needs_trees
@pytest.mark.parametrize("tree", TREES, ids=lambda p: p.name)
def test_trixie_guest(tree: Path) -> None:
    _check_trixie(tree.name, _env_json(tree))


@needs_trees
@pytest.mark.parametrize("tree", TREES, ids=lambda p: p.name)
def test_trixie_guest_rules_without_kcore(tree: Path, tmp_path: Path) -> None:
    # The same recording without its kcore extract: the answers above come from the kernel
    # log, MIDR, config and command line alone, whatever the linear-map walk observes.
    copy = tmp_path / tree.name
    shutil.copytree(tree, copy, ignore=shutil.ignore_patterns("kcore.extract.gz"))
    fp = _env_json(copy)
    assert fp["linear_map"]["source"] != "kcore"
    _check_trixie(tree.name, fp)


def _check_trixie(name: str, fp: dict) -> None:
    cpu = fp["cpu"]
    assert fp["host"]["emulation"]["emulated"] is True, fp["host"]["emulation"]
    assert cpu["midr_is_silicon"] is False
    want = _expect(name)
    if want is None:
        pytest.skip(f"no expectation for a tree named {name}")
    assert cpu["bbml2_dmesg"] is want["dmesg"], fp["sources"].get("cpu.bbml2_dmesg")
    assert cpu["bbml2_noabort"] is want["bbml2"]
    assert cpu["bbml2_allow_list"] == want["list"]
    assert f"allow-list of {want['list']}" in fp["sources"]["cpu.bbml2_noabort"]
    assert fp["linear_map"]["expected"] == want["expected"], fp["linear_map"]["expected_reason"]
    assert not [w for w in fp["warnings"] if "repainted" in w or "BBML2" in w or "allow-list" in w], fp["warnings"]
    rodata = [w for w in fp["warnings"] if "rodata" in w]
    assert len(rodata) <= 1, rodata  # a rejected rodata=full is reported once
    if "noalias" in name:  # Debian's CONFIG_KFENCE_SAMPLE_INTERVAL=0 keeps PTEs on an untrusted CPU
        assert fp["rodata"]["effective"] == "noalias"
        assert "KFENCE late init" in fp["linear_map"]["expected_reason"]
    if "rodatafull" in name:
        assert fp["rodata"]["requested"] == "full" and fp["rodata"]["effective"] == "full"
        assert len(rodata) == 1 and "effective: full" in rodata[0]
