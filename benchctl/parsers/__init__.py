"""Parsers for the outputs of the workload tools benchctl drives or imports.

Every parser is a pure function `parse(text: str) -> ParseResult` over the
tool's real output (tests read the recorded outputs in tests/fixtures/tools/).
They never touch the file system or run anything, so the run engine and
`benchctl import` share them, and a fuzz test can prove that on any input a
parser either returns a result or raises ParseError, never anything else.

Formats are keyed by name in PARSERS; `detect(text)` guesses the name for a
file given to `benchctl import`. Tool modules import lazily (hdrh is only
loaded when a memtier histogram is decoded).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from benchctl.errors import InputError


class ParseError(InputError):
    """Tool output is not what the parser expects; the message says what was expected.

    The only exception a parser raises on bad input. The caller (importer,
    run engine) re-raises with the file name, so parsers do not need it.
    """


@dataclass(frozen=True)
class Measurement:
    """One number a tool reported, named as in benchctl.results.metrics.CATALOGUE."""

    metric: str
    value: float
    unit: str
    note: dict = field(default_factory=dict)


@dataclass
class ParseResult:
    """What one tool output holds.

    measurements: the metrics benchctl records; info: tool version and the
    configuration the tool echoed (threads, connections, duration, per-event
    rows for perf); warnings: what the parser could not measure and why.
    """

    measurements: list[Measurement] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def get(self, metric: str) -> Measurement | None:
        """The first measurement of that metric, or None."""
        for m in self.measurements:
            if m.metric == metric:
                return m
        return None


# note["latency_resolution"] values the parsers write -> worst relative error of a
# latency figure with that label (None: only absolute rounding or a bracket in the
# note). analyze uses this to refuse judging an effect smaller than the error.
LATENCY_RESOLUTION: dict[str, float | None] = {
    "exact": 0.0,  # mutilate --save samples (every GET)
    "hdr-3sig": 0.001,  # HdrHistogram, 3 significant digits
    "hdr-2sig": 0.01,  # HdrHistogram, 2 significant digits (memtier 2.3.0)
    "fio-log-linear-64": 1 / 64,  # fio latency bins: 64 per power of two
    "log-bins-10pct": 0.10,  # mutilate's table: 1.1^i bins, interpolated
    "coarse-pow2": 1.0,  # memaslap Log2 Dist: a factor-2 bracket (note bracket_us)
    "hdr-txt-rows": None,  # memtier .txt percentile rows (note bracket_us)
    "fio-text-rounded": None,  # fio text report, integers in its unit
    "integer-us": None,  # memaslap Avg, whole us
    "printed-0.1us": None,  # mutilate avg, 0.1 us
    "printed-10us": None,  # memtier .txt mean, 10 us
}

# format name -> (module, function). Resolved lazily by PARSERS.
_REGISTRY: dict[str, tuple[str, str]] = {
    "memtier-json": ("benchctl.parsers.memtier", "parse_json"),
    "memtier-text": ("benchctl.parsers.memtier", "parse_text"),
    "memtier-hdr-txt": ("benchctl.parsers.memtier", "parse_hdr_txt"),
    "memtier-hgrm": ("benchctl.parsers.memtier", "parse_hgrm"),
    "mutilate": ("benchctl.parsers.mutilate", "parse"),
    "mutilate-samples": ("benchctl.parsers.mutilate", "parse_samples"),
    "memaslap": ("benchctl.parsers.memaslap", "parse"),
    "perf-stat-csv": ("benchctl.parsers.perf_stat", "parse_csv"),
    "perf-stat-json": ("benchctl.parsers.perf_stat", "parse_json"),
    "perf-stat-text": ("benchctl.parsers.perf_stat", "parse_text"),
    "fio-json": ("benchctl.parsers.fio", "parse_json"),
    "fio-text": ("benchctl.parsers.fio", "parse_text"),
    "xfs_io": ("benchctl.parsers.xfs_io", "parse"),
    "tlb-probe": ("benchctl.parsers.tlbprobe", "parse"),
}

# tool name (as given to `benchctl import TOOL`) -> the formats it may produce
TOOL_FORMATS: dict[str, tuple[str, ...]] = {
    "memtier": ("memtier-json", "memtier-text", "memtier-hgrm", "memtier-hdr-txt"),
    "mutilate": ("mutilate", "mutilate-samples"),
    "memaslap": ("memaslap",),
    "perf": ("perf-stat-csv", "perf-stat-json", "perf-stat-text"),
    "fio": ("fio-json", "fio-text"),
    "xfs_io": ("xfs_io",),
}


def _lazy(fmt: str, module: str, attr: str) -> Callable[[str], ParseResult]:
    """A parse function that imports its tool module on first call."""

    def parse_fn(text: str) -> ParseResult:
        return getattr(importlib.import_module(module), attr)(text)

    parse_fn.__name__ = f"parse_{fmt.replace('-', '_')}"
    parse_fn.__doc__ = f"Parse {fmt} output ({module}.{attr})."
    return parse_fn


PARSERS: dict[str, Callable[[str], ParseResult]] = {
    fmt: _lazy(fmt, module, attr) for fmt, (module, attr) in _REGISTRY.items()
}


def parse(fmt: str, text: str) -> ParseResult:
    """Parse text in the named format (KeyError for an unknown format name)."""
    return PARSERS[fmt](text)


_PERF_CSV_ROW = re.compile(
    r"^(\s*\d+\.\d+[,;\t])?"  # -I timestamp
    r"([^,;\t\s]+[,;\t](\d+[,;\t])?)?"  # aggregation id (CPU0, S0,2, comm-pid), CPU count
    r"(-?[\d.]+|<not supported>|<not counted>)[,;\t]"  # value
    r"[^,;\t]*[,;\t]"  # unit
    r"[^,;\t]+[,;\t]"  # event
    r"(-?[\d.]+%[,;\t])?"  # -r variance
    r"\d+[,;\t][\d.]+",  # run time, percentage running
    re.M,
)


def detect(text: str) -> str | None:
    """Guess the format of a tool output, or None when nothing matches.

    Checks the most specific markers first; the guess is confirmed by the
    parser itself, which raises ParseError when it was wrong.
    """
    head = text[:200_000]
    if head.startswith("tlb-probe 1"):
        return "tlb-probe"
    if '"counter-value"' in head:
        return "perf-stat-json"
    if '"fio version"' in head or ('"jobs"' in head and '"clat' in head):
        return "fio-json"
    if head.lstrip().startswith("{") and (
        '"ALL STATS"' in head or '"run information"' in head or "AGGREGATED AVERAGE RESULTS" in head
    ):
        return "memtier-json"
    if "Interval_Compressed_Histogram" in head or re.search(r"^[\d.]+,[\d.]+,[\d.]+,HISTF", head, re.M):
        return "memtier-hgrm"
    if re.search(r"^\s*Value\s+Percentile\s+TotalCount", head, re.M):
        return "memtier-hdr-txt"
    if (
        re.search(r"^(ALL STATS|BEST RUN RESULTS|WORST RUN RESULTS|AGGREGATED AVERAGE RESULTS)", head, re.M)
        and "Ops/sec" in head
    ):
        return "memtier-text"
    if "Total QPS =" in head or re.search(r"^#type\s+avg\s", head, re.M) or re.search(r"^\$ mutilate\b", head, re.M):
        return "mutilate"
    if (
        re.search(r"^Run time: \S+ Ops: \d+ TPS: \d+", head, re.M)
        or re.search(r"^threads count: \d+", head, re.M)
        or re.search(r"^(Get|Set|Total) Statistics", head, re.M)
    ):
        return "memaslap"
    if "Performance counter stats for" in head:
        return "perf-stat-text"
    if re.search(r"^\S+: \(groupid=\d+, jobs=\d+\)", head, re.M) or re.search(r"^\s*(write|read): IOPS=", head, re.M):
        return "fio-text"
    if (
        re.search(r"^(read|wrote) \d+/\d+ bytes at offset \d+", head, re.M)
        or re.search(r"^\d+,\d+,\d+:\d\d:\d\d\.\d\d,[\d.]+,[\d.]+\s*$", head, re.M)
        or re.search(r"^\$ xfs_io\b", head, re.M)
    ):
        return "xfs_io"
    if _PERF_CSV_ROW.search(head) or re.search(r"^\$ perf stat\b", head, re.M):
        return "perf-stat-csv"
    lines = [ln for ln in head.splitlines() if ln.strip()]
    if lines and all(re.fullmatch(r"\s*\d+(\.\d+)?\s+\d+(\.\d+)?\s*", ln) for ln in lines[:50]):
        return "mutilate-samples"
    return None


# The public entry points: what a command, another package or a test may import from here.
__all__ = [
    "ParseError",
    "Measurement",
    "ParseResult",
    "PARSERS",
    "TOOL_FORMATS",
    "LATENCY_RESOLUTION",
    "detect",
    "parse",
    "fio",
    "hdr",
    "memaslap",
    "memtier",
    "mutilate",
    "perf_events",
    "perf_stat",
    "tlbprobe",
    "versions",
    "xfs_io",
]
