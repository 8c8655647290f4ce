"""Parse and print byte sizes ("256G", "256GiB", "1T", "512M", "4k"), for every part of benchctl.

Binary multiples throughout: the kernel's sizes (granules, blocks, RAM in
MemTotal) are powers of two, fio and xfs_io read "100G" as GiB, and "256G"
on a box with 256 GiB means GiB.
"""

from __future__ import annotations

import re

from benchctl.errors import InputError

_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kmgtp]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str | int, what: str = "size", *, error: type[Exception] = InputError) -> int:
    """Bytes in `text`; `error` (one line) for negative or unparseable input.

    Callers pick the error that fits where the text came from: UsageError
    for a command-line option, InputError for a file, ValueError inside a
    validator that adds its own context.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0:
            raise error(f"{what} must not be negative: {text}")
        return text
    s = str(text).strip()
    if s.startswith("-"):
        raise error(f"{what} must not be negative: {s!r}")
    m = _RE.match(s)
    if not m:
        raise error(f"cannot parse {what} {s!r}; use e.g. 256G, 256GiB, 1T, 512M")
    value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if value != int(value):
        raise error(f"{what} {s!r} is not a whole number of bytes")
    return int(value)


def fmt_size(n: int | float) -> str:
    """Shortest exact binary rendering ("512 MiB", "8 KiB", "1.5 GiB")."""
    n = float(n)
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= scale:
            v = n / scale
            num = f"{v:.0f}" if v == int(v) else f"{v:.3f}".rstrip("0").rstrip(".")
            return f"{num} {unit}"
    return f"{n:.0f} B"
