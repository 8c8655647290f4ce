"""The kernel log written during a run, and whether it shows the kernel misbehaving.

A run whose kernel printed a BUG or a WARNING (e.g. "sleeping function
called from invalid context" from a page-table split under a spinlock) is
not a clean measurement of the change; it is marked tainted and the lines
are shown, so analyze can exclude it. /dev/kmsg gives every record a
sequence number, so "written during the run" is exact; where it cannot be
read, `dmesg` timestamps (seconds since boot) are the fallback (both read by env/kmsg.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from benchctl.env.kmsg import KMSG, DmesgError, KmsgRecord, read_kmsg, run_dmesg

TAINT_PATTERNS = ("BUG:", "WARNING:", "Invalid wait context", "sleeping function called from invalid context")
_DMESG_LINE = re.compile(r"^\[\s*(\d+\.\d+)\]\s?(.*)$")


@dataclass(frozen=True)
class Mark:
    """Where the log stood when the run started."""

    source: str                 # "kmsg" | "dmesg" | "none"
    seq: int | None = None      # last /dev/kmsg sequence number seen
    uptime_s: float | None = None


def _records(path: str) -> list[KmsgRecord] | None:
    try:
        return read_kmsg(path)
    except OSError:
        return None


def _dmesg() -> str | None:
    try:
        return run_dmesg()
    except DmesgError:
        return None


def _uptime(proc: Path = Path("/proc")) -> float | None:
    try:
        return float((proc / "uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def mark(kmsg: str = KMSG) -> Mark:
    recs = _records(kmsg)
    if recs is not None:
        return Mark("kmsg", seq=max((r.seq for r in recs), default=-1), uptime_s=_uptime())
    return Mark("dmesg" if _dmesg() is not None else "none", uptime_s=_uptime())


def since(m: Mark, kmsg: str = KMSG) -> tuple[list[str], str | None]:
    """Lines logged after the mark as '[seconds] message', and a warning if the view is incomplete."""
    if m.source == "kmsg":
        recs = _records(kmsg)
        if recs is not None:
            last = m.seq if m.seq is not None else -1
            new = [r for r in recs if r.seq > last]
            warn = None
            if new and m.seq is not None and new[0].seq > m.seq + 1:
                warn = "the kernel ring buffer wrapped during the run: some kernel log lines were lost"
            return [f"[{r.t:12.6f}] {r.message}" for r in new], warn
    text = _dmesg()
    if text is None:
        return [], "kernel log not readable (/dev/kmsg and dmesg both failed): taint not checked"
    start = m.uptime_s or 0.0
    out = []
    for line in text.splitlines():
        mm = _DMESG_LINE.match(line)
        if mm and float(mm.group(1)) >= start:
            out.append(line)
    return out, None


def taint_lines(lines: list[str]) -> list[str]:
    """The lines that mark a run as tainted (kernel BUG, WARNING, invalid-context splats)."""
    return [ln for ln in lines if any(p in ln for p in TAINT_PATTERNS)]
