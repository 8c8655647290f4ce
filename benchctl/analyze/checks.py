"""Design checks that can make a verdict meaningless, run before any number.

Each returns plain warning strings. They look only at per-boot metadata
(tidy.BootMeta), so they work the same on run folders and CSV (where most
metadata is absent and the checks say what they could not check).
"""

from __future__ import annotations

from collections import defaultdict

from benchctl.results.table import BootMeta

CONSISTENCY_FIELDS = [("kernel_release", "kernel"), ("kernel_cmdline", "kernel command line"),
                      ("governor", "cpufreq governor"), ("thp_enabled", "THP setting"),
                      ("linear_map_before", "linear-map state")]


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
            out.append(f"linear-map state unknown for arm(s) {', '.join(missing)}: cannot check that "
                       "the arms differ in the mapping under test")
        return out
    if states[baseline] == states[candidate] and len(states[baseline]) == 1:
        s = next(iter(states[baseline]))
        out.append(f"both arms have the linear map in state '{s}': the comparison does not test "
                   "the change (a BBML2 block mapping vs PTEs)")
    for arm in (baseline, candidate):
        for b in _boots_of(boots, arm):
            if b.linear_map_before and b.linear_map_after and b.linear_map_before != b.linear_map_after:
                out.append(f"{arm}: linear map changed during run {b.run} ({b.linear_map_before} -> "
                           f"{b.linear_map_after}); splits never re-merge")
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
                shown = "; ".join(f"{v!s:.40} ({len(ids)} boot{'s' if len(ids) > 1 else ''})"
                                  for v, ids in sorted(vals.items(), key=lambda kv: -len(kv[1])))
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
            out.append(f"{arm}: {len(bad)} of {len(bs)} runs tainted by kernel messages "
                       f"(first: {first[:100]}); runs: {runs}")
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
    switches = sum(1 for x, y in zip(order, order[1:]) if x != y)
    n_a, n_b = order.count(baseline), order.count(candidate)
    if switches == 1 and n_a >= 2 and n_b >= 2:
        return [f"boot order not interleaved: all {order[0]} boots ran before all {order[-1]} boots; "
                "a drift over time is indistinguishable from the change (alternate ABAB or ABBA)"]
    return []


def identity(boots: list[BootMeta], baseline: str, candidate: str) -> list[str]:
    """One boot cannot be both arms, and a host change between arms confounds the kernel."""
    out = []
    arms_of: dict[str, set[str]] = defaultdict(set)
    for b in boots:
        if b.source != "csv":   # run folders carry kernel boot ids; CSVs may number boots per arm
            arms_of[b.boot].add(b.arm)
    both = sorted(k for k, v in arms_of.items() if len(v) > 1)
    if both:
        out.append(f"boot(s) {', '.join(x[:12] for x in both[:3])} appear in both arms: "
                   "one boot cannot be two kernel configurations (an arm label is wrong, or this is an A/A test)")
    hosts = {arm: {b.host for b in _boots_of(boots, arm)} for arm in (baseline, candidate)}
    if hosts[baseline] and hosts[candidate] and hosts[baseline].isdisjoint(hosts[candidate]):
        out.append(f"the arms ran on different hosts ({', '.join(sorted(hosts[baseline]))} vs "
                   f"{', '.join(sorted(hosts[candidate]))}): the machine is confounded with the kernel")
    return out


def all_checks(boots: list[BootMeta], baseline: str, candidate: str) -> list[str]:
    arms = [baseline, candidate]
    return (linear_map(boots, baseline, candidate) + identity(boots, baseline, candidate)
            + consistency(boots, arms) + taint(boots, arms) + interleaving(boots, baseline, candidate))
