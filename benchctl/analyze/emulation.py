"""Timings from an emulated CPU get no verdict; memory quantities do.

Under qemu TCG every guest instruction is translated and run by qemu on
the host: a change in ops/s, a P99 latency, IOPS, a bandwidth or a PMU
count (MPKI) then measures how qemu's translator, its soft TLB and the
host handle the two kernels, not what the kernel change does on silicon.
A verdict on such a number would be a verdict on qemu. The kernel's own
accounting of memory is another matter: MemTotal counts the pages
memblock handed to the page allocator, MemFree the pages still free, and
the same kernel on the same (emulated) machine makes the same decisions
about them, so they are judged as usual.

Which metric is which comes from the metric catalogue
(benchctl/results/metrics.py), by unit: a size or a fraction of memory
is a memory quantity; everything else (rates, times, throughput, PMU
counts and the ratios built from them) is a timing. A metric outside the
catalogue is classified by the unit its data carries, and one with no
recognised memory unit counts as a timing: under emulation a verdict
needs evidence that the number is not one.

Whether a boot was emulated comes from its fingerprint (env-before.json
`host.emulation`, benchctl/env/probes/emulation.py), carried per boot
in BootMeta. A CSV has no fingerprint: nothing is known, nothing said.
"""

from __future__ import annotations

from benchctl.analyze.resulttypes import Comparison, Emulated, sides
from benchctl.results.metrics import CATALOGUE
from benchctl.results.table import BootMeta

# Units of quantities the kernel counts in memory (results/metrics.py, docs/result-format.md).
MEMORY_UNITS = frozenset({"B", "bytes", "kB", "KiB", "MB", "MiB", "GB", "GiB", "pages", "fraction"})
CHECK_PREFIX = "emulated CPU"
WHY = "a timing from an emulated CPU measures the emulator, not the change"


def is_timing(metric: str, unit: str = "") -> bool:
    """Whether a metric is a timing (rate, latency, throughput, PMU count), by its catalogue unit.

    The data's unit decides only for a metric the catalogue does not know.
    """
    known = CATALOGUE.get(metric)
    return (known.unit if known else unit) not in MEMORY_UNITS


def emulated_boots(boots: list[BootMeta]) -> dict[tuple[str, str], BootMeta]:
    """(arm, boot id) -> one of its runs, for every boot a fingerprint calls emulated."""
    out: dict[tuple[str, str], BootMeta] = {}
    for b in boots:
        if b.emulated is True:
            out.setdefault((b.arm, b.boot), b)
    return out


def summary(boots: list[BootMeta]) -> Emulated | None:
    """The result's `emulated` field: how many boots ran on an emulated CPU, how, and why.

    None when no fingerprint calls any boot emulated (bare metal, a KVM
    guest, unknown, or a CSV): then nothing changes in the analysis.
    """
    em = emulated_boots(boots)
    if not em:
        return None
    every = {(b.arm, b.boot) for b in boots}
    unknown = {(b.arm, b.boot) for b in boots if b.emulated is None} - set(em)
    hows = sorted({b.emulation_how or "emulated" for b in em.values()})
    first = min(em.values(), key=lambda b: (b.started is None, b.started or 0.0, b.boot))
    return {
        "boots": len(em),
        "of": len(every),
        "unknown": len(unknown),
        "how": ", ".join(hows),
        "reason": first.emulation_reason,
        "not_judged": [],
    }


def reason(em: Emulated) -> str:
    """The not-judged reason of a timing claim on emulated boots."""
    return f"emulated CPU ({em['how']}): {WHY}"


def block(
    comps: dict[tuple[str, str], Comparison], boots: list[BootMeta], em: Emulated | None, arms: tuple[str, str]
) -> None:
    """Put the emulation first among the reasons a timing comparison gets no verdict.

    Only comparisons holding an emulated boot are blocked: a timing of
    silicon stays judged even when another workload ran under qemu. The
    blocked (workload/metric) names go to em["not_judged"].
    """
    if em is None:
        return
    emulated = set(emulated_boots(boots))
    for (workload, metric), comp in sorted(comps.items()):
        if not is_timing(metric, comp.get("unit", "")):
            continue
        mine = {(arm, str(x)) for arm, (_, side) in zip(arms, sides(comp), strict=True) for x in side["boots"]}
        if mine & emulated:
            comp["not_judged"].insert(0, reason(em))
            comp["emulated"] = True
            em["not_judged"].append(f"{workload}/{metric}")


def where(em: Emulated) -> str:
    """'on every boot' or 'on 2 of 4 boots (1 unknown)'."""
    if em["boots"] == em["of"]:
        return "on every boot"
    unknown = f", {em['unknown']} unknown" if em["unknown"] else ""
    return f"on {em['boots']} of {em['of']} boots{unknown}"


def headline(em: Emulated) -> str:
    """The line under a report's header: the host was emulated, and what that means for the claims."""
    return f"emulated CPU ({em['how']}) {where(em)}: timing claims not judged"


def check(em: Emulated) -> str:
    """The design check, listed once before the numbers."""
    why = f" (fingerprint: {em['reason']})" if em.get("reason") else ""
    return (
        f"{CHECK_PREFIX} ({em['how']}) {where(em)}{why}: {WHY}, so claims on rates, latencies, "
        "throughput and PMU counts (MPKI) are not judged (their changes are still shown); "
        "memory quantities the kernel counts (MemTotal, MemFree) are judged as usual"
    )
