"""From perf stat rows to benchctl metrics: totals over CPUs and intervals, raw counters, TLB-walk MPKI.

Pure functions over the rows every perf format parses into
(ParseResult.info["events"]): the same arithmetic whether the rows came from
`perf stat -x,` during a run or from an imported file.
"""

from __future__ import annotations

from benchctl.parsers import Measurement
from benchctl.parsers.perf_events import GENERIC_METRICS, canonical_event

MPKI = (("kernel_dtlb_walk_mpki", ("dtlb_walk_k",)), ("kernel_tlb_walk_mpki", ("dtlb_walk_k", "itlb_walk_k")))


def totals(events: list[dict]) -> dict[str, dict]:
    """Per event: the sum of counted values over CPUs/sockets/intervals, its status and min pct_running.

    status is "counted" when every row counted, "partial" when some did,
    else the rows' own status (not-supported wins over not-counted).
    """
    out: dict[str, dict] = {}
    for r in events:
        t = out.setdefault(
            r["event"],
            {
                "value": None,
                "unit": r["unit"],
                "rows": 0,
                "counted_rows": 0,
                "statuses": set(),
                "pct_running_min": None,
            },
        )
        t["rows"] += 1
        t["statuses"].add(r["status"])
        if r["status"] == "counted":
            t["counted_rows"] += 1
            t["value"] = (t["value"] or 0.0) + r["value"]
            p = r["pct_running"]
            if p is not None:
                t["pct_running_min"] = p if t["pct_running_min"] is None else min(t["pct_running_min"], p)
        if not t["unit"] and r["unit"]:
            t["unit"] = r["unit"]
    for t in out.values():
        st = t.pop("statuses")
        if st == {"counted"}:
            t["status"] = "counted"
        elif "counted" in st:
            t["status"] = "partial"
        elif "not-supported" in st:
            t["status"] = "not-supported"
        else:
            t["status"] = "not-counted"
    return out


def _by_metric(
    tot: dict[str, dict], mapping: dict[str, str], warn: list[str]
) -> dict[str, dict[str, tuple[str, dict]]]:
    """metric -> {canonical counter -> (event name, total)}; one counter under two spellings counts once."""
    canon_map = {canonical_event(k): v for k, v in mapping.items()}
    per_metric: dict[str, dict[str, tuple[str, dict]]] = {}
    for ev, t in tot.items():
        c = canonical_event(ev)
        metric = canon_map.get(c)
        if metric is None:
            continue
        slot = per_metric.setdefault(metric, {})
        if c in slot:
            warn.append(f"{ev} and {slot[c][0]} are the same counter; counted once")
            continue
        slot[c] = (ev, t)
    return per_metric


def _raw_counter(metric: str, slot: dict[str, tuple[str, dict]], warn: list[str]) -> Measurement | None:
    """One raw-counter metric: the sum of its distinct counters, None when one was not counted."""
    generic = {canonical_event(k) for k in GENERIC_METRICS}
    specific = {c: v for c, v in slot.items() if c not in generic}
    if specific and len(specific) < len(slot):
        dropped = [v[0] for c, v in slot.items() if c in generic]
        warn.append(
            f"{metric}: using {', '.join(v[0] for v in specific.values())} rather than the generic "
            f"{', '.join(dropped)} (same counter)"
        )
        slot = specific
    bad = [ev for ev, t in slot.values() if t["status"] not in ("counted", "partial")]
    if bad:
        warn.append(f"{metric}: {', '.join(bad)} not counted or not supported; no {metric} record")
        return None
    pcts = [t["pct_running_min"] for _, t in slot.values() if t["pct_running_min"] is not None]
    note: dict = {"events": [ev for ev, _ in slot.values()]}
    if pcts and min(pcts) < 100.0:
        note["multiplexed_pct"] = min(pcts)
    if any(t["status"] == "partial" for _, t in slot.values()):
        note["partial"] = True
    return Measurement(metric, sum(t["value"] for _, t in slot.values()), "count", note)


def _mpki(counted: dict[str, Measurement], seen: set[str], warn: list[str]) -> list[Measurement]:
    """MPKI = 1000 * sum(walks) / sum(instructions), only when every needed counter was counted."""
    out = []
    for ratio, nums in MPKI:
        needed = nums + ("inst_retired_k",)
        if not all(n in counted for n in needed):
            if any(n in seen for n in needed):
                missing = [n for n in needed if n not in counted]
                warn.append(f"{ratio}: missing {', '.join(missing)}; not computed")
            continue
        inst = counted["inst_retired_k"].value
        if inst <= 0:
            warn.append(f"{ratio}: zero kernel instructions counted; not computed")
            continue
        value = 1000.0 * sum(counted[n].value for n in nums) / inst
        pcts = [counted[n].note["multiplexed_pct"] for n in needed if "multiplexed_pct" in counted[n].note]
        note: dict = {"numerators": list(nums), "denominator": "inst_retired_k"}
        if pcts:
            note["multiplexed_pct"] = min(pcts)
        if any(counted[n].note.get("partial") for n in needed):
            note["partial"] = True
        out.append(Measurement(ratio, value, "MPKI", note))
    return out


def perf_counts_to_measurements(
    events: list[dict], mapping: dict[str, str], warnings: list[str] | None = None
) -> list[Measurement]:
    """benchctl raw-counter metrics and kernel TLB-walk MPKI from perf rows.

    events: rows as in ParseResult.info["events"]; mapping: event name ->
    metric (any spelling; see benchctl.parsers.perf_events.canonical_event). Counts
    are summed over CPUs, sockets and intervals; distinct counters mapped to
    one metric are summed (x86 dTLB load + store walks), the same counter
    under two spellings is counted once. MPKI = 1000 * sum(walks) /
    sum(instructions) (a ratio of sums, domain.md), only when every needed
    counter was counted; the note carries the lowest pct_running below 100.
    """
    warn = warnings if warnings is not None else []
    per_metric = _by_metric(totals(events), mapping, warn)
    out: list[Measurement] = []
    for metric, slot in per_metric.items():
        m = _raw_counter(metric, slot, warn)
        if m is not None:
            out.append(m)
    return out + _mpki({m.metric: m for m in out}, set(per_metric), warn)
