"""Design checks that can make a verdict meaningless, run before any number.

Each returns plain warning strings. They look only at per-boot metadata
(tidy.BootMeta), so they work the same on run folders and CSV (where most
metadata is absent and the checks say what they could not check).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

from benchctl.results.table import BootMeta

CONFOUND_PREFIX = "release confound:"

CONSISTENCY_FIELDS = [
    ("kernel_release", "kernel"),
    ("kernel_cmdline", "kernel command line"),
    ("governor", "cpufreq governor"),
    ("thp_enabled", "THP setting"),
    ("linear_map_before", "linear-map state"),
]


def _boots_of(boots: list[BootMeta], arm: str) -> list[BootMeta]:
    return [b for b in boots if b.arm == arm]


def linear_map(boots: list[BootMeta], baseline: str, candidate: str) -> list[str]:
    """The arms must differ in linear-map state, or the change is not under test."""
    out = []
    states = {}
    for arm in (baseline, candidate):
        s = {b.linear_map_before for b in _boots_of(boots, arm) if b.linear_map_before}
        states[arm] = s
    known = [a for a in states if states[a] and states[a] != {"unknown"}]
    if len(known) < 2:
        missing = [a for a in (baseline, candidate) if a not in known]
        if any(_boots_of(boots, a) and _boots_of(boots, a)[0].source != "csv" for a in missing):
            out.append(
                f"linear-map state unknown for arm(s) {', '.join(missing)}: cannot check that "
                "the arms differ in the mapping under test"
            )
        return out
    if states[baseline] == states[candidate] and len(states[baseline]) == 1:
        state = next(iter(states[baseline]))
        out.append(
            f"both arms have the linear map in state '{state}': the comparison does not test "
            "the change (a BBML2 block mapping vs PTEs)"
        )
    if states[baseline] == {"block"} and states[candidate] == {"pte"}:
        out.append(
            f"arms swapped: the baseline {baseline} is block-mapped and the candidate {candidate} "
            "PTE-mapped, so every change reads reversed (the series takes PTEs to blocks); "
            f"give --baseline {candidate} --candidate {baseline}"
        )
    for arm in (baseline, candidate):
        for b in _boots_of(boots, arm):
            if b.linear_map_before and b.linear_map_after and b.linear_map_before != b.linear_map_after:
                out.append(
                    f"{arm}: linear map changed during run {b.run} ({b.linear_map_before} -> "
                    f"{b.linear_map_after}); splits never re-merge"
                )
    return out


def consistency(boots: list[BootMeta], arms: list[str]) -> list[str]:
    """Boots of one arm must agree on everything but chance."""
    out = []
    for arm in arms:
        bs = _boots_of(boots, arm)
        for attr, label in CONSISTENCY_FIELDS:
            vals = defaultdict(set)
            for b in bs:
                v = getattr(b, attr)
                if v is not None:
                    vals[v].add(b.boot)
            if len(vals) > 1:
                shown = "; ".join(
                    f"{v!s:.40} ({len(ids)} boot{'s' if len(ids) > 1 else ''})"
                    for v, ids in sorted(vals.items(), key=lambda kv: -len(kv[1]))
                )
                out.append(f"{arm}: boots disagree on the {label}: {shown}")
    return out


def taint(boots: list[BootMeta], arms: list[str]) -> list[str]:
    """Kernel BUG/WARNING lines during a run (e.g. the v6.18-rc1..rc5 sleeping-in-atomic bug)."""
    out = []
    for arm in arms:
        bs = _boots_of(boots, arm)
        bad = [b for b in bs if b.tainted]
        if bad:
            first = next((b.taint_lines[0] for b in bad if b.taint_lines), "tainted flag set in run.json")
            runs = ", ".join(b.run for b in bad[:3]) + (" ..." if len(bad) > 3 else "")
            out.append(
                f"{arm}: {len(bad)} of {len(bs)} runs tainted by kernel messages (first: {first[:100]}); runs: {runs}"
            )
    return out


def interleaving(boots: list[BootMeta], baseline: str, candidate: str) -> list[str]:
    """All-A-then-all-B confounds the change with anything that drifts in time."""
    starts: dict[tuple[str, str], float] = {}
    for b in boots:
        if b.arm in (baseline, candidate) and b.started is not None:
            key = (b.arm, b.boot)
            starts[key] = min(starts.get(key, b.started), b.started)
    arms_seen = {a for a, _ in starts}
    if arms_seen != {baseline, candidate}:
        if boots:
            return ["boot order unknown (no start times): cannot check that the arms were interleaved"]
        return []
    order = [a for (a, _), _t in sorted(starts.items(), key=lambda kv: kv[1])]
    switches = sum(1 for x, y in pairwise(order) if x != y)
    n_a, n_b = order.count(baseline), order.count(candidate)
    if switches == 1 and n_a >= 2 and n_b >= 2:
        return [
            f"boot order not interleaved: all {order[0]} boots ran before all {order[-1]} boots; "
            "a drift over time is indistinguishable from the change (alternate ABAB or ABBA)"
        ]
    return []


def shared_boots(boots: list[BootMeta]) -> set[str]:
    """Boot ids that appear in more than one arm (run folders only: CSVs may number boots per arm)."""
    arms_of: dict[str, set[str]] = defaultdict(set)
    for b in boots:
        if b.source != "csv":
            arms_of[b.boot].add(b.arm)
    return {k for k, v in arms_of.items() if len(v) > 1}


MIN_DUP_BYTES = 64  # shorter raw files (an empty stderr, "0\n") match by chance
MAX_DUP_BYTES = 64 << 20


def raw_files(b: BootMeta) -> Iterator[tuple[Path, int]]:
    """The measured outputs of one run (raw/iter-*/*) that are worth comparing byte for byte, with sizes."""
    raw = Path(b.source) / "raw"
    if b.source == "csv" or not raw.is_dir():
        return
    for f in sorted(raw.glob("iter-*/*")):
        try:
            size = f.stat().st_size
        except OSError:
            continue
        if f.is_file() and MIN_DUP_BYTES <= size <= MAX_DUP_BYTES:
            yield f, size


def duplicate_raw(boots: list[BootMeta]) -> tuple[list[str], set[str]]:
    """Byte-identical measured outputs in two places: (messages, workloads affected).

    Two iterations never write the same bytes (timestamps, counters, latency
    tails differ); identical files mean one output was imported or copied
    more than once, and counting it twice fakes precision.
    """
    groups: dict[tuple[int, str], list[tuple[Path, BootMeta]]] = defaultdict(list)
    by_size: dict[int, list[tuple[Path, BootMeta]]] = defaultdict(list)
    for b in {(b.source, b.workload): b for b in boots}.values():
        for f, size in raw_files(b):
            by_size[size].append((f, b))
    for size, files in by_size.items():
        if len(files) > 1:
            for f, b in files:
                groups[(size, hashlib.sha256(f.read_bytes()).hexdigest())].append((f, b))
    dups = [g for g in groups.values() if len(g) > 1]
    msgs = []
    for g in dups[:2]:
        arms = sorted({b.arm for _, b in g})
        msgs.append(
            f"duplicate data: {len(g)} byte-identical copies of {g[0][0].name} (arm "
            f"{', '.join(arms)}; runs {', '.join(sorted({b.run[-6:] for _, b in g}))})"
        )
    if len(dups) > 2:
        msgs.append(f"duplicate data: {len(dups) - 2} more sets of byte-identical raw outputs")
    return msgs, {b.workload for g in dups for _, b in g}


def identity(boots: list[BootMeta], baseline: str, candidate: str) -> list[str]:
    """One boot cannot be both arms, and a host change between arms confounds the kernel."""
    out = []
    both = sorted(shared_boots(boots))
    if both:
        out.append(
            f"boot(s) {', '.join(x[:12] for x in both[:3])} appear in both arms: "
            "one boot cannot be two kernel configurations (an arm label is wrong, or this is an A/A test)"
        )
    hosts = {arm: {b.host for b in _boots_of(boots, arm)} for arm in (baseline, candidate)}
    if hosts[baseline] and hosts[candidate] and hosts[baseline].isdisjoint(hosts[candidate]):
        out.append(
            f"the arms ran on different hosts ({', '.join(sorted(hosts[baseline]))} vs "
            f"{', '.join(sorted(hosts[candidate]))}): the machine is confounded with the kernel"
        )
    return out


def releases(boots: list[BootMeta], baseline: str, candidate: str) -> list[str]:
    """Arms on different kernel releases compare every change between them, not just the one
    under review: a before/after design is confounded by construction, and the report says so
    (a same-kernel design, where the arms differ by the CPU identity or a parameter, is not)."""
    rel = {
        arm: sorted({b.kernel_release for b in _boots_of(boots, arm) if b.kernel_release})
        for arm in (baseline, candidate)
    }
    if not rel[baseline] or not rel[candidate] or set(rel[baseline]) & set(rel[candidate]):
        return []
    return [
        f"{CONFOUND_PREFIX} the arms run different kernels, so this compares everything between the "
        f"releases, not only the change ({baseline}: {', '.join(rel[baseline])}; {candidate}: "
        f"{', '.join(rel[candidate])}); a same-kernel design isolates it"
    ]


def boot_method(boots: list[BootMeta], baseline: str, candidate: str) -> list[str]:
    """How a boot was started must not differ between the arms: a cold boot under qemu had ~1 MiB
    less MemTotal than any kexec'd boot of the same kernel (qemu hands the kernel a 1 MiB device
    tree, kexec-tools a few kB), which is a quarter of the effect boot-memory measures there.
    Known only for boots a campaign made (its boot.json records); silent when nothing is known."""
    per_arm: dict[str, dict[str, set[str]]] = {}
    for arm in (baseline, candidate):
        methods: dict[str, set[str]] = defaultdict(set)
        for b in _boots_of(boots, arm):
            methods[b.boot_method or "unknown"].add(b.boot)
        per_arm[arm] = methods
    if all(set(m) <= {"unknown"} for m in per_arm.values()):
        return []

    def shown(arm: str) -> str:
        return ", ".join(f"{m} {len(ids)}" for m, ids in sorted(per_arm[arm].items()))

    mixed = [a for a in per_arm if len(per_arm[a]) > 1]
    if set(per_arm[baseline]) != set(per_arm[candidate]) or mixed:
        return [
            f"boot method differs between boots ({baseline}: {shown(baseline)}; {candidate}: {shown(candidate)}): "
            "a cold boot and a kexec'd one differ by more than the arm (e.g. the device tree's size in "
            "MemTotal); compare like with like (drop the odd boots or balance them across arms)"
        ]
    return []


def all_checks(boots: list[BootMeta], baseline: str, candidate: str) -> list[str]:
    arms = [baseline, candidate]
    return (
        linear_map(boots, baseline, candidate)
        + identity(boots, baseline, candidate)
        + consistency(boots, arms)
        + taint(boots, arms)
        + interleaving(boots, baseline, candidate)
        + boot_method(boots, baseline, candidate)
        + releases(boots, baseline, candidate)
    )
