"""MIDR_EL1 decoding and the BBML2_NOABORT allow-list.

Whether an arm64 kernel (v6.18+) keeps block mappings in the linear map under
rodata=full is decided by a MIDR allow-list alone (ID_AA64MMFR2_EL1.BBM is
ignored), and only if every early CPU matches (MATCH_ALL_EARLY_CPUS). So the
prediction must be made from the MIDR of every CPU, exactly as
arch/arm64/kernel/cpufeature.c `supports_bbml2_noabort_list[]` does; see
../shared/domain.md and reference/kernel.md section 1.2.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

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
    def from_fields(cls, implementer: int, variant: int, part: int, revision: int,
                    architecture: int = ARCH_FIELD) -> "Midr":
        return cls((implementer << 24) | (variant << 20) | (architecture << 16) | (part << 4) | revision)


def parse_midr(text: str) -> Midr:
    """Parse sysfs regs/identification/midr_el1 ("0x00000000414fd0c1"); ValueError if not hex."""
    value = int(text.strip(), 16)
    if value < 0 or value >> 64:
        raise ValueError(f"MIDR out of range: {text!r}")
    return Midr(value & 0xFFFFFFFF)


_CPUINFO_FIELD = re.compile(r"^(processor|CPU implementer|CPU variant|CPU part|CPU revision)\s*:\s*(\S+)",
                            re.MULTILINE)


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
            out[cpu] = Midr.from_fields(fields["CPU implementer"], fields["CPU variant"],
                                        fields["CPU part"], fields["CPU revision"])

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


# supports_bbml2_noabort_list[] as merged for v6.18. MIDR_REV_RANGE(m, v, r_min, r_max)
# fixes the variant: Cortex-X4 matches r0p3..r0p15 only, exactly as the kernel compares.
BBML2_NOABORT_ALLOW_LIST: tuple[AllowEntry, ...] = (
    AllowEntry(0x41, 0xD82, (0, 3), (0, 0xF), "Cortex-X4"),
    AllowEntry(0x41, 0xD84, (0, 2), (0, 0xF), "Neoverse-V3"),
    AllowEntry(0x41, 0xD83, (0, 2), (0, 0xF), "Neoverse-V3AE"),
    AllowEntry(0xC0, 0xAC3, (0, 0), (0xF, 0xF), "AmpereOne"),
    AllowEntry(0xC0, 0xAC4, (0, 0), (0xF, 0xF), "AmpereOne A"),
    AllowEntry(0x4E, 0x010, (0, 0), (0xF, 0xF), "NVIDIA Olympus"),
)

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
}


def is_bbml2_noabort(midr: Midr) -> bool:
    return any(entry.matches(midr) for entry in BBML2_NOABORT_ALLOW_LIST)


def all_bbml2_noabort(midrs: Iterable[Midr]) -> bool | None:
    """True only if every CPU is on the allow-list; None when no MIDR is known."""
    midrs = list(midrs)
    if not midrs:
        return None
    return all(is_bbml2_noabort(m) for m in midrs)


# arch/arm64/kernel/cpufeature.c prints "CPU features: detected: <desc>"; the later
# rename (linux-next, for v7.3) may word it as BBML3 / "BBM Level 3".
_BBML_DETECTED = re.compile(
    r"CPU features: detected: (BBM Level 2 without conflict abort|BBM Level 3\b[^\n]*|BBML3\b[^\n]*)",
    re.IGNORECASE)
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
        return False, "boot log present, no BBML2/BBML3 'detected' line"
    return None, "kernel log no longer holds the boot messages (ring buffer wrapped)"
