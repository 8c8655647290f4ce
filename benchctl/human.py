"""What people type and read: byte sizes ("256G") and the 72-column width of every text output.

Sizes use binary multiples throughout: the kernel's sizes (granules,
blocks, RAM in MemTotal) are powers of two, fio and xfs_io read "100G" as
GiB, and "256G" on a box with 256 GiB means GiB.

Width: reports, `env`, the model and campaign output are pasted into
review replies on a list, where lines past 72 columns are re-wrapped by
mail clients and tables fall apart; every text output goes through
`wrap` or `fit`.
"""

from __future__ import annotations

import re
import textwrap

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


def count(n: int, word: str, plural: str | None = None) -> str:
    """ "1 iteration", "5 iterations": a count with its noun in the right number."""
    return f"{n} {word if n == 1 else (plural or word + 's')}"


BINARY_PREFIXES = ("", "Ki", "Mi", "Gi", "Ti", "Pi")


def binary_prefix(n: float, largest: str = "Pi") -> tuple[float, str]:
    """(n scaled, its binary prefix): the largest prefix, up to `largest`, that leaves |n| >= 1.

    The one ladder for bytes: sizes people type back (`fmt_size`) and the
    rounded figures of the reports and their axes (analyze/report/units.py).
    """
    i, top = 0, BINARY_PREFIXES.index(largest)
    while abs(n) >= 1024 and i < top:
        n /= 1024
        i += 1
    return n, BINARY_PREFIXES[i]


def fmt_size(n: int | float) -> str:
    """Shortest exact binary rendering ("512 MiB", "8 KiB", "1.5 GiB")."""
    v, prefix = binary_prefix(float(n), largest="Ti")
    if not prefix:
        return f"{v:.0f} B"
    num = f"{v:.0f}" if v == int(v) else f"{v:.3f}".rstrip("0").rstrip(".")
    return f"{num} {prefix}B"


def slug(s: str) -> str:
    """A file-name-safe form of a name (run ids, result folders, figure and export files).

    ASCII only, a run of anything else one "_", at most 40 characters: the
    name must also be safe to type and to pass through a shell unquoted.
    """
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s)[:40] or "x"


WIDTH = 72


def wrap(text: str, indent: str = "", first: str | None = None, width: int = WIDTH) -> list[str]:
    """Lines of at most `width` columns; the first starts with `first` (default `indent`).

    Words are not split at hyphens, so option names and paths stay whole
    and copyable; a single word longer than the width is split.
    """
    head = indent if first is None else first
    return textwrap.wrap(text, width, initial_indent=head, subsequent_indent=indent, break_on_hyphens=False) or [
        head.rstrip()
    ]


def fit(text: str, more: int = 4, width: int = WIDTH) -> str:
    """Every line of `text` wrapped to `width`, continuations indented `more` past the line's own indent.

    Paths and commands are not split inside a word, so a path longer than
    the width is the only thing that can leave a line wider.
    """
    out: list[str] = []
    for line in text.splitlines():
        if len(line) <= width:
            out.append(line)
            continue
        lead = re.match(r"\s*", line).group(0)  # type: ignore[union-attr]
        out += textwrap.wrap(
            line.strip(),
            width,
            initial_indent=lead,
            subsequent_indent=lead + " " * more,
            break_on_hyphens=False,
            break_long_words=False,
        )
    return "\n".join(out)
