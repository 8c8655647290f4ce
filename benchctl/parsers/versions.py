"""Version strings from the tools' --version outputs, recorded with every run.

Each function takes the tool's output as text and returns the bare version
("3.33", "6.1.0", ...) or raises ParseError.
"""

from __future__ import annotations

from typing import Callable

from benchctl.parsers.textutil import match_version
from benchctl.parsers.fio import parse_version as fio
from benchctl.parsers.memtier import parse_version as memtier
from benchctl.parsers.mutilate import parse_version as mutilate
from benchctl.parsers.perf_stat import parse_version as perf
from benchctl.parsers.xfs_io import parse_version as xfs_io


def memcached(text: str) -> str:
    """'memcached 1.6.18' (memcached -V) -> '1.6.18'."""
    return match_version(r"\bmemcached (\d+\.\d+(?:\.\d+)?\S*)", text, "'memcached X.Y.Z' from memcached -V")


def memaslap(text: str) -> str:
    """'memaslap v1.0' / 'memcaslap v1.0' (memcaslap -V) -> '1.0'."""
    return match_version(r"\bmemc?aslap v?(\d+\.\d+(?:\.\d+)?)", text, "'memaslap vX.Y' from memcaslap -V")


# tool -> (argv that prints the version, parser)
VERSION_COMMANDS: dict[str, tuple[list[str], Callable[[str], str]]] = {
    "fio": (["fio", "--version"], fio),
    "xfs_io": (["xfs_io", "-V"], xfs_io),
    "memcached": (["memcached", "-V"], memcached),
    "perf": (["perf", "--version"], perf),
    "memtier_benchmark": (["memtier_benchmark", "--version"], memtier),
    "memcaslap": (["memcaslap", "-V"], memaslap),
    "mutilate": (["mutilate", "--version"], mutilate),
}


def parse_version(tool: str, text: str) -> str:
    """The version of `tool` from its version output (KeyError for an unknown tool)."""
    return VERSION_COMMANDS[tool][1](text)
