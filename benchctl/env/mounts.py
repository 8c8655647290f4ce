"""The mount table (/proc/self/mountinfo) under an injectable root.

One reader for every part of benchctl that asks what is mounted where: the
device safety gate, the block stack, cleanup of temporary folders (which must
never descend into a filesystem mounted inside them) and the seqread
driver's filesystem check.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path("/")
_OCTAL = re.compile(r"\\([0-7]{3})")


def unescape(field: str) -> str:
    """Decode the kernel's octal escapes in mount paths (\\040 is a space)."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_mountinfo(text: str) -> list[dict[str, str]]:
    """Rows of /proc/self/mountinfo: devnum (major:minor), target, fstype, source.

    Format (proc(5)): id parent major:minor root mountpoint options [optional...] - fstype source superopts.
    """
    rows = []
    for line in text.splitlines():
        parts = line.split(" ")
        if len(parts) < 10 or "-" not in parts[6:]:
            continue
        sep = parts.index("-", 6)
        rows.append({
            "devnum": parts[2],
            "target": unescape(parts[4]),
            "fstype": parts[sep + 1] if len(parts) > sep + 1 else "",
            "source": unescape(parts[sep + 2]) if len(parts) > sep + 2 else "",
        })
    return rows


def mounts(root: Path = ROOT) -> list[dict[str, str]]:
    """The mount table of this process (or of pid 1 when /proc/self is not readable)."""
    for rel in ("proc/self/mountinfo", "proc/1/mountinfo"):
        try:
            text = (root / rel).read_text()
        except OSError:
            continue
        if text:
            return parse_mountinfo(text)
    return []


def mounted(path: str, root: Path = ROOT) -> bool:
    return any(m["target"] == path for m in mounts(root))


def mounts_under(path: str, root: Path = ROOT) -> list[str]:
    """Mount points at or below `path`."""
    base = os.path.realpath(path).rstrip("/")
    return [m["target"] for m in mounts(root) if m["target"] == base or m["target"].startswith(base + "/")]
