"""Whether this host's CPU is emulated (qemu TCG), virtualised (KVM, Xen, ...) or unknown.

Under TCG the MIDR is whatever qemu was told (`-cpu neoverse-n1,midr=0xc00fac30`
is an emulated N1 the kernel trusts as an AmpereOne): the BBML2 answers then
describe the kernel's decision, not any silicon, and no timing says anything
about real hardware. So the fingerprint states it as a fact of the host.

Evidence, all under the injected root: the device tree's compatible (qemu's
virt machine is "linux,dummy-virt"), the DMI system vendor, the kernel log
(machine model, the KVM services or hypervisor lines) and, on x86, cpuinfo's
"hypervisor" flag. A qemu machine whose intact boot log has no KVM line is
TCG. What nothing tells stays None, with the reason.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from benchctl.env.arm64.expected import parse_release
from benchctl.env.probes.base import Context, Probe, Unavailable

QEMU_VIRT = "linux,dummy-virt"
DT_COMPATIBLE = ("sys/firmware/devicetree/base/compatible", "proc/device-tree/compatible")
DMI_VENDOR = "sys/class/dmi/id/sys_vendor"

# What a KVM guest prints and a TCG guest does not: arm64 asks the hypervisor for its
# vendor services at boot (drivers/firmware/smccc/kvm_guest.c), x86 names the CPUID
# signature. "kvm [1]: HYP mode not available" is the guest's own KVM finding no EL2:
# recorded TCG guests print it too (tests/fixtures/arm64-env/*.dmesg.txt), so it is no sign.
ARM64_KVM_LINE = "smccc: KVM: hypervisor services detected"
ARM64_KVM_LINE_SINCE = (5, 12)  # drivers/firmware/smccc/kvm_guest.c, with ptp_kvm
_HYPERVISOR_LINES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("KVM", re.compile(r"smccc: KVM: hypervisor services detected[^\n]*")),
    ("KVM", re.compile(r"arm-pv: using stolen time PV[^\n]*")),
    ("Xen", re.compile(r"Xen \d+\.\d+ support found[^\n]*")),
    ("Hyper-V", re.compile(r"Hyper-V: (?:privilege flags|Host Build)[^\n]*")),
)
_X86_DETECTED = re.compile(r"Hypervisor detected: ([^\n]+)")
_MACHINE_MODEL = re.compile(r"Machine model: ([^\n]+)")
_BOOT_START = re.compile(r"Booting Linux on physical CPU|Linux version \S+")


@dataclass(frozen=True)
class Emulation:
    """The answer: emulated True (TCG), False (silicon, maybe virtualised) or None, how, and why."""

    emulated: bool | None
    how: str | None
    reason: str

    def as_dict(self) -> dict[str, bool | str | None]:
        return asdict(self)


@dataclass
class Evidence:
    """What the host shows; each item is the words that showed it, for the reason."""

    qemu: list[str]
    hypervisor: tuple[str, str] | None = None  # (name, the log line)
    boot_log: bool | None = None  # None: no kernel log at all
    hypervisor_flag: bool | None = None  # x86 cpuinfo "hypervisor"; None: not x86 or unread
    x86: bool = False
    kvm_line_printed: bool = True  # False: a kernel too old to print the arm64 KVM line


def classify(ev: Evidence) -> Emulation:
    """The rules: a hypervisor line means silicon under virtualisation; a qemu machine with
    an intact boot log and no such line is TCG; x86 without the hypervisor flag is bare metal."""
    qemu = "; ".join(ev.qemu)
    if ev.hypervisor:
        name, line = ev.hypervisor
        where = f" on a qemu machine ({qemu})" if ev.qemu else ""
        return Emulation(False, name, f"hardware virtualisation{where}: '{line}'")
    kvm_line = "'Hypervisor detected: KVM'" if ev.x86 else f"'{ARM64_KVM_LINE}'"
    if ev.qemu:
        if ev.boot_log and not ev.kvm_line_printed:
            return Emulation(None, "qemu", f"{qemu}, and this kernel predates the {kvm_line} line: KVM or TCG unknown")
        if ev.boot_log:
            return Emulation(True, "qemu TCG", f"qemu, no KVM: TCG (emulated): {qemu}; no {kvm_line} in the boot log")
        why = "no kernel log" if ev.boot_log is None else "the boot log is gone (ring buffer wrapped)"
        return Emulation(None, "qemu", f"{qemu}, but {why}: KVM or TCG unknown")
    if ev.hypervisor_flag:
        return Emulation(None, "hypervisor", "cpuinfo has the 'hypervisor' flag, and nothing names the hypervisor")
    if ev.hypervisor_flag is False:
        return Emulation(False, "bare metal", "no 'hypervisor' flag in cpuinfo (set by qemu, KVM and others)")
    return Emulation(
        None,
        None,
        "nothing tells: no qemu machine and no hypervisor line found"
        + ("" if ev.x86 else "; arm64 has no architectural 'under a hypervisor' flag"),
    )


def midr_is_silicon(em: Emulation) -> tuple[bool | None, str]:
    """Whether cpu.midr names real silicon, and why: under TCG it names what qemu was told."""
    if em.emulated:
        return False, f"{em.how}: the MIDR is what qemu was told (-cpu, midr=), not silicon"
    if em.emulated is False:
        if em.how == "bare metal":
            return True, "bare metal: the MIDR is the CPU's own"
        return True, f"{em.how} guest: the MIDR is normally the host CPU's (a VMM can set another)"
    return None, f"whether the CPU is emulated is unknown ({em.reason})"


class EmulationProbe(Probe):
    """host.emulation and, on arm64, cpu.midr_is_silicon (after the CPU and dmesg probes)."""

    def run(self, ctx: Context) -> None:
        used: list[str] = []
        arch = ctx.get("host.arch")
        ev = Evidence(qemu=self._qemu(ctx, used), x86=arch in ("x86_64", "i686"))
        rel = parse_release(ctx.get("kernel.release"))
        ev.kvm_line_printed = ev.x86 or rel is None or rel.mm >= ARM64_KVM_LINE_SINCE
        log = ctx.scratch.get("dmesg")
        if log is not None:
            used.append(ctx.scratch.get("dmesg_source") or "kernel log")
            ev.boot_log = bool(_BOOT_START.search(log))
            ev.hypervisor = self._hypervisor_line(log)
            m = _MACHINE_MODEL.search(log)
            if m and QEMU_VIRT in m[1]:
                ev.qemu.append(f"kernel log 'Machine model: {m[1].strip()}'")
        if ev.x86:
            ev.hypervisor_flag = self._x86_flag(ctx, used)
        em = classify(ev)
        source = ", ".join(used) if used else "nothing readable (no device tree, DMI, kernel log)"
        ctx.set("host.emulation", em.as_dict(), source)
        if arch != "aarch64":
            ctx.miss("cpu.midr_is_silicon", f"not arm64 (host.arch {arch})" if arch else "architecture unknown")
            return
        silicon, why = midr_is_silicon(em)
        if silicon is None:
            ctx.miss("cpu.midr_is_silicon", why)
        else:
            ctx.set("cpu.midr_is_silicon", silicon, f"host.emulation: {why}")

    def _qemu(self, ctx: Context, used: list[str]) -> list[str]:
        found: list[str] = []
        for rel in DT_COMPATIBLE:
            try:
                names = [n for n in ctx.read(rel).split("\0") if n.strip()]
            except Unavailable:
                continue
            used.append(ctx.shown(rel))
            if QEMU_VIRT in names:
                found.append(f"qemu virt machine (device tree compatible '{QEMU_VIRT}')")
            break
        try:
            vendor = ctx.read(DMI_VENDOR).strip()
        except Unavailable:
            return found
        used.append(ctx.shown(DMI_VENDOR))
        if vendor.upper().startswith("QEMU"):
            found.append(f"DMI system vendor '{vendor}'")
        return found

    def _hypervisor_line(self, log: str) -> tuple[str, str] | None:
        for name, pattern in _HYPERVISOR_LINES:
            m = pattern.search(log)
            if m:
                return name, m[0].strip()
        m = _X86_DETECTED.search(log)
        return (m[1].strip(), m[0].strip()) if m else None

    def _x86_flag(self, ctx: Context, used: list[str]) -> bool | None:
        try:
            cpuinfo = ctx.read("proc/cpuinfo")
        except Unavailable:
            return None
        flags = next((line for line in cpuinfo.splitlines() if line.startswith("flags")), None)
        if flags is None:
            return None
        used.append(ctx.shown("proc/cpuinfo") + " (flags)")
        return "hypervisor" in flags.partition(":")[2].split()
