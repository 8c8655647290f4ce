"""Numbers as a reader writes them: 243.1 GiB, 6.45 GiB/s, 287.3k ops/s, 1.25 ms.

Byte quantities use binary prefixes (meminfo's "kB" is KiB; fio's KiB/s;
xfs_io's B/s); counts and rates use decimal k/M/G; microseconds become ms
or s when large. ASCII only ("us", not the micro sign): the text reports go
into plain-text mail. Four significant digits are enough for a mean next to
an interval in percent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from benchctl.human import BINARY_PREFIXES, binary_prefix

_SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))
# unit in the data -> (bytes per unit, suffix after the binary prefix)
_BYTES = {
    "B": (1, "B"),
    "kB": (1024, "B"),
    "KiB": (1024, "B"),
    "MiB": (1 << 20, "B"),
    "B/s": (1, "B/s"),
    "KiB/s": (1024, "B/s"),
    "MiB/s": (1 << 20, "B/s"),
}


def _sig(x: float, digits: int = 4) -> str:
    if x == 0:
        return "0"
    d = max(0, digits - 1 - int(math.floor(math.log10(abs(x)))))
    return f"{x:.{d}f}"


def _binary(x: float, suffix: str) -> str:
    v, prefix = binary_prefix(x)
    return f"{_sig(v)} {prefix}{suffix}"


def human(x: float | None, unit: str) -> str:
    """x (in `unit`) with a readable prefix and unit: human(2.549e8, "kB") == "243.1 GiB"."""
    if x is None or not math.isfinite(x):
        return "n/a"
    if unit in _BYTES:
        scale, suffix = _BYTES[unit]
        return _binary(x * scale, suffix)
    if unit == "us":
        if abs(x) >= 1e6:
            return f"{_sig(x / 1e6)} s"
        if abs(x) >= 1e3:
            return f"{_sig(x / 1e3)} ms"
        return f"{_sig(x)} us"
    if unit == "fraction":
        return f"{_sig(100 * x)} %"
    tail = f" {unit}" if unit else ""
    for size, prefix in _SI:
        if abs(x) >= size:
            return f"{_sig(x / size)}{prefix}{tail}"
    return f"{_sig(x)}{tail}"


def sd_pct(var: float | None, mean: float | None) -> str:
    """A variance component as a standard deviation in percent of the mean ("0.71 %")."""
    if var is None or mean in (None, 0) or not math.isfinite(var) or not math.isfinite(mean):
        return "n/a"
    return f"{100 * math.sqrt(max(var, 0.0)) / abs(mean):.2g} %"


def design(boots: int, per_boot: list[int] | None = None, iterations: int | None = None) -> str:
    """The one notation for a design, boots x iterations per boot: "4x5", "3x1-3"."""
    if per_boot:
        lo, hi = min(per_boot), max(per_boot)
        its = f"{lo}" if lo == hi else f"{lo}-{hi}"
    else:
        its = str(iterations if iterations is not None else "?")
    return f"{boots}x{its}"


def axis_scale(values: Iterable[float | None], unit: str) -> tuple[float, str]:
    """(divisor, unit label) so an axis reads 6.5 GiB/s or 287k ops/s instead of 1e8 offsets."""
    finite = [abs(float(v)) for v in values if v is not None and math.isfinite(float(v))]
    top = max(finite) if finite else 0.0
    if unit in _BYTES:
        scale, suffix = _BYTES[unit]
        prefix = binary_prefix(top * scale)[1]
        return 1024 ** BINARY_PREFIXES.index(prefix) / scale, f"{prefix}{suffix}"
    if unit == "us":
        return (1e6, "s") if top >= 1e6 else (1e3, "ms") if top >= 1e4 else (1.0, "us")
    for size, prefix in _SI:
        if top >= size:
            return size, f"{prefix} {unit}".strip() if unit else prefix
    return 1.0, unit
