"""The kernel log written during a run, and whether it shows the kernel misbehaving.

A run whose kernel printed a BUG or a WARNING (e.g. "sleeping function
called from invalid context" from a page-table split under a spinlock) is
not a clean measurement of the change; it is marked tainted and the lines
are shown, so analyze can exclude it. /dev/kmsg gives every record a
sequence number, so "written during the run" is exact; where it cannot be
read, `dmesg` timestamps (seconds since boot) are the fallback.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

TAINT_PATTERNS = ("BUG:", "WARNING:", "Invalid wait context", "sleeping function called from invalid context")
_KMSG_RECORD = re.compile(r"^(\d+),(\d+),(\d+),[^;]*;(.*)$")
_DMESG_LINE = re.compile(r"^\[\s*(\d+\.\d+)\]\s?(.*)$")


@dataclass(frozen=True)
class Mark:
    """Where the log stood when the run started."""

    source: str                 # "kmsg" | "dmesg" | "none"
    seq: int | None = None      # last /dev/kmsg sequence number seen
    uptime_s: float | None = None


def _read_kmsg(path: Path) -> list[tuple[int, float, str]] | None:
    """All records in the ring buffer as (seq, seconds since boot, message), or None if unreadable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    out = []
    try:
        while True:
            try:
                rec = os.read(fd, 8192)
            except BlockingIOError:
                break
            except BrokenPipeError:   # EPIPE: records overwritten while reading; go on from the next one
                continue
            if not rec:
                break
            text = rec.decode("utf-8", errors="replace")
            m = _KMSG_RECORD.match(text.split("\n", 1)[0])
            if m:
                out.append((int(m.group(2)), int(m.group(3)) / 1e6, m.group(4)))
    finally:
        os.close(fd)
    return out


def _uptime(proc: Path = Path("/proc")) -> float | None:
    try:
        return float((proc / "uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def mark(kmsg: Path = Path("/dev/kmsg")) -> Mark:
    recs = _read_kmsg(kmsg)
    if recs is not None:
        return Mark("kmsg", seq=max((r[0] for r in recs), default=-1), uptime_s=_uptime())
    return Mark("dmesg" if _dmesg() is not None else "none", uptime_s=_uptime())


def _dmesg() -> str | None:
    try:
        p = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.stdout if p.returncode == 0 else None


def since(m: Mark, kmsg: Path = Path("/dev/kmsg")) -> tuple[list[str], str | None]:
    """Lines logged after the mark as '[seconds] message', and a warning if the view is incomplete."""
    if m.source == "kmsg":
        recs = _read_kmsg(kmsg)
        if recs is not None:
            new = [r for r in recs if r[0] > (m.seq if m.seq is not None else -1)]
            warn = None
            if new and m.seq is not None and min(r[0] for r in new) > m.seq + 1:
                warn = "the kernel ring buffer wrapped during the run: some kernel log lines were lost"
            return [f"[{t:12.6f}] {msg}" for _, t, msg in new], warn
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
