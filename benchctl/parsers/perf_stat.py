"""perf stat output (perf 6.1): -x CSV with any separator, -j JSON lines, and the human text.

CSV columns, in order (observed; the man page misplaces the variance):

    [interval_ts,] [aggr_id, [n_cpus,]] value, unit, event, [variance%,] run_ns, pct_running,
    [metric_value, metric_unit]

-I left-pads the timestamp; -A gives CPUn; --per-socket/--per-core/--per-die
give S0 / S0-D0-C1 plus a CPU count; -r adds "0.75%" after the event. perf
does not quote fields and event names may hold the separator
(cpu/event=0x3c,umask=0/), so the event is everything between the unit and
the run-time/percentage pair.

The value may be `<not supported>` (no such PMU event) or `<not counted>`
(the event never ran). Those are kept as a status with value None, never as
zero; pct_running < 100 means perf multiplexed the counter and extrapolated
the value. Every row goes to info["events"]; info["totals"] sums each event
over CPUs/sockets/intervals.
"""

from __future__ import annotations

import json
import math
import re

from benchctl.parsers import Measurement, ParseError, ParseResult
from benchctl.parsers.textutil import guarded, is_transcript_line, lines, match_version

NOT_SUPPORTED = "<not supported>"
NOT_COUNTED = "<not counted>"
_STATUS = {NOT_SUPPORTED: "not-supported", NOT_COUNTED: "not-counted"}
_NUM = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$")
_AGGR = re.compile(r"^(CPU\d+|S\d+(-D\d+)?(-C\d+)?(-L\d+-ID\d+)?|N\d+)$")


def _is_num(s: str) -> bool:
    return bool(_NUM.match(s.strip()))


def _is_value(s: str) -> bool:
    s = s.strip()
    return s in _STATUS or _is_num(s)


def _value(s: str) -> tuple[float | None, str]:
    s = s.strip()
    if s in _STATUS:
        return None, _STATUS[s]
    v = float(s)
    if not math.isfinite(v):
        raise ParseError(f"expected a finite perf counter value, got {s!r}")
    return v, "counted"


def _prefix(fields: list[str]) -> tuple[float | None, str | None, int | None, int] | None:
    """(interval, aggregation id, its CPU count, index of the value field), or None.

    The value field is a number or <not ...> and is followed by the unit,
    which is never numeric; an aggregation id (CPU0, S0, S0-D0-C1, N0,
    comm-pid) is anything else, optionally followed by a CPU count.
    """
    n = len(fields)
    for has_ts in (True, False):
        i = 1 if has_ts else 0
        if has_ts and not _is_num(fields[0]):
            continue
        if i + 3 >= n:
            continue
        head = fields[i].strip()
        if _is_value(head) and not _is_value(fields[i + 1]):
            return (float(fields[0].strip()) if has_ts else None), None, None, i
        if not head or _is_value(head):
            continue
        if fields[i + 1].strip().isdecimal() and _is_value(fields[i + 2]) and not _is_value(fields[i + 3]):
            return (float(fields[0].strip()) if has_ts else None), head, int(fields[i + 1].strip()), i + 2
        if _is_value(fields[i + 1]) and not _is_value(fields[i + 2]):
            return (float(fields[0].strip()) if has_ts else None), head, None, i + 1
    return None


def _row(fields: list[str], sep: str) -> dict | None:
    """One CSV row as a dict, or None when the line is not a perf stat row."""
    n = len(fields)
    if n < 5:
        return None
    prefix = _prefix(fields)
    if prefix is None:
        return None
    interval, aggr, cpus, i = prefix
    if i >= n or not _is_value(fields[i]):
        return None
    value, status = _value(fields[i])
    if i + 2 >= n:
        return None
    unit = fields[i + 1].strip()
    rest = fields[i + 2:]
    # find run_ns (integer) followed by pct (number), after at least one event field
    for j in range(1, len(rest) - 1):
        if rest[j].strip().isdecimal() and _is_num(rest[j + 1]):
            ev_fields = rest[:j]
            variance = None
            if len(ev_fields) > 1 and re.fullmatch(r"\s*-?\d+(\.\d*)?%\s*", ev_fields[-1]):
                variance = float(ev_fields[-1].strip().rstrip("%"))
                ev_fields = ev_fields[:-1]
            event = sep.join(ev_fields).strip()
            if not event:
                return None
            tail = rest[j + 2:]
            pct = float(rest[j + 1].strip())
            if not math.isfinite(pct):
                return None
            mv = tail[0].strip() if tail else ""
            row = {
                "event": event, "value": value, "unit": unit, "status": status,
                "run_ns": int(rest[j].strip()), "pct_running": pct, "variance_pct": variance,
                "interval": interval, "aggr": aggr, "aggr_cpus": cpus,
                "metric_value": float(mv) if _is_num(mv) else None,
                "metric_unit": sep.join(tail[1:]).strip() if len(tail) > 1 else "",
            }
            if row["metric_value"] is not None and not math.isfinite(row["metric_value"]):
                row["metric_value"] = None
            return row
    return None


def _separator(text_lines: list[str]) -> str:
    """The -x separator: the candidate that turns most lines into rows."""
    best, best_n = ",", -1
    for sep in (",", ";", "\t", ":", "|"):
        count = sum(1 for ln in text_lines[:200] if _row(ln.split(sep), sep) is not None)
        if count > best_n:
            best, best_n = sep, count
    return best


def totals(events: list[dict]) -> dict[str, dict]:
    """Per event: the sum of counted values over CPUs/sockets/intervals, its status and min pct_running.

    status is "counted" when every row counted, "partial" when some did,
    else the rows' own status (not-supported wins over not-counted).
    """
    out: dict[str, dict] = {}
    for r in events:
        t = out.setdefault(r["event"], {"value": None, "unit": r["unit"], "rows": 0, "counted_rows": 0,
                                        "statuses": set(), "pct_running_min": None})
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


def _result(events: list[dict], res: ParseResult, fmt: str) -> ParseResult:
    if not events:
        raise ParseError("expected perf stat rows (value, unit, event, run time, percentage running)")
    from benchctl.parsers.perf_events import canonical_event, default_mapping

    tot = totals(events)
    mapping = default_mapping()
    known = {canonical_event(k) for k in mapping}
    res.measurements.extend(perf_counts_to_measurements(events, mapping, res.warnings))
    for ev, t in tot.items():
        if t["status"] in ("not-supported", "not-counted"):
            res.warnings.append(f"{ev}: <{t['status'].replace('-', ' ')}> (recorded as missing, not zero)")
            continue
        if t["status"] == "partial":
            res.warnings.append(f"{ev}: counted in {t['counted_rows']} of {t['rows']} rows; the total sums those")
        if canonical_event(ev) in known:
            continue
        note = {"event": ev, "status": t["status"]}
        if t["pct_running_min"] is not None and t["pct_running_min"] < 100.0:
            note["multiplexed_pct"] = t["pct_running_min"]
        res.measurements.append(Measurement(f"perf:{ev}", t["value"], t["unit"] or "count", note))
    intervals = sorted({r["interval"] for r in events if r["interval"] is not None})
    res.info.update({"tool": "perf", "format": fmt, "events": events, "totals": tot,
                     "intervals": len(intervals),
                     "aggregation": sorted({r["aggr"] for r in events if r["aggr"]})})
    return res


def _preamble(line: str, res: ParseResult) -> bool:
    """Handle non-row lines shared by all perf formats; True when consumed."""
    s = line.strip()
    if not s or is_transcript_line(s):
        return True
    m = re.match(r"^# started on (.*)$", s)
    if m:
        res.info["started_on"] = m.group(1)
        return True
    if s.startswith("#"):
        return True
    return False


@guarded
def parse_csv(text: str) -> ParseResult:
    """perf stat -x SEP (stderr or the -o file)."""
    res = ParseResult()
    all_lines = lines(text)
    sep = _separator(all_lines)
    events: list[dict] = []
    errors: list[str] = []
    for ln in all_lines:
        if _preamble(ln, res):
            continue
        row = _row(ln.split(sep), sep)
        if row is not None:
            events.append(row)
            continue
        fields = ln.split(sep)
        if events and len(fields) >= 2 and not any(f.strip() for f in fields[:-2]) and _is_num(fields[-2]):
            events[-1].setdefault("extra_metrics", []).append(
                {"value": float(fields[-2].strip()), "unit": fields[-1].strip()})
            continue
        errors.append(ln.strip())
    if not events:
        msg = next((e for e in errors if e and not e.startswith("Error")), None)
        if any(e.startswith("Error") for e in errors):
            raise ParseError("perf stat failed: " + " ".join(e for e in errors if e)[:300])
        raise ParseError("expected perf stat -x CSV rows (value,unit,event,run_ns,pct_running,...)"
                         + (f"; got {msg[:80]!r}" if msg else ""))
    for e in errors:
        if e:
            res.warnings.append(f"ignored a line perf stat -x does not print: {e[:120]!r}")
    res.info["separator"] = sep
    return _result(events, res, "csv")


def _tool_lines(text: str, res: ParseResult):
    """(line, stripped line) for each line that is not perf's preamble (which _preamble records in res)."""
    for ln in lines(text):
        if not _preamble(ln, res):
            yield ln, ln.strip()


@guarded
def parse_json(text: str) -> ParseResult:
    """perf stat -j: one JSON object per line."""
    res = ParseResult()
    events: list[dict] = []
    for ln, s in _tool_lines(text, res):
        if not s.startswith("{"):
            res.warnings.append(f"ignored a line that is not a JSON object: {s[:120]!r}")
            continue
        try:
            obj = json.loads(s)
        except (json.JSONDecodeError, RecursionError):
            raise ParseError(f"expected a JSON object per line from perf stat -j, got {s[:80]!r}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("event"), str) or "counter-value" not in obj:
            raise ParseError("expected 'event' and 'counter-value' in each perf stat -j object")
        cv = obj["counter-value"]
        if isinstance(cv, str) and (cv.strip() in _STATUS or _is_num(cv)):
            value, status = _value(cv)
        elif isinstance(cv, (int, float)) and not isinstance(cv, bool) and math.isfinite(cv):
            value, status = float(cv), "counted"
        else:
            raise ParseError(f"expected a number or <not supported>/<not counted> as counter-value, got {cv!r}")

        def num(key: str) -> float | None:
            v = obj.get(key)
            if isinstance(v, str) and _is_num(v):
                v = float(v.strip())
            return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None

        aggr = None
        for key in ("cpu", "socket", "die", "core", "node", "thread"):
            if key in obj:
                aggr = str(obj[key])  # "S0", "S0-D0-C1", "N0", "comm-pid" as in CSV; -A gives a bare "0"
                if key == "cpu" and not aggr.startswith("CPU"):
                    aggr = f"CPU{aggr}"
                break
        var = obj.get("variance")
        events.append({
            "event": obj["event"], "value": value, "unit": str(obj.get("unit", "")), "status": status,
            "run_ns": int(num("event-runtime")) if num("event-runtime") is not None else None,
            "pct_running": num("pcnt-running"),
            "variance_pct": float(var) if isinstance(var, (int, float)) and not isinstance(var, bool) else None,
            "interval": num("interval"), "aggr": aggr,
            "aggr_cpus": int(num("aggregate-number")) if num("aggregate-number") is not None else None,
            "metric_value": num("metric-value"), "metric_unit": str(obj.get("metric-unit", "")),
        })
    return _result(events, res, "json")


_F = r"(?:\d+(?:\.\d*)?|\.\d+)"
_HUMAN = re.compile(
    r"^\s*(?P<value>[\d,]+(?:\.\d+)?|<not supported>|<not counted>)\s+(?:(?P<unit>msec|ns|Joules|MiB|KiB|bytes)\s+)?"
    r"(?P<event>\S+)"
    rf"(?:\s+#\s+(?P<mv>{_F})\s+(?P<mu>.*?))?"
    rf"(?:\s*\(\s*\+-\s*(?P<var>{_F})%\s*\))?"
    rf"(?:\s*\((?P<pct>{_F})%\))?\s*$"
)


@guarded
def parse_text(text: str) -> ParseResult:
    """perf stat's human-readable output (thousands separators, '# metric', '(66.67%)', '( +- 3.00% )')."""
    res = ParseResult()
    events: list[dict] = []
    for ln, s in _tool_lines(text, res):
        m = re.match(r"^Performance counter stats for '(.*)'( \((\d+) runs\))?:$", s)
        if m:
            res.info["command"] = m.group(1)
            if m.group(3):
                res.info["runs"] = int(m.group(3))
            continue
        m = re.match(rf"^({_F})(?: \+- {_F})? seconds (time elapsed|user|sys)", s)
        if m:
            res.info[f"seconds_{m.group(2).split()[0]}"] = float(m.group(1))
            continue
        m = _HUMAN.match(ln)
        if m and not s.startswith("Error"):
            raw = m.group("value").replace(",", "")
            if raw not in _STATUS and not _is_num(raw):
                res.warnings.append(f"ignored {s[:120]!r}")
                continue
            value, status = _value(raw)
            mv = m.group("mv")
            events.append({
                "event": m.group("event"), "value": value, "unit": m.group("unit") or "", "status": status,
                "run_ns": None, "pct_running": float(m.group("pct")) if m.group("pct") else (100.0 if status == "counted" else None),
                "variance_pct": float(m.group("var")) if m.group("var") else None,
                "interval": None, "aggr": None, "aggr_cpus": None,
                "metric_value": float(mv) if mv and _is_num(mv) else None, "metric_unit": (m.group("mu") or "").strip(),
            })
            continue
        if s.startswith("Error"):
            res.warnings.append(s)
            continue
        res.warnings.append(f"ignored a line: {s[:120]!r}")
    if not events:
        raise ParseError("expected perf stat's counter lines ('<value> [unit] <event> # ...')")
    return _result(events, res, "text")


def perf_counts_to_measurements(events: list[dict], mapping: dict[str, str],
                                warnings: list[str] | None = None) -> list[Measurement]:
    """benchctl raw-counter metrics and kernel TLB-walk MPKI from perf rows.

    events: rows as in ParseResult.info["events"]; mapping: event name ->
    metric (any spelling; see benchctl.parsers.perf_events.canonical_event). Counts
    are summed over CPUs, sockets and intervals; distinct counters mapped to
    one metric are summed (x86 dTLB load + store walks), the same counter
    under two spellings is counted once. MPKI = 1000 * sum(walks) /
    sum(instructions) (a ratio of sums, domain.md), only when every needed
    counter was counted; the note carries the lowest pct_running below 100.
    """
    from benchctl.parsers.perf_events import GENERIC_METRICS, canonical_event

    warn = warnings if warnings is not None else []
    canon_map = {canonical_event(k): v for k, v in mapping.items()}
    generic = {canonical_event(k) for k in GENERIC_METRICS}
    tot = totals(events)
    # metric -> {canonical counter -> (event name, total)}
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
    out: list[Measurement] = []
    counted: dict[str, tuple[float, float | None]] = {}
    partial: set[str] = set()
    for metric, slot in per_metric.items():
        specific = {c: v for c, v in slot.items() if c not in generic}
        if specific and len(specific) < len(slot):
            dropped = [v[0] for c, v in slot.items() if c in generic]
            warn.append(f"{metric}: using {', '.join(v[0] for v in specific.values())} rather than the generic "
                        f"{', '.join(dropped)} (same counter)")
            slot = specific
        bad = [ev for ev, t in slot.values() if t["status"] not in ("counted", "partial")]
        if bad:
            warn.append(f"{metric}: {', '.join(bad)} not counted or not supported; no {metric} record")
            continue
        value = sum(t["value"] for _, t in slot.values())
        pcts = [t["pct_running_min"] for _, t in slot.values() if t["pct_running_min"] is not None]
        pct = min(pcts) if pcts else None
        note: dict = {"events": [ev for ev, _ in slot.values()]}
        if pct is not None and pct < 100.0:
            note["multiplexed_pct"] = pct
        if any(t["status"] == "partial" for _, t in slot.values()):
            note["partial"] = True
        out.append(Measurement(metric, value, "count", note))
        counted[metric] = (value, pct)
        if note.get("partial"):
            partial.add(metric)
    for ratio, nums in (("kernel_dtlb_walk_mpki", ("dtlb_walk_k",)),
                        ("kernel_tlb_walk_mpki", ("dtlb_walk_k", "itlb_walk_k"))):
        needed = nums + ("inst_retired_k",)
        if not all(n in counted for n in needed):
            if any(n in per_metric for n in needed):
                missing = [n for n in needed if n not in counted]
                warn.append(f"{ratio}: missing {', '.join(missing)}; not computed")
            continue
        inst = counted["inst_retired_k"][0]
        if inst <= 0:
            warn.append(f"{ratio}: zero kernel instructions counted; not computed")
            continue
        value = 1000.0 * sum(counted[n][0] for n in nums) / inst
        pcts = [counted[n][1] for n in needed if counted[n][1] is not None]
        note = {"numerators": list(nums), "denominator": "inst_retired_k"}
        if pcts and min(pcts) < 100.0:
            note["multiplexed_pct"] = min(pcts)
        if partial & set(needed):
            note["partial"] = True
        out.append(Measurement(ratio, value, "MPKI", note))
    return out


def parse_version(text: str) -> str:
    """'perf version 6.1.192' -> '6.1.192'."""
    return match_version(r"perf version (\d+(?:\.\d+)+\S*)", text, "'perf version X.Y.Z' from perf --version")
