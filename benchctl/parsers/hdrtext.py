"""Parse HdrHistogram percentile-distribution text (memtier --hdr-file-prefix *.txt).

The format (HdrHistogram outputPercentileDistribution) is a header line
"Value Percentile TotalCount 1/(1-Percentile)", rows of those four numbers
(the last row's 1/(1-p) is "inf"), then "#[Mean = ..., StdDeviation = ...]"
style footer lines. memtier writes values in milliseconds. Used by the
latency plot of `analyze --plots`; a pure function over the text so it is
tested on the recorded fixture.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HEADER = re.compile(r"^\s*Value\s+Percentile\s+TotalCount\s+1/\(1-Percentile\)\s*$")


@dataclass
class PercentileCurve:
    values: list[float]        # latency at each percentile (tool units)
    percentiles: list[float]   # 0..1
    total_count: int | None
    mean: float | None
    max: float | None


def is_percentile_text(first_line: str) -> bool:
    return bool(HEADER.match(first_line))


def parse(text: str) -> PercentileCurve:
    """Rows after the header; raises ValueError if there is no header or no row."""
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if HEADER.match(ln)), None)
    if start is None:
        raise ValueError("no 'Value Percentile TotalCount 1/(1-Percentile)' header")
    values, pcts = [], []
    total = mean = mx = None
    for ln in lines[start + 1:]:
        s = ln.strip()
        if not s:
            continue
        if s.startswith("#["):
            for key, val in re.findall(r"(\w[\w ]*?)\s*=\s*([-0-9.eE+]+)", s):
                key = key.strip()
                if key == "Mean":
                    mean = float(val)
                elif key == "Max":
                    mx = float(val)
                elif key == "Total count":
                    total = int(float(val))
            continue
        parts = s.split()
        if len(parts) != 4:
            raise ValueError(f"unexpected row {s!r}")
        values.append(float(parts[0]))
        pcts.append(float(parts[1]))
    if not values:
        raise ValueError("no percentile rows")
    return PercentileCurve(values, pcts, total, mean, mx)
