"""Versions of the workload tools found on PATH.

Only live: a recorded tree has no executables. Each tool is asked for its
version with an argument list and a short timeout, all in parallel, and the
answer is cached per (executable, mtime, size) so the run engine's
before/after fingerprints do not pay twice.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

from benchctl.env.probes.base import Context

TIMEOUT_S = 2.0
# tool -> arguments that print its version
VERSION_ARGS: dict[str, list[str]] = {
    "memcached": ["-V"],
    "memtier_benchmark": ["--version"],
    "mutilate": ["--version"],
    "memcaslap": ["--version"],
    "memaslap": ["--version"],
    "fio": ["--version"],
    "xfs_io": ["-V"],
    "mkfs.xfs": ["-V"],
    "cryptsetup": ["--version"],
    "perf": ["--version"],
}
_VERSION = re.compile(r"\bv?(\d+(?:\.\d+)+[\w.+~-]*)")

_cache: dict[tuple[str, int, int], tuple[str | None, str]] = {}
_cache_lock = threading.Lock()


def version_from_output(text: str) -> str | None:
    """The first line's version: kept whole when it is one token ("fio-3.33"),
    else its first dotted number ("memcached 1.6.18" -> "1.6.18")."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if not line:
        return None
    if " " not in line and any(c.isdigit() for c in line):
        return line
    m = _VERSION.search(line)
    return m[1] if m else None


def probe_tool(exe: str, args: list[str]) -> tuple[str | None, str]:
    """(version or None, source-or-reason)."""
    try:
        st = os.stat(exe)
        key = (exe, st.st_mtime_ns, st.st_size)
    except OSError as e:
        return None, f"{exe}: {e.strerror}"
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    argv = [exe, *args]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=TIMEOUT_S, check=False,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        result: tuple[str | None, str] = (None, f"{' '.join(argv)}: no answer within {TIMEOUT_S:g} s")
    except OSError as e:
        result = (None, f"{' '.join(argv)}: {e.strerror or e}")
    else:
        out = proc.stdout.decode(errors="replace") or proc.stderr.decode(errors="replace")
        # A failing wrapper (Debian's perf: "perf not found for kernel 6.18") prints numbers too.
        version = version_from_output(out) if proc.returncode == 0 else None
        if version is None:
            first = next((ln.strip() for ln in out.splitlines() if ln.strip()), "")
            result = (None, f"{' '.join(argv)}: exit {proc.returncode}, no version in {first[:100]!r}")
        else:
            result = (version, " ".join(argv))
    with _cache_lock:
        _cache[key] = result
    return result


class ToolsProbe:
    """Started first and finished last, so the subprocesses overlap the file probes."""

    def start(self, ctx: Context) -> Callable[[], None]:
        if not ctx.live:
            ctx.miss("tools", "recorded tree: tool versions are probed only on the live system")
            return lambda: None
        found = {name: ctx.which(name) for name in VERSION_ARGS}
        runnable = {name: exe for name, exe in found.items() if exe}
        pool = ThreadPoolExecutor(max_workers=max(1, len(runnable)), thread_name_prefix="benchctl-tools")
        futures: dict[str, Future] = {name: pool.submit(probe_tool, exe, VERSION_ARGS[name])
                                      for name, exe in runnable.items()}
        pool.shutdown(wait=False)

        def finish() -> None:
            for name in VERSION_ARGS:
                if name not in futures:
                    ctx.miss(f"tools.{name}", "not on PATH")
                    continue
                version, note = futures[name].result()
                if version is None:
                    ctx.miss(f"tools.{name}", note)
                else:
                    ctx.set(f"tools.{name}", version, note)

        return finish
