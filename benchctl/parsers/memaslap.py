"""memaslap / memcaslap output (libmemcached-tools 1.1.4, "memaslap v1.0").

Throughput comes from the last line, `Run time: 5.0s Ops: 394978 TPS: 78989 ...`.
Latency exists only with -S: the periodic tables (each screen starts with
ESC[1;1H ESC[2J) and, at the end, one summary block per op type:

    Total Statistics (406547 events)
       Min: 10 / Max: 8971 / Avg: 117 / Geo: 57.76 / Std: 239.75  (us)
       Log2 Dist:
           4:    12020   160497    49346    89602

A row "k:" holds buckets k..k+3, and bucket i counts latencies t with
2^(i-1) < t <= 2^i us (ms_stats.c). memaslap prints no percentiles, so the
P99 can only be bracketed to the power-of-two bucket that holds it; the
measurement's value is the bucket's upper edge (an upper bound on P99) and
its note says so ("coarse-pow2"), so analyze can refuse to judge a small
effect on it.
"""

from __future__ import annotations

import re

from benchctl.parsers import Measurement, ParseError, ParseResult
from benchctl.parsers.textutil import guarded, is_transcript_line, lines, to_float

_SETTINGS = {
    "servers": "servers",
    "threads count": "threads",
    "concurrency": "concurrency",
    "run time": "run_time",
    "execute number": "execute_number",
    "windows size": "window_size",
    "set proportion": "set_proportion",
    "get proportion": "get_proportion",
}
_COUNTERS = ("cmd_get", "cmd_set", "get_misses", "written_bytes", "read_bytes", "object_bytes")
_FINAL = re.compile(r"^Run time: ([\d.]+)s Ops: (\d+) TPS: (\d+) Net_rate: ([\d.]+)M/s\s*$")
_BLOCK = re.compile(r"^(Get|Set|Total) Statistics \((\d+) events\)\s*$")
_STAT = re.compile(r"\b(Min|Max|Avg|Geo|Std):\s*([\d.]+)")
_DIST = re.compile(r"^\s*(\d+):((?:\s+\d+){1,4})\s*$")
_PERIOD = re.compile(
    r"^(Period|Global)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s*$"
)


def _setting(name: str, value: str) -> object:
    """Echoed settings as numbers where they are numbers ("2" -> 2, "set_prop=0.10" -> 0.1, "3s" -> 3.0 s)."""
    if name in ("threads", "concurrency", "execute_number") and re.fullmatch(r"[0-9]+", value):
        return int(value)
    m = re.fullmatch(r"(?:set|get)_prop=([0-9]+(?:\.[0-9]+)?)", value)
    if m:
        return float(m.group(1))
    return value


def pow2_quantile_bracket(buckets: dict[int, int], q: float) -> tuple[float, float]:
    """(lo, hi] in us of the log2 bucket holding quantile q (0..1): the smallest i with cum >= q*N."""
    total = sum(buckets.values())
    if total <= 0:
        raise ParseError("expected a non-empty Log2 Dist")
    cum = 0
    for i in sorted(buckets):
        cum += buckets[i]
        if cum >= q * total:
            return (0.0 if i == 0 else float(2 ** (i - 1)), float(2**i))
    i = max(buckets)
    return float(2 ** (i - 1)) if i else 0.0, float(2**i)


def _block_line(current: dict, line: str, s: str) -> bool:
    """A Log2 Dist row or a Min/Max/Avg/Geo/Std line of the current -S block, recorded in it."""
    dm = _DIST.match(line)
    if dm:
        base = int(dm.group(1))
        for k, c in enumerate(dm.group(2).split()):
            current["dist"][base + k] = int(c)
        return True
    found = _STAT.findall(s)
    if found:
        for k, v in found:
            current[k.lower()] = to_float(v, f"memaslap {k}")
        return True
    return s.startswith("Log2 Dist")


def _total_latency(res: ParseResult, blocks: dict[str, dict]) -> None:
    """Mean and bracketed P99 from the -S "Total Statistics" block, with what they cannot say."""
    total = blocks.get("Total")
    if total is None or not total["dist"]:
        res.warnings.append("no -S statistics block: memaslap prints latency only with -S, so no latency metrics")
    else:
        if "avg" in total:
            res.measurements.append(
                Measurement("mean_latency_us", total["avg"], "us", {"latency_resolution": "integer-us", "op": "all"})
            )
        lo, hi = pow2_quantile_bracket(total["dist"], 0.99)
        res.measurements.append(
            Measurement(
                "p99_latency_us",
                hi,
                "us",
                {
                    "latency_resolution": "coarse-pow2",
                    "bracket_us": [lo, hi],
                    "value_is": "bracket upper bound",
                    "op": "all",
                },
            )
        )
        if sum(total["dist"].values()) != total["events"]:
            res.warnings.append(
                f"Total Log2 Dist holds {sum(total['dist'].values())} events, the header says {total['events']}"
            )
        res.warnings.append(
            "memaslap has no percentiles: p99_latency_us is the upper edge of the power-of-two "
            f"bucket ({lo:g}, {hi:g}] us that holds the 99th percentile"
        )


@guarded
def parse(text: str) -> ParseResult:
    """ops_per_sec from the TPS line; mean and a bracketed P99 from the -S Total Statistics block."""
    res = ParseResult()
    settings: dict = {}
    counters: dict = {}
    final = None
    blocks: dict[str, dict] = {}
    periods: list[dict] = []
    current: dict | None = None
    section = None
    for raw in lines(text.replace("\x1b[1;1H", "\n").replace("\x1b[2J", "\n")):
        line = raw.rstrip()
        s = line.strip()
        if not s or is_transcript_line(s):
            continue
        m = _FINAL.match(s)
        if m:
            final = {
                "run_time_s": to_float(m.group(1), "Run time"),
                "ops": int(m.group(2)),
                "tps": int(m.group(3)),
                "net_rate_mb_s": to_float(m.group(4), "Net_rate"),
            }
            current = None
            continue
        m = _BLOCK.match(s)
        if m:
            current = {"events": int(m.group(2)), "dist": {}}
            blocks[m.group(1)] = current
            continue
        m = re.match(r"^(Get|Set|Total) Statistics$", s)
        if m:
            section = m.group(1)
            current = None
            continue
        m = _PERIOD.match(s)
        if m and section:
            periods.append(
                {
                    "type": section,
                    "row": m.group(1),
                    "time_s": int(m.group(2)),
                    "ops": int(m.group(3)),
                    "tps": int(m.group(4)),
                    "avg_us": int(m.group(9)),
                }
            )
            continue
        if current is not None and _block_line(current, line, s):
            continue
        key, sep, value = s.partition(":")
        if sep and key in _SETTINGS:
            settings[_SETTINGS[key]] = _setting(_SETTINGS[key], value.strip())
            continue
        if sep and key in _COUNTERS and value.strip().isdecimal():
            counters[key] = int(value.strip())
            continue
        if s.startswith("Type ") or s.startswith("memaslap") or s.startswith("memcaslap"):
            continue
        res.warnings.append(f"ignored an unexpected line: {s[:120]!r}")
    if final is None:
        raise ParseError(
            "expected memaslap's final line 'Run time: 5.0s Ops: N TPS: N Net_rate: X.YM/s' "
            "(the run was cut short or this is not memaslap output)"
        )
    res.measurements.append(Measurement("ops_per_sec", float(final["tps"]), "ops/s", {"source": "TPS"}))
    _total_latency(res, blocks)
    res.info = {
        "tool": "memaslap",
        "settings": settings,
        "counters": counters,
        "final": final,
        "statistics": {k: {kk: vv for kk, vv in v.items()} for k, v in blocks.items()},
        "periods": periods,
    }
    return res
