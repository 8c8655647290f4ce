"""mutilate output (leverich/mutilate d65c6ef, "mutilate 0.1").

The report is a table in us with rows read (GET), update (SET) and op_q (the
op-queue depth, not a latency), then `Total QPS = 56705.3 (283545 / 5.0s)`.
Percentiles are only 5/10/90/95/99, interpolated inside ~10 %-wide log bins
(LogHistogramSampler, bin edges 1.1^i us), so p99_latency_us is marked
"log-bins-10pct" and there is no p50 or p99.9. Exact quantiles need the
--save samples file (parse_samples).

With --scan the header is mislabelled (`avg min 1st 5th ...`); the values
are avg, std, min, 5th, 10th, 90th, 95th, 99th, QPS, target, one row per step.
With -q and the default -i exponential mutilate segfaults before printing
anything (strtok_r on NULL in createGenerator), so empty output is refused
with that advice.
"""

from __future__ import annotations

import math
import re

from benchctl.parsers import Measurement, ParseError, ParseResult
from benchctl.parsers.textutil import guarded, is_transcript_line, lines, to_float, match_version

_COLS = ("avg", "std", "min", "p5", "p10", "p90", "p95", "p99")
_SCAN_COLS = _COLS + ("qps", "target")
_NUM = r"(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?|nan|-?inf)"
_SEGV_HINT = ("mutilate printed no report: with -q it segfaults unless an inter-arrival distribution is given; "
              "pass `-i exponential:1`")


def _row(s: str, ncols: int) -> list[float] | None:
    parts = s.split()
    if len(parts) != ncols + 1:
        return None
    try:
        return [float(p) for p in parts[1:]]
    except ValueError:
        return None


@guarded
def parse(text: str) -> ParseResult:
    """ops_per_sec (Total QPS), p99_latency_us and mean_latency_us of GETs (the read row)."""
    res = ParseResult()
    rows: dict[str, dict] = {}
    scan: list[dict] = []
    info: dict = {"tool": "mutilate"}
    header = None
    segv = False
    for raw in lines(text):
        s = raw.strip()
        if not s:
            continue
        if is_transcript_line(s):
            if re.search(r"exit=139\b", s):
                segv = True
            continue
        if "SIGSEGV" in s or "Segmentation fault" in s:
            segv = True
            continue
        if s.startswith("#type"):
            header = s.split()[1:]
            continue
        m = re.match(r"^Total QPS = " + _NUM + r" \((\d+) / " + _NUM + r"s\)$", s)
        if m:
            info["total_qps"] = to_float(m.group(1), "Total QPS")
            info["ops"] = int(m.group(2))
            info["duration_s"] = to_float(m.group(3), "Total QPS duration")
            continue
        m = re.match(r"^(Misses|Skipped TXs) = (\d+) \(" + _NUM + r"%\)$", s)
        if m:
            info["misses" if m.group(1) == "Misses" else "skipped_txs"] = int(m.group(2))
            continue
        m = re.match(r"^(RX|TX)\s+(\d+) bytes :\s+" + _NUM + r" MB/s$", s)
        if m:
            info[m.group(1).lower() + "_bytes"] = int(m.group(2))
            continue
        m = re.match(r"^Saving latency samples to (.*)\.$", s)
        if m:
            info["samples_file"] = m.group(1)
            continue
        name = s.split()[0]
        if header is not None and name in ("read", "update", "op_q"):
            if header[-2:] == ["QPS", "target"]:
                vals = _row(s, len(_SCAN_COLS))
                if vals is not None and name == "read":
                    scan.append(dict(zip(_SCAN_COLS, vals)))
                    continue
            else:
                vals = _row(s, len(_COLS))
                if vals is not None:
                    rows[name] = dict(zip(_COLS, vals))
                    continue
        res.warnings.append(f"ignored an unexpected line: {s[:120]!r}")
    if scan:
        info["scan"] = scan
        info["scan_note"] = "header mislabelled by mutilate; columns are avg,std,min,5th,10th,90th,95th,99th,QPS,target"
        res.warnings.append(f"--scan output: {len(scan)} steps in info['scan'], no single-point metrics")
        res.info = info
        return res
    if "total_qps" not in info:
        if segv or not text.strip():
            raise ParseError(_SEGV_HINT)
        if not rows:
            raise ParseError("expected mutilate's report (a '#type avg std ...' table and 'Total QPS = ...'); "
                             + _SEGV_HINT)
        raise ParseError("expected mutilate's 'Total QPS = N (ops / Ts)' line (the run was cut short?)")
    res.measurements.append(Measurement("ops_per_sec", info["total_qps"], "ops/s", {"source": "Total QPS"}))
    read = rows.get("read")
    if read is None:
        res.warnings.append("no 'read' row: no latency metrics")
    else:
        for k in ("p99", "avg"):
            if not math.isfinite(read[k]):
                raise ParseError(f"expected a finite {k} in mutilate's read row, got {read[k]}")
        res.measurements.append(Measurement("p99_latency_us", read["p99"], "us",
                                            {"latency_resolution": "log-bins-10pct", "op": "get"}))
        res.measurements.append(Measurement("mean_latency_us", read["avg"], "us",
                                            {"latency_resolution": "printed-0.1us", "op": "get"}))
        res.warnings.append("mutilate reports no p50 or p99.9 (only 5/10/90/95/99th); use --save samples for those")
    info["rows"] = rows
    res.info = info
    return res


def quantile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (Hyndman & Fan 1996 type 7, numpy's default):
    h = (n-1) q; x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h])."""
    n = len(sorted_values)
    h = (n - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, n - 1)
    return sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo])


@guarded
def parse_samples(text: str) -> ParseResult:
    """mutilate --save file: `<start_s> <latency_us>` per GET -> exact p50/p99/p99.9 and mean of GETs.

    Only the master's GETs are saved, so these describe GET latency, like the read row.
    """
    res = ParseResult()
    lat: list[float] = []
    starts: list[float] = []
    for i, raw in enumerate(lines(text), 1):
        s = raw.strip()
        if not s or is_transcript_line(s):
            continue
        parts = s.split()
        if len(parts) != 2:
            raise ParseError(f"line {i}: expected '<start_seconds> <latency_us>', got {s[:80]!r}")
        t = to_float(parts[0], f"line {i} start time")
        v = to_float(parts[1], f"line {i} latency")
        if v < 0:
            raise ParseError(f"line {i}: expected a non-negative latency, got {v}")
        starts.append(t)
        lat.append(v)
    if not lat:
        raise ParseError("expected mutilate --save samples ('<start_seconds> <latency_us>' per line), found none")
    lat.sort()
    note = {"latency_resolution": "exact", "op": "get", "samples": len(lat), "quantile": "type7"}
    for metric, q in (("p50_latency_us", 0.50), ("p99_latency_us", 0.99), ("p999_latency_us", 0.999)):
        res.measurements.append(Measurement(metric, quantile(lat, q), "us", dict(note)))
    res.measurements.append(Measurement("mean_latency_us", math.fsum(lat) / len(lat), "us",
                                        {"latency_resolution": "exact", "op": "get", "samples": len(lat)}))
    if len(lat) < 1000:
        res.warnings.append(f"only {len(lat)} samples: p99.9 rests on fewer than one sample above it")
    res.info = {"tool": "mutilate", "samples": len(lat), "first_start_s": min(starts), "last_start_s": max(starts)}
    return res


def parse_version(text: str) -> str:
    """'mutilate 0.1' -> '0.1'."""
    return match_version(r"\bmutilate (\d+(?:\.\d+)+)", text, "'mutilate X.Y' from mutilate --version")
