"""Which process is which: identities that survive pid reuse, run tokens, and stopping a process.

A pid alone may have been reused; pid + start time + boot id names one
process for the life of the machine. Every process a run starts carries a
random token in its environment (ENV_TOKEN), inherited through fork/exec, so
`benchctl cleanup` can prove a process is a run's even when it never saw its
pid. psutil reads /proc for status, environment and executable; the start
time is the one field read by hand (see proc_start_time).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import psutil

ENV_TOKEN = "BENCHCTL_RESOURCE"


def proc_start_time(pid: int, proc: Path = Path("/proc")) -> int | None:
    """Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), None if gone.

    Read by hand, not with psutil: psutil's create_time() adds the boot time
    from /proc/stat `btime`, which moves when the clock is stepped, so two
    benchctl processes could disagree about the same process; the tick count
    never changes. Ledgers and run.json store this number.
    """
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # comm may hold spaces and parentheses: split after the LAST ')'
    rest = stat[stat.rfind(")") + 2 :].split()
    try:
        return int(rest[19])
    except (IndexError, ValueError):
        return None


def boot_id(proc: Path = Path("/proc")) -> str | None:
    try:
        return (proc / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def process_identity(pid: int | None = None) -> dict[str, Any]:
    """{pid, start_time, boot_id, exe}: what run.json and ledgers keep to recognise their owner later."""
    pid = os.getpid() if pid is None else pid
    try:
        exe: str | None = psutil.Process(pid).exe() or None
    except psutil.Error:
        exe = None
    return {"pid": pid, "start_time": proc_start_time(pid), "boot_id": boot_id(), "exe": exe}


def identity_alive(ident: dict[str, Any]) -> bool:
    """Is the process named by `ident` (pid, start_time, boot_id) still running?"""
    pid = ident.get("pid")
    if not isinstance(pid, int):
        return False
    here = boot_id()
    if ident.get("boot_id") and here and ident["boot_id"] != here:
        return False
    st = proc_start_time(pid)
    return st is not None and st == ident.get("start_time")


def is_zombie(pid: int) -> bool:
    """Exited but not reaped: it holds no memory, port or file, only a pid entry."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def carries_token(pid: int, token: str) -> bool:
    """Does the process's environment hold ENV_TOKEN=token (proof that a run started it)?"""
    try:
        return psutil.Process(pid).environ().get(ENV_TOKEN) == token
    except psutil.Error:
        return False


def token_processes(token: str | None) -> list[int]:
    """Live processes whose environment carries our token: the one we started and its descendants."""
    if not token:
        return []
    me = os.getpid()
    return [
        p.pid for p in psutil.process_iter() if p.pid != me and carries_token(p.pid, token) and not is_zombie(p.pid)
    ]


def group_alive(pgid: int) -> bool:
    """Does any live (non-zombie) process remain in process group `pgid`?"""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    for pid in psutil.pids():
        try:
            if os.getpgid(pid) == pgid and not is_zombie(pid):
                return True
        except OSError:
            continue
    return False


def terminate_process(pid: int, start_time: int | None, grace_s: float = 3.0) -> None:
    """SIGTERM, wait, then SIGKILL; only while pid still has the recorded start time."""

    def same() -> bool:
        st = proc_start_time(pid)
        return st is not None and (start_time is None or st == start_time)

    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 2.0)):
        if not same():
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:  # reap it if it is our child
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            if not same() or is_zombie(pid):
                return
            time.sleep(0.02)
