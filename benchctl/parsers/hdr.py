"""HdrHistogram's three text forms, as memtier_benchmark writes them; decoded with hdrh.

- the compressed histogram ("HISTF..." base64 of the V2 encoding, zlib):
  memtier's JSON "Compressed Histogram" and each line of an interval log;
- the interval log (`--hdr-file-prefix` *.hgrm): `start,end,max,HISTF...` per interval;
- the percentile distribution (`--hdr-file-prefix` *.txt, HdrHistogram's
  outputPercentileDistribution): rows "Value Percentile TotalCount 1/(1-Percentile)"
  and "#[Mean = ...]" footers, values printed with a fixed number of decimals.

The first two carry every bucket (full resolution); the third is a rounded
rendering of the same data. Values are in the recorder's unit (memtier: us
in histograms, ms in the printed table).

Resolution, honestly: an HdrHistogram with S significant figures keeps
buckets at most 10^-S wide relative to their value, but never narrower than
its unit (2^floor(log2(lowest_trackable_value))). memtier 2.3.0 uses S=2 and
lowest value 10 us, so buckets below 2048 us are 8 us wide: 6 % of a 135 us
P99. Each percentile therefore carries its own bucket (`bracket_us`) and that
bucket's width relative to the value (`resolution_pct`), which is what analyze
compares with the claimed effect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from benchctl.errors import ToolMissingError
from benchctl.parsers import Measurement, ParseError
from benchctl.parsers.textutil import lines, to_float

TARGETS = (("p50_latency_us", 50.0), ("p99_latency_us", 99.0), ("p999_latency_us", 99.9))
HEADER = re.compile(r"^\s*Value\s+Percentile\s+TotalCount\s+1/\(1-Percentile\)\s*$")


# --- the compressed histogram and the interval log --------------------------------


def _hdr_histogram() -> Any:
    """hdrh's HdrHistogram class, imported on first use (its codec is a C extension that may be missing:
    no arm64 wheel exists), or ToolMissingError saying how to install it."""
    try:
        from hdrh.histogram import HdrHistogram
    except ImportError as e:
        raise ToolMissingError(
            f"cannot decode memtier's HdrHistograms: the Python package hdrh is not importable ({e}); "
            "install it with `pip install hdrhistogram` (it builds its C codec, pyhdrh, where no wheel exists)"
        ) from None
    return HdrHistogram


def decode_histogram(encoded: str) -> Any:
    """An hdrh HdrHistogram from its compressed base64 form, or ParseError.

    hdrh raises a zoo of exception types on corrupt input (binascii, zlib,
    ctypes, its own Hdr*Exception), so any failure is reported as a parse error.
    """
    HdrHistogram = _hdr_histogram()  # noqa: N806 - the class

    if not isinstance(encoded, str) or not encoded.startswith("HIST"):
        raise ParseError("expected an HdrHistogram compressed string starting with 'HIST'")
    try:
        return HdrHistogram.decode(encoded)
    except Exception as e:  # noqa: BLE001 - third-party decoder over untrusted bytes
        raise ParseError(f"could not decode the compressed HdrHistogram ({type(e).__name__}: {e})") from None


@dataclass
class IntervalLog:
    """An HdrHistogram interval log with all its intervals added into one histogram."""

    histogram: Any  # hdrh HdrHistogram
    intervals: int
    start: float
    end: float
    warnings: list[str] = field(default_factory=list)


def read_log(text: str) -> IntervalLog:
    """Every `start,end,max,HISTF...` line of an .hgrm log, added; ParseError if there is none."""
    HdrHistogram = _hdr_histogram()  # noqa: N806 - the class

    total = None
    warnings: list[str] = []
    intervals = 0
    start = end = 0.0
    for raw in lines(text):
        s = raw.strip()
        if not s or s.startswith(("#", '"')):
            continue
        parts = s.split(",")
        if len(parts) != 4 or not parts[3].startswith("HIST"):
            warnings.append(f"ignored a line that is not an interval histogram: {s[:80]!r}")
            continue
        t0 = to_float(parts[0], "interval start")
        t1 = to_float(parts[1], "interval end")
        h = decode_histogram(parts[3])
        if total is None:
            total = HdrHistogram(h.lowest_trackable_value, h.highest_trackable_value, h.significant_figures)
            start, end = t0, t1
        try:
            total.add(h)
        except Exception as e:  # noqa: BLE001 - hdrh raises plain exceptions on incompatible histograms
            raise ParseError(f"could not add interval histogram ({type(e).__name__}: {e})") from None
        intervals += 1
        start, end = min(start, t0), max(end, t1)
    if total is None:
        raise ParseError("expected an HdrHistogram log line 'start,end,max,HISTF...'")
    return IntervalLog(total, intervals, start, end, warnings)


def percentile_measurements(hist: Any, source: str) -> list[Measurement]:
    """p50/p99/p99.9 and mean (us) of a decoded histogram whose values are us; [] when empty.

    A percentile is the upper end of the bucket holding it (as memtier and
    HdrHistogram print it); its note gives that bucket and its relative width.
    """
    n = int(hist.get_total_count())
    if n <= 0:
        return []
    base = {"latency_resolution": f"hdr-{hist.significant_figures}sig", "source": source, "count": n}
    out = []
    for metric, p in TARGETS:
        hi = int(hist.get_value_at_percentile(p))
        lo = int(hist.get_lowest_equivalent_value(hi))
        out.append(
            Measurement(
                metric,
                float(hi),
                "us",
                {
                    **base,
                    "bracket_us": [lo, hi],
                    "value_is": "bucket upper bound",
                    "resolution_pct": round(100.0 * (hi - lo + 1) / max(hi, 1), 3),
                },
            )
        )
    out.append(Measurement("mean_latency_us", float(hist.get_mean_value()), "us", dict(base)))
    return out


# --- the percentile distribution text -------------------------------------------------


@dataclass
class PercentileCurve:
    """The rows of a percentile distribution table (values in the tool's printed unit)."""

    values: list[float]  # latency at each row
    percentiles: list[float]  # 0..1
    counts: list[int]  # TotalCount: requests at or below the row's value
    total_count: int | None  # footer "Total count"
    mean: float | None  # footer "Mean"
    max: float | None  # footer "Max"
    skipped: list[str] = field(default_factory=list)  # lines that were neither rows nor footers


def is_percentile_text(first_line: str) -> bool:
    """True when the line is the table's header (for a cheap check of a file's first line)."""
    return bool(HEADER.match(first_line))


def parse_percentile_text(text: str) -> PercentileCurve:
    """The rows after the header; ParseError when there is no header or no row."""
    rows = lines(text)
    start = next((i for i, ln in enumerate(rows) if HEADER.match(ln)), None)
    if start is None:
        raise ParseError(
            "expected an HdrHistogram percentile table (header 'Value Percentile TotalCount 1/(1-Percentile)')"
        )
    curve = PercentileCurve([], [], [], None, None, None)
    for ln in rows[start + 1 :]:
        s = ln.strip()
        if not s:
            continue
        if s.startswith("#["):
            for key, val in re.findall(r"(\w[\w ]*?)\s*=\s*([-0-9.eE+]+)", s):
                key = key.strip()
                if key == "Mean":
                    curve.mean = to_float(val, "Mean")
                elif key == "Max":
                    curve.max = to_float(val, "Max")
                elif key == "Total count" and val.isdecimal():
                    curve.total_count = _count(val)
            continue
        parts = s.split()
        if len(parts) == 4 and parts[2].isdecimal():
            curve.values.append(to_float(parts[0], "Value"))
            curve.percentiles.append(to_float(parts[1], "Percentile"))
            curve.counts.append(_count(parts[2]))
        else:
            curve.skipped.append(s[:80])
    if not curve.values:
        raise ParseError("expected rows 'Value Percentile TotalCount 1/(1-Percentile)' after the header, found none")
    return curve


def _count(digits: str) -> int:
    """int() of a run of digits; a number past Python's digit limit is a corrupt file, not a crash."""
    try:
        return int(digits)
    except ValueError:
        raise ParseError(f"expected a request count, got {digits[:40]!r}...") from None


def curve_from_histogram(hist: Any, scale: float = 1.0) -> PercentileCurve:
    """The distribution of a decoded histogram at full resolution: one row per recorded bucket.

    Each row is the bucket's upper value (/ scale), the fraction of requests at
    or below it, and their count: the exact empirical distribution that the
    printed table samples at fixed percentile ticks and rounds. For plots that
    prefer the .hgrm to the .txt.
    """
    n = int(hist.get_total_count())
    curve = PercentileCurve([], [], [], n, float(hist.get_mean_value()) / scale, float(hist.get_max_value()) / scale)
    if n <= 0:
        return curve
    for it in hist.get_recorded_iterator():
        curve.values.append(float(hist.get_highest_equivalent_value(it.value_iterated_to)) / scale)
        curve.counts.append(int(it.total_count_to_this_value))
        curve.percentiles.append(it.total_count_to_this_value / n)
    return curve
