"""Small text helpers shared by the tool parsers."""

from __future__ import annotations

import math
import re

# Lines our recorded transcripts add around real tool output ("$ cmd", "[perf exit=0]", "exit=1").
_TRANSCRIPT = re.compile(r"^(\$ .*|\[[\w ]*exit=\d+\]|exit=\d+|\(no output.*\))$")


def is_transcript_line(line: str) -> bool:
    """True for the command echo and exit-status lines of a recorded session, not tool output."""
    return bool(_TRANSCRIPT.match(line.strip()))


def lines(text: str) -> list[str]:
    """Lines of text, treating a bare \\r (progress/ETA redraws) as a line break too."""
    return re.split(r"\r\n|\r|\n", text)


def finite(value: float, what: str) -> float:
    """The value if finite; tools never print NaN or inf, so those mean a corrupt file."""
    from benchctl.parsers import ParseError

    if not math.isfinite(value):
        raise ParseError(f"expected a finite number for {what}, got {value!r}")
    return value


def to_float(s: str, what: str) -> float:
    """float(s), or ParseError naming what was expected."""
    from benchctl.parsers import ParseError

    try:
        v = float(s)
    except (TypeError, ValueError):
        raise ParseError(f"expected a number for {what}, got {s!r}") from None
    return finite(v, what)


def match_version(pattern: str, text: str, expected: str) -> str:
    """Group 1 of the first match of `pattern` in a tool's version output, else ParseError("expected ...")."""
    from benchctl.parsers import ParseError

    m = re.search(pattern, text)
    if not m:
        raise ParseError(f"expected {expected}")
    return m.group(1)


def guarded(fn):
    """Check a parser's result: every measurement a finite float, else ParseError.

    Also reports Python's int-conversion digit limit (a number thousands of
    digits long) as a ParseError.

    Every int() in the parsers converts a regex-matched run of digits, which
    cannot fail except on that limit (sys.get_int_max_str_digits, 4300).
    """
    import functools

    @functools.wraps(fn)
    def wrapper(text: str, *args, **kwargs):
        from benchctl.parsers import ParseError

        try:
            result = fn(text, *args, **kwargs)
        except ValueError as e:
            if "digits" in str(e) and "limit" in str(e):
                raise ParseError("expected a number of sensible length, got one thousands of digits long") from None
            raise
        for m in result.measurements:
            if not isinstance(m.value, float) or not math.isfinite(m.value):
                raise ParseError(f"{m.metric} came out as {m.value!r}: the numbers in this output are out of range")
        return result

    return wrapper
