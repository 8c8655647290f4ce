"""MIDR_EL1 decoding and the BBML2_NOABORT allow-list of each kernel release.

Whether an arm64 kernel (v6.18+) keeps block mappings in the linear map under
rodata=full is decided by a MIDR allow-list alone (ID_AA64MMFR2_EL1.BBM is
ignored until the BBML3 rework), and only if every early CPU matches
(MATCH_ALL_EARLY_CPUS). The list differs by release (6.17 trusts no
AmpereOne), so the prediction is made from the MIDR of every CPU against the
list of the kernel that runs, exactly as arch/arm64/kernel/cpufeature.c
`supports_bbml2_noabort_list[]` does; see ../shared/domain.md and
reference/kernel.md section 1.2.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from benchctl.env.arm64.expected import Release

ARCH_FIELD = 0xF  # MIDR architecture field for "defined by ID registers"; cpuinfo shows it as 8


@dataclass(frozen=True)
class Midr:
    """One MIDR_EL1 value (lower 32 bits); fields per the Arm ARM."""

    value: int

    @property
    def implementer(self) -> int:
        return (self.value >> 24) & 0xFF

    @property
    def variant(self) -> int:
        return (self.value >> 20) & 0xF

    @property
    def architecture(self) -> int:
        return (self.value >> 16) & 0xF

    @property
    def part(self) -> int:
        return (self.value >> 4) & 0xFFF

    @property
    def revision(self) -> int:
        return self.value & 0xF

    @property
    def rev_str(self) -> str:
        return f"r{self.variant}p{self.revision}"

    @property
    def hex(self) -> str:
        return f"0x{self.value:08x}"

    @property
    def name(self) -> str:
        known = PART_NAMES.get((self.implementer, self.part))
        if known:
            return f"{known} {self.rev_str}"
        return f"implementer 0x{self.implementer:02x} part 0x{self.part:03x} {self.rev_str}"

    @classmethod
    def from_fields(
        cls, implementer: int, variant: int, part: int, revision: int, architecture: int = ARCH_FIELD
    ) -> Midr:
        return cls((implementer << 24) | (variant << 20) | (architecture << 16) | (part << 4) | revision)


def parse_midr(text: str) -> Midr:
    """Parse sysfs regs/identification/midr_el1 ("0x00000000414fd0c1"); ValueError if not hex."""
    value = int(text.strip(), 16)
    if value < 0 or value >> 64:
        raise ValueError(f"MIDR out of range: {text!r}")
    return Midr(value & 0xFFFFFFFF)


_CPUINFO_FIELD = re.compile(r"^(processor|CPU implementer|CPU variant|CPU part|CPU revision)\s*:\s*(\S+)", re.MULTILINE)


def midrs_from_cpuinfo(text: str) -> dict[int, Midr]:
    """MIDR per CPU number from /proc/cpuinfo's CPU implementer/variant/part/revision lines.

    cpuinfo prints "CPU architecture: 8" for the 0xF architecture field, so it
    is not read; the field is rebuilt as 0xF like the kernel's MIDR_CPU_MODEL.
    """
    out: dict[int, Midr] = {}
    cpu: int | None = None
    fields: dict[str, int] = {}

    def flush() -> None:
        if cpu is not None and len(fields) == 4:
            out[cpu] = Midr.from_fields(
                fields["CPU implementer"], fields["CPU variant"], fields["CPU part"], fields["CPU revision"]
            )

    for key, value in _CPUINFO_FIELD.findall(text):
        if key == "processor":
            flush()
            cpu, fields = int(value), {}
        else:
            fields[key] = int(value, 0)
    flush()
    return out


@dataclass(frozen=True)
class AllowEntry:
    """MIDR_RANGE(model, v_min, r_min, v_max, r_max): model equal, (variant,revision) within range."""

    implementer: int
    part: int
    rv_min: tuple[int, int]
    rv_max: tuple[int, int]
    name: str

    def matches(self, midr: Midr) -> bool:
        if (midr.implementer, midr.architecture, midr.part) != (self.implementer, ARCH_FIELD, self.part):
            return False
        return self.rv_min <= (midr.variant, midr.revision) <= self.rv_max


PART_NAMES: dict[tuple[int, int], str] = {
    (0x41, 0xD0B): "Cortex-A76",
    (0x41, 0xD0C): "Neoverse N1",
    (0x41, 0xD40): "Neoverse V1",
    (0x41, 0xD49): "Neoverse N2",
    (0x41, 0xD4F): "Neoverse V2",
    (0x41, 0xD82): "Cortex-X4",
    (0x41, 0xD83): "Neoverse V3AE",
    (0x41, 0xD84): "Neoverse V3",
    (0xC0, 0xAC3): "AmpereOne",
    (0xC0, 0xAC4): "AmpereOne A",
    (0x4E, 0x010): "NVIDIA Olympus",
    (0x41, 0xD4D): "Cortex-A715",
    (0x41, 0xD87): "Cortex-A725",
    (0x41, 0xD88): "Cortex-A520AE",
    (0x41, 0xD89): "Cortex-A720AE",
    (0x41, 0xD8A): "C1-Nano",
    (0x41, 0xD8B): "C1-Pro",
    (0x41, 0xD8C): "C1-Ultra",
    (0x41, 0xD8E): "Neoverse N3",
    (0x41, 0xD90): "C1-Premium",
}


# The .desc of ARM64_HAS_BBML2_NOABORT, printed as "CPU features: detected: <desc>"
# once every early CPU matched. v8 of "arm64: Add BBM Level 2 cpu feature"
# (5aa4b625762e, merged for 6.17; reference/kernel.md 1.1) restored the .desc
# with "TLB"; v3-v6 said "without conflict abort" and were never released, but a
# kernel built from them prints that, so both are recognised. 6.18.15 prints the
# TLB wording (reference/arm64-6.18-bbml2.md). The BBML3 rename (94104e3cfa80,
# linux-next for 7.3) describes the capability as "BBM Level 3".
BBML2_DESC = "BBM Level 2 without TLB conflict abort"
BBML3_DESC = "BBM Level 3"
_BBML_DETECTED = re.compile(
    r"CPU features: detected: (BBM Level 2 without (?:TLB )?conflict abort|BBM Level 3\b[^\n]*|BBML3\b[^\n]*)",
    re.IGNORECASE,
)
_BOOT_START = re.compile(r"Booting Linux on physical CPU|Linux version \S+")


def dmesg_bbml2(text: str) -> tuple[bool | None, str]:
    """(detected?, why) from kernel log text.

    The line is printed once at boot, so its absence means "not detected" only
    if the log still holds the start of boot; otherwise the answer is unknown.
    """
    m = _BBML_DETECTED.search(text)
    if m:
        return True, m.group(0).strip()
    if _BOOT_START.search(text):
        return False, f"boot log present, no 'CPU features: detected: {BBML2_DESC}' (or BBML3) line"
    return None, "kernel log no longer holds the boot messages (ring buffer wrapped)"


@dataclass(frozen=True)
class AllowList:
    """supports_bbml2_noabort_list[] (supports_bbml3_list[] from 7.3) as releases from `since` have it.

    id_register: the kernel also trusts ID_AA64MMFR2_EL1.BBM >= 3, a field
    hidden from user space, so a CPU off the list may still qualify; only the
    kernel log can tell then.
    """

    since: tuple[int, int]
    entries: tuple[AllowEntry, ...]
    source: str
    desc: str = BBML2_DESC
    id_register: bool = False

    def trusts(self, midrs: Iterable[Midr]) -> bool | None:
        """True only if every CPU is on the list; None when no MIDR is known."""
        midrs = list(midrs)
        if not midrs:
            return None
        return all(any(e.matches(m) for e in self.entries) for m in midrs)

    def label(self, rel: Release) -> str:
        """The release whose list this is, as the fingerprint names it ("6.17")."""
        if not self.entries:
            return f"{rel.major}.{rel.minor}"
        return f"{self.since[0]}.{self.since[1]}"

    def describe(self, rel: Release) -> str:
        """ "allow-list of 6.18 (unchanged in 6.19)": which list, and how it relates to the kernel."""
        kernel = f"{rel.major}.{rel.minor}"
        if not self.entries:
            return f"allow-list of {kernel} (none: BBML2_NOABORT arrived in 6.17)"
        text = f"allow-list of {self.label(rel)}"
        if rel.mm == self.since:
            return text
        newest = self is ALLOW_LISTS[-1]
        return text + (f" (newest known; kernel {kernel} may list more)" if newest else f" (unchanged in {kernel})")


def _arm(part: int, name: str, rv_min: tuple[int, int] = (0, 0), rv_max: tuple[int, int] = (0xF, 0xF)) -> AllowEntry:
    return AllowEntry(0x41, part, rv_min, rv_max, name)


# MIDR_REV_RANGE(m, v, r_min, r_max) fixes the variant: Cortex-X4 matches r0p3..r0p15
# only, exactly as the kernel compares; MIDR_ALL_VERSIONS is (0,0)..(15,15).
_LIST_617 = (
    _arm(0xD82, "Cortex-X4", (0, 3), (0, 0xF)),
    _arm(0xD84, "Neoverse-V3", (0, 2), (0, 0xF)),
)
_LIST_618 = (
    *_LIST_617,
    _arm(0xD83, "Neoverse-V3AE", (0, 2), (0, 0xF)),
    AllowEntry(0xC0, 0xAC3, (0, 0), (0xF, 0xF), "AmpereOne"),
    AllowEntry(0xC0, 0xAC4, (0, 0), (0xF, 0xF), "AmpereOne A"),
    AllowEntry(0x4E, 0x010, (0, 0), (0xF, 0xF), "NVIDIA Olympus"),
)
_LIST_73 = (
    *_LIST_618,
    _arm(0xD88, "Cortex-A520AE"),
    _arm(0xD4D, "Cortex-A715"),
    _arm(0xD89, "Cortex-A720AE"),
    _arm(0xD87, "Cortex-A725"),
    _arm(0xD8E, "Neoverse N3"),
    _arm(0xD8A, "C1-Nano"),
    _arm(0xD8B, "C1-Pro"),
    _arm(0xD8C, "C1-Ultra", (1, 1)),  # MIDR_RANGE(.., 1, 1, 0xf, 0xf): erratum 3683289 before r1p1
    _arm(0xD90, "C1-Premium", (1, 1)),
)

# Oldest first; a kernel uses the last list whose `since` it has reached.
ALLOW_LISTS: tuple[AllowList, ...] = (
    AllowList((0, 0), (), "no ARM64_HAS_BBML2_NOABORT before 6.17 (5aa4b625762e entered in the 6.17 merge window)"),
    # Mikolaj Lenczewski, "arm64: Add BBM Level 2 cpu feature" v8 (5aa4b625762e): X4 r0p3+,
    # V3 r0p2+ only (the list in every posted version; reference/kernel.md 1.2). Recorded:
    # Debian 6.17.13 prints the TLB wording for V3 r0p2 and nothing for AmpereOne
    # (tests/fixtures/arm64-trixie/v3r0p2-6.17, ampereone-6.17).
    AllowList((6, 17), _LIST_617, "cpufeature.c of 6.17 (5aa4b625762e)"),
    # v6.18-rc1 arm64 pull: AmpereOne/AmpereOne A 13efe932d2fc, Neoverse-V3AE 8fca3852e33d,
    # NVIDIA Olympus cc80537caaa7; unchanged through 7.2 as far as found (reference/kernel.md 1.2).
    AllowList((6, 18), _LIST_618, "cpufeature.c of 6.18 (13efe932d2fc, 8fca3852e33d, cc80537caaa7)"),
    # linux-next for 7.3 (next-20260807): 94104e3cfa80 renames the capability BBML3,
    # 879aca5119cd adds MMFR2.BBM >= 3, a7ac60414475 extends the list. Entries as quoted by
    # secondary write-ups of supports_bbml3_list[]; not checked against a released 7.3.
    AllowList(
        (7, 3),
        _LIST_73,
        "supports_bbml3_list[] of linux-next for 7.3 (a7ac60414475; not checked in a release)",
        desc=BBML3_DESC,
        id_register=True,
    ),
)

# The 6.18 list, the one the block-mapping series shipped with (model/ uses it).
BBML2_NOABORT_ALLOW_LIST: tuple[AllowEntry, ...] = _LIST_618
_SERIES_LIST = ALLOW_LISTS[2]


def allow_list_for(rel: Release | None) -> AllowList | None:
    """The allow-list of kernel `rel`; None when the release is unknown (then so is the list)."""
    if rel is None:
        return None
    return [a for a in ALLOW_LISTS if a.since <= rel.mm][-1]


def is_bbml2_noabort(midr: Midr, allow: AllowList | None = None) -> bool:
    """Is this one CPU on `allow` (default: the 6.18 list)?"""
    return bool((allow or _SERIES_LIST).trusts([midr]))


def all_bbml2_noabort(midrs: Iterable[Midr], allow: AllowList | None = None) -> bool | None:
    """True only if every CPU is on `allow` (default: the 6.18 list); None when no MIDR is known."""
    return (allow or _SERIES_LIST).trusts(midrs)
