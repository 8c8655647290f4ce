"""The one text width: every line benchctl prints fits a 72-column mail reply.

Reports, `env`, the model and campaign output are pasted into review replies
on a list, where lines past 72 columns are re-wrapped by mail clients and
tables fall apart; so every text output goes through these two functions.
"""

from __future__ import annotations

import re
import textwrap

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
