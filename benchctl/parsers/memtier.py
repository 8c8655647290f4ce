"""memtier_benchmark 2.3.0 output: --json-out-file, the text report, and --hdr-file-prefix files.

Quirks handled (workload-tools.md §1, checked against the recorded runs):
- latencies are printed in ms; benchctl records us.
- JSON percentile keys are cut to 6 characters (snprintf(buf, 7, "p%.3f")):
  99.99 and 99.999 both become "p99.99". Python's json keeps the last
  duplicate, so keys are read with object_pairs_hook and the first one wins
  (memtier writes them in ascending order).
- Totals "Average Latency" is 0.0 in 2.3.0 JSON: the mean comes from the
  decoded histogram, else from the Count-weighted Sets/Gets/Waits averages.
- The "Compressed Histogram" (HdrHistogram V2 log encoding, values in us)
  gives p50/p99/p99.9 and mean at the histogram's own precision; that is
  used whenever present and reproduces memtier's own figures. 2.3.0's
  histograms carry 2 significant digits above an 8 us unit (parsers/hdr.py
  says what that means per value), so figures printed by 2.3.0 (text, JSON
  keys) are labelled "hdr-2sig" too.
- `--hdr-file-prefix P` writes P_FULL_RUN_1.hgrm (the Totals histogram as an
  interval log: full resolution) and P_FULL_RUN_1.txt (the same rounded to
  10 us), plus per-command P_SET/GET_command_run_1.*; `with_hdr` takes the
  latencies of a report from its .hgrm.
"""

from __future__ import annotations

import json
import math
import re

from benchctl.parsers import Measurement, ParseError, ParseResult
from benchctl.parsers.hdr import TARGETS, decode_histogram, parse_percentile_text, percentile_measurements, read_log
from benchctl.parsers.textutil import guarded, is_transcript_line, lines, to_float

_ROWS = ("Sets", "Gets", "Waits", "Totals")
LATENCY_METRICS = ("p50_latency_us", "p99_latency_us", "p999_latency_us", "mean_latency_us")


def _pairs(pairs: list[tuple[str, object]]) -> dict:
    """object_pairs_hook: keep the first of duplicate keys and list the duplicated ones."""
    d: dict = {}
    dups = []
    for k, v in pairs:
        if k in d:
            dups.append(k)
        else:
            d[k] = v
    if dups:
        d["__duplicates__"] = dups
    return d


def _section(doc: dict) -> tuple[str, dict]:
    if isinstance(doc.get("ALL STATS"), dict):
        return "ALL STATS", doc["ALL STATS"]
    for k, v in doc.items():
        if k.startswith("AGGREGATED AVERAGE RESULTS") and isinstance(v, dict):
            return k, v
    raise ParseError("expected an 'ALL STATS' or 'AGGREGATED AVERAGE RESULTS' section in the memtier JSON")


def _number(d: dict, key: str, where: str) -> float:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ParseError(f"expected a number at {where}.{key!r}, got {v!r}")
    return float(v)


@guarded
def parse_json(text: str) -> ParseResult:
    """memtier --json-out-file: ops_per_sec (Totals), p50/p99/p99.9 and mean latency in us."""
    try:
        doc = json.loads(text, object_pairs_hook=_pairs)
    except (json.JSONDecodeError, RecursionError) as e:
        raise ParseError(f"expected memtier's JSON output: {e}") from None
    if not isinstance(doc, dict):
        raise ParseError("expected a JSON object from memtier --json-out-file")
    name, stats = _section(doc)
    totals = stats.get("Totals")
    if not isinstance(totals, dict):
        raise ParseError(f"expected {name}.Totals in the memtier JSON")
    res = ParseResult()
    ops = _number(totals, "Ops/sec", f"{name}.Totals")
    if totals.get("Count") == 0:
        raise ParseError(
            f"memtier completed no requests ({name}.Totals.Count = 0, "
            f"connection errors: {totals.get('Connection Errors', 'unknown')})"
        )
    res.measurements.append(Measurement("ops_per_sec", ops, "ops/s", {"source": f"{name}.Totals"}))
    pl = totals.get("Percentile Latencies")
    hist_str = None
    if isinstance(pl, dict):
        hl = pl.get("Histogram log format")
        if isinstance(hl, dict):
            hist_str = hl.get("Compressed Histogram")
    lat: list[Measurement] = []
    if hist_str is not None:
        lat = percentile_measurements(decode_histogram(hist_str), "compressed-histogram")
    if not lat:
        lat = _json_latencies(stats, name, totals, pl, res)
    res.measurements.extend(lat)
    printed = {}
    if isinstance(pl, dict):
        if pl.get("__duplicates__"):
            res.warnings.append(
                "memtier wrote duplicate percentile keys (truncated to 6 characters); the first of each was taken"
            )
        printed = {k: v for k, v in pl.items() if k.startswith("p") and isinstance(v, (int, float))}
    if hist_str is not None and lat:
        _crosscheck(lat, printed, totals.get("Count"), res.warnings)
    avg = totals.get("Average Latency")
    if avg == 0.0 and totals.get("Count"):
        res.warnings.append(
            "Totals 'Average Latency' is 0.0 (memtier 2.3.0 bug); the mean comes from "
            + ("the histogram" if hist_str else "Count-weighted Sets/Gets/Waits")
        )
    run_raw, cfg_raw = doc.get("run information"), doc.get("configuration")
    run: dict = run_raw if isinstance(run_raw, dict) else {}
    cfg: dict = cfg_raw if isinstance(cfg_raw, dict) else {}
    res.info = {
        "tool": "memtier_benchmark",
        "section": name,
        "run_information": run,
        "configuration": cfg,
        "threads": run.get("Threads", cfg.get("threads")),
        "connections_per_thread": run.get("Connections per thread", cfg.get("clients")),
        "seconds": run.get("Seconds", cfg.get("test_time")),
        "format_version": run.get("Format version"),
        "rows": {
            r: {k: v for k, v in stats[r].items() if k not in ("Time-Serie", "Percentile Latencies")}
            for r in _ROWS
            if isinstance(stats.get(r), dict)
        },
        "printed_percentiles_ms": printed,
        "runtime": stats.get("Runtime"),
        "other_sections": [k for k in doc if k not in ("configuration", "run information", name)],
    }
    return res


def _crosscheck(lat: list[Measurement], printed: dict, count: object, warnings: list[str]) -> None:
    """Warn when the decoded histogram disagrees with memtier's own printed figures (ms, 3 decimals)."""
    keys = {"p50_latency_us": "p50.00", "p99_latency_us": "p99.00", "p999_latency_us": "p99.90"}
    for m in lat:
        key = keys.get(m.metric)
        if key in printed and abs(m.value - printed[key] * 1000.0) > 1.0:
            warnings.append(f"{m.metric}: histogram gives {m.value:g} us, memtier printed {printed[key]} ms")
    hist_count = lat[0].note.get("count")
    if isinstance(count, int) and hist_count != count:
        warnings.append(f"the histogram holds {hist_count} requests, Totals.Count says {count}")


def _json_latencies(stats: dict, name: str, totals: dict, pl: object, res: ParseResult) -> list[Measurement]:
    """Latencies from the printed JSON percentiles (ms, 3 decimals) when no histogram is there."""
    out = []
    note = {"latency_resolution": "hdr-2sig", "source": "json-percentiles"}
    keys = {"p50_latency_us": "p50.00", "p99_latency_us": "p99.00", "p999_latency_us": "p99.90"}
    for metric, key in keys.items():
        v = pl.get(key) if isinstance(pl, dict) else None
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            out.append(Measurement(metric, float(v) * 1000.0, "us", dict(note)))
        else:
            res.warnings.append(f"{metric}: memtier printed no {key} (add it to --print-percentiles)")
    avg = totals.get("Average Latency")
    mean = None
    if isinstance(avg, (int, float)) and not isinstance(avg, bool) and avg > 0 and math.isfinite(avg):
        mean = float(avg)
    else:
        weighted = count = 0.0
        for r in ("Sets", "Gets", "Waits"):
            row = stats.get(r)
            if isinstance(row, dict):
                c = row.get("Count")
                a = row.get("Average Latency")
                if isinstance(c, (int, float)) and isinstance(a, (int, float)) and c > 0 and math.isfinite(a):
                    weighted += c * a
                    count += c
        if count > 0:
            mean = weighted / count
    if mean is not None:
        out.append(Measurement("mean_latency_us", mean * 1000.0, "us", dict(note)))
    return out


# --- text report ---------------------------------------------------------------

# "Latency" alone is the average in memtier 1.x reports.
_HEADER_COL = re.compile(
    r"Type|Ops/sec|Hits/sec|Misses/sec|MOVED/sec|ASK/sec|Avg\. Latency|p[\d.]+ Latency|Latency|KB/sec"
)
_SECTION = re.compile(
    r"^(ALL STATS|BEST RUN RESULTS|WORST RUN RESULTS|AGGREGATED AVERAGE RESULTS.*|RUN #\d+ RESULTS)\s*$"
)


@guarded
def parse_text(text: str) -> ParseResult:
    """memtier's text report (stdout or -o file): the ALL STATS / AGGREGATED AVERAGE Totals row."""
    res = ParseResult()
    info: dict = {"tool": "memtier_benchmark"}
    sections: dict[str, dict[str, dict]] = {}
    current = None
    cols: list[str] | None = None
    for raw in lines(text):
        s = raw.strip()
        if not s or is_transcript_line(s) or s.startswith("[RUN #"):
            continue
        m = re.match(r"^(\d+)\s+(Threads|Connections per thread|Seconds|Requests per client)$", s)
        if m:
            info[m.group(2).lower().replace(" ", "_")] = int(m.group(1))
            continue
        m = _SECTION.match(s)
        if m:
            current = m.group(1)
            sections[current] = {}
            cols = None
            continue
        if current is None:
            continue
        if s.startswith("Type"):
            cols = _HEADER_COL.findall(s)
            continue
        if set(s) <= set("=-"):
            continue
        parts = s.split()
        if cols and parts[0] in _ROWS and len(parts) == len(cols):
            row = {}
            for c, v in zip(cols[1:], parts[1:], strict=True):
                row[c] = None if v == "---" else to_float(v, f"{parts[0]} {c}")
            sections[current][parts[0]] = row
            continue
        if cols and parts[0] in _ROWS:
            raise ParseError(f"expected {len(cols)} columns in memtier's {parts[0]} row, got {len(parts)}")
    name = (
        "ALL STATS"
        if "ALL STATS" in sections
        else next((k for k in sections if k.startswith("AGGREGATED AVERAGE")), None)
    )
    if name is None or "Totals" not in sections[name]:
        raise ParseError("expected memtier's 'ALL STATS' (or 'AGGREGATED AVERAGE RESULTS') table with a Totals row")
    tot = sections[name]["Totals"]
    if tot.get("Ops/sec") is None:
        raise ParseError("expected an Ops/sec value in memtier's Totals row")
    res.measurements.append(Measurement("ops_per_sec", tot["Ops/sec"], "ops/s", {"source": f"{name}.Totals"}))
    note = {"latency_resolution": "hdr-2sig", "source": "text"}
    wanted = {"p50_latency_us": 50.0, "p99_latency_us": 99.0, "p999_latency_us": 99.9}
    by_pct: dict[float, float | None] = {}
    for c, v in tot.items():
        m = re.fullmatch(r"p([\d.]+) Latency", c)
        if m:
            try:
                by_pct[float(m.group(1))] = v
            except ValueError:
                continue
    for metric, p in wanted.items():
        ms = next((val for pp, val in by_pct.items() if abs(pp - p) < 1e-9), None)
        if ms is None:
            res.warnings.append(f"{metric}: not in memtier's text report (add it to --print-percentiles)")
        else:
            res.measurements.append(Measurement(metric, ms * 1000.0, "us", dict(note)))
    avg = tot.get("Avg. Latency", tot.get("Latency"))
    if avg is not None:
        res.measurements.append(Measurement("mean_latency_us", avg * 1000.0, "us", dict(note)))
    info["section"] = name
    info["sections"] = sections
    res.info = info
    return res


# --- --hdr-file-prefix files -----------------------------------------------------


@guarded
def parse_hgrm(text: str) -> ParseResult:
    """P_FULL_RUN_1.hgrm (HdrHistogram interval log): all intervals added, latencies in us.

    The log holds no operation mix or duration the way the report does, so no
    ops_per_sec is derived from it.
    """
    log = read_log(text)
    res = ParseResult(warnings=list(log.warnings))
    res.measurements = percentile_measurements(log.histogram, "hgrm")
    if not res.measurements:
        res.warnings.append("the histogram is empty: no latency metrics")
    res.warnings.append("an .hgrm log holds latencies only; ops_per_sec comes from the report (JSON or text)")
    res.info = {
        "tool": "memtier_benchmark",
        "intervals": log.intervals,
        "start": log.start,
        "end": log.end,
        "count": int(log.histogram.get_total_count()),
    }
    return res


@guarded
def parse_hdr_txt(text: str) -> ParseResult:
    """P_FULL_RUN_1.txt (HdrHistogram percentile distribution, values in ms with 2 decimals).

    Coarse: rows sit at fixed percentile ticks and print 10 us steps, so a
    percentile is only bracketed between two rows. The value reported is the
    first row whose TotalCount reaches p/100 * N (an upper bound); the note
    gives the bracket. The .hgrm next to it, or the JSON histogram, is exact.
    """
    curve = parse_percentile_text(text)
    res = ParseResult(warnings=[f"ignored an unexpected line: {s!r}" for s in curve.skipped])
    n = max(curve.counts)
    for metric, p in TARGETS:
        prev = 0.0
        for value, count in zip(curve.values, curve.counts, strict=True):
            if n > 0 and count >= p / 100.0 * n:
                res.measurements.append(
                    Measurement(
                        metric,
                        value * 1000.0,
                        "us",
                        {
                            "latency_resolution": "hdr-txt-rows",
                            # rows print ms rounded to 2 decimals: widen by half a step (5 us)
                            "bracket_us": [max(0.0, prev * 1000.0 - 5.0), value * 1000.0 + 5.0],
                            "value_is": "bracket upper bound",
                            "source": "hdr-txt",
                        },
                    )
                )
                break
            prev = value
    if curve.mean is not None:
        res.measurements.append(
            Measurement(
                "mean_latency_us",
                curve.mean * 1000.0,
                "us",
                {"latency_resolution": "printed-10us", "source": "hdr-txt"},
            )
        )
    res.warnings.append(
        "the .txt percentile table only brackets percentiles (ms with 2 decimals); "
        "prefer the .hgrm or the JSON histogram"
    )
    res.info = {"tool": "memtier_benchmark", "rows": len(curve.values), "count": n}
    return res


def with_hdr(report: ParseResult, hgrm: ParseResult) -> ParseResult:
    """The report's throughput with the latencies of its FULL_RUN .hgrm (both from one memtier run).

    Both decode the same Totals histogram at full resolution; the .hgrm is the
    file memtier writes for this purpose, and a request count that differs
    from the report's means the two files are not from the same run.
    """
    lat = [m for m in hgrm.measurements if m.metric in LATENCY_METRICS]
    if not lat:
        return report
    # the mean is the .hgrm's too, so the report's 0.0 Average Latency (a 2.3.0 quirk) no longer matters
    out = ParseResult(
        [m for m in report.measurements if m.metric not in LATENCY_METRICS] + lat,
        dict(report.info),
        [w for w in report.warnings if "'Average Latency' is 0.0" not in w],
    )
    rows = report.info.get("rows") or {}
    count = (rows.get("Totals") or {}).get("Count")
    if isinstance(count, int) and count != hgrm.info.get("count"):
        out.warnings.append(
            f"the .hgrm holds {hgrm.info.get('count')} requests, the report's Totals.Count "
            f"says {count}: not the same run?"
        )
    out.info["latency_source"] = "hgrm"
    return out


def parse_version(text: str) -> str:
    """'memtier_benchmark 2.3.0' or 'v=2.3.0 sha=...' -> '2.3.0'."""
    m = re.search(r"(?:memtier_benchmark\s+|v=)(\d+\.\d+(?:\.\d+)?)", text)
    if not m:
        raise ParseError("expected 'memtier_benchmark X.Y.Z' or 'v=X.Y.Z' from memtier_benchmark --version")
    return m.group(1)
