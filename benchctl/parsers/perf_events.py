"""perf event sets for counting kernel TLB walks, per CPU architecture.

arm64 uses the architected PMUv3 events (Arm ARM D17 / domain.md): raw codes
work on every core, names only where perf ships JSON for that CPU, so the
set benchctl passes is raw codes with the :k (kernel-only) modifier, and the
named and PMU-qualified spellings are accepted when reading outputs made by
hand. x86 has no architected walk event; Intel's
dtlb_{load,store}_misses.walk_completed and itlb_misses.walk_completed are
the analogues (both data events sum to dtlb_walk_k). Without a PMU (VMs,
like this machine) only software events count; the fallback set records
them so a run still has its perf context, and the hardware metrics are
reported missing, never zero.

Events are never grouped with {...}: if a group leader is unsupported perf
aborts the whole run (exit 255).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Architected arm64 PMUv3 event numbers (domain.md).
ARM64_CODES: dict[str, int] = {
    "L1I_TLB_REFILL": 0x02,
    "L1D_TLB_REFILL": 0x05,
    "INST_RETIRED": 0x08,
    "CPU_CYCLES": 0x11,
    "L1D_TLB": 0x25,
    "L2D_TLB_REFILL": 0x2D,
    "DTLB_WALK": 0x34,
    "ITLB_WALK": 0x35,
}

# arm64 event code -> benchctl raw-counter metric (kernel-only counts).
ARM64_METRICS: dict[int, str] = {
    0x34: "dtlb_walk_k",
    0x35: "itlb_walk_k",
    0x05: "l1d_tlb_refill_k",
    0x2D: "l2d_tlb_refill_k",
    0x08: "inst_retired_k",
    0x11: "cycles_k",
    0x02: "l1i_tlb_refill_k",
}

X86_METRICS: dict[str, str] = {
    "dtlb_load_misses.walk_completed:k": "dtlb_walk_k",
    "dtlb_store_misses.walk_completed:k": "dtlb_walk_k",
    "itlb_misses.walk_completed:k": "itlb_walk_k",
    "instructions:k": "inst_retired_k",
    "cycles:k": "cycles_k",
}

# Generic perf names; on arm64 these alias INST_RETIRED / CPU_CYCLES.
GENERIC_METRICS: dict[str, str] = {
    "instructions:k": "inst_retired_k",
    "cycles:k": "cycles_k",
}

SOFTWARE_EVENTS: tuple[str, ...] = ("task-clock", "context-switches", "cpu-migrations", "page-faults")


@dataclass(frozen=True)
class EventSet:
    """The events to pass to `perf stat -e` and how their names map to benchctl metrics."""

    name: str
    events: tuple[str, ...]
    mapping: dict
    description: str

    def perf_args(self) -> list[str]:
        """['-e', 'a,b,c'] (ungrouped)."""
        return ["-e", ",".join(self.events)]

    def only(self, keep: tuple[str, ...] | list[str]) -> EventSet:
        """This set cut down to `keep` ("NAME-partial"), or the software set when nothing is left."""
        if tuple(keep) == self.events:
            return self
        return EventSet(self.name + "-partial", tuple(keep), self.mapping, self.description) if keep else SOFTWARE


ARM64 = EventSet(
    name="arm64-architected",
    events=("r34:k", "r35:k", "r5:k", "r2d:k", "r8:k", "r11:k", "r2:k"),
    mapping={f"r{code:x}:k": metric for code, metric in ARM64_METRICS.items()},
    description="arm64 PMUv3 architected events, kernel only: DTLB_WALK, ITLB_WALK, L1D_TLB_REFILL, "
    "L2D_TLB_REFILL, INST_RETIRED, CPU_CYCLES, L1I_TLB_REFILL",
)

X86 = EventSet(
    name="x86-tlb-walks",
    events=tuple(X86_METRICS),
    mapping=dict(X86_METRICS),
    description="Intel dTLB/iTLB page-walk completions, instructions and cycles, kernel only",
)

SOFTWARE = EventSet(
    name="software",
    events=SOFTWARE_EVENTS,
    mapping={},
    description="software events only (no hardware PMU): no TLB metrics",
)


def event_set(arch: str, pmu_present: bool) -> EventSet:
    """The event set for a host: by `uname -m` and whether a hardware PMU exists."""
    if not pmu_present:
        return SOFTWARE
    if arch in ("aarch64", "arm64"):
        return ARM64
    if arch in ("x86_64", "amd64", "i686", "i386"):
        return X86
    return SOFTWARE


def default_mapping() -> dict[str, str]:
    """Every event spelling benchctl knows -> metric (arm64 raw, named, PMU-qualified; x86; generic)."""
    m: dict[str, str] = {}
    m.update(GENERIC_METRICS)
    m.update(X86_METRICS)
    m.update(ARM64.mapping)
    for name, code in ARM64_CODES.items():
        if code in ARM64_METRICS:
            m[f"{name}:k"] = ARM64_METRICS[code]
    return m


_PMU_FORM = re.compile(r"^(?P<pmu>[\w.-]+)/event=(?P<code>0x[0-9a-f]+|\d+)/(?P<mods>[a-z]*)$")
_RAW = re.compile(r"^r(?P<code>[0-9a-f]+)(?::(?P<mods>[a-z]+))?$")


def canonical_event(name: str) -> str:
    """One spelling per counter, so 'r34:k', 'DTLB_WALK:k' and 'armv8_pmuv3_0/event=0x34/k' compare equal.

    arm64 forms become 'arm:0x34:k'; everything else is lower-cased with
    modifiers kept (x86 names, generic names).
    """
    s = name.strip().lower()
    m = _PMU_FORM.match(s)
    if m and (m.group("pmu").startswith("arm") or m.group("pmu").startswith("apple")):
        code = int(m.group("code"), 0)
        return f"arm:{code:#x}:{m.group('mods')}" if m.group("mods") else f"arm:{code:#x}"
    m = _RAW.match(s)
    if m:
        code = int(m.group("code"), 16)
        return f"arm:{code:#x}:{m.group('mods')}" if m.group("mods") else f"arm:{code:#x}"
    base, _, mods = s.partition(":")
    named = ARM64_CODES.get(base.upper())
    if named is not None:
        return f"arm:{named:#x}:{mods}" if mods else f"arm:{named:#x}"
    return s
