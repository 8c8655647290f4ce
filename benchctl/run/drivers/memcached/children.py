"""The processes the memcached driver starts: the server, and each generator command.

Every one is recorded in the run's ledger before it starts, runs in its own
process group, dies with benchctl (PR_SET_PDEATHSIG covers a SIGKILL of the
run; the ledger's environment token lets `benchctl cleanup` prove it is ours
in any other case) and, when pinning is on, runs on its own CPUs. The server
binds to 127.0.0.1 only; a generator that outlives its deadline is stopped
with its whole group (perf and the generator perf started).
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from benchctl.errors import InputError, ResourceError, RunFailed
from benchctl.osutil.processes import proc_start_time, terminate_process
from benchctl.run.drivers.base import RunContext
from benchctl.run.proctree import kill_group
from benchctl.run.specs import parse_cpus

PIN_MIN_CPUS = 4
PR_SET_PDEATHSIG = 1
GENERATOR_GRACE_S = 1.0  # a generator (and perf) stopped on a deadline or Ctrl-C gets 1 s, then SIGKILL
START_ATTEMPTS = 5  # a free port can be taken between choosing it and memcached binding it


def cpu_plan(params: dict[str, Any], ncpus: int) -> dict[str, Any]:
    """Disjoint CPU sets for server and generator, or none; the decision and its reason are recorded."""
    pin = params.get("pin", "auto")
    s, c = params.get("server_cpus", "auto"), params.get("client_cpus", "auto")
    if pin == "off" or (pin == "auto" and ncpus < PIN_MIN_CPUS):
        why = "pin=off" if pin == "off" else f"{ncpus} CPUs < {PIN_MIN_CPUS}: splitting would halve both sides"
        return {"pinned": False, "reason": why, "server_cpus": None, "client_cpus": None, "ncpus": ncpus}
    if ncpus < 2:
        raise ResourceError("pin=on needs at least 2 CPUs")
    half = ncpus // 2
    server = list(range(half)) if s in ("auto", "none") else parse_cpus(s)
    client = list(range(half, ncpus)) if c in ("auto", "none") else parse_cpus(c)
    if set(server) & set(client):
        raise InputError(f"server_cpus={s} and client_cpus={c} overlap; pinning needs disjoint sets")
    bad = [x for x in server + client if x >= ncpus]
    if bad:
        raise InputError(f"CPU(s) {bad} do not exist here ({ncpus} CPUs)")
    return {"pinned": True, "reason": f"pin={pin}", "server_cpus": server, "client_cpus": client, "ncpus": ncpus}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_argv(memcached: str, params: dict[str, Any], port: int, as_root: bool) -> list[str]:
    argv = [
        memcached,
        "-l",
        "127.0.0.1",
        "-p",
        str(port),
        "-U",
        "0",
        "-t",
        str(params["threads"]),
        "-m",
        str(params["memory_mb"]),
        "-c",
        str(params["max_connections"]),
    ]
    return argv + (["-u", "root"] if as_root else [])


def child_setup(cpus: list[int] | None) -> Callable[[], None]:
    """preexec_fn: die with benchctl (PDEATHSIG) and run on the given CPUs."""

    def fn() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except OSError:
            pass
        if cpus:
            os.sched_setaffinity(0, cpus)

    return fn


def spawn(
    argv: list[str], env: dict[str, str], stdout: IO[bytes], stderr: IO[bytes], cpus: list[int] | None
) -> subprocess.Popen:
    """Start a child in its own process group (stopping the group stops perf AND what perf started)."""
    return subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        preexec_fn=child_setup(cpus),
        start_new_session=True,
    )


def wait_listening(port: int, proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RunFailed(f"memcached exited with code {proc.returncode} at start (see raw/memcached.log)")
        try:
            # something else may hold the port: only OUR server answers `version` while alive
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as c:
                c.sendall(b"version\r\n")
                c.settimeout(1.0)
                if c.recv(64).startswith(b"VERSION ") and proc.poll() is None:
                    return
        except OSError as e:
            last = e.strerror or str(e)
        time.sleep(0.02)
    hint = "; is the loopback interface up (ip link set lo up)?" if "unreachable" in last.lower() else ""
    raise RunFailed(f"memcached did not answer on 127.0.0.1:{port} within {timeout_s:.0f} s (last: {last}){hint}")


def start_server(ctx: RunContext, memcached: str, work: Path) -> tuple[list[str], int]:
    """Start memcached on a free loopback port (or the one asked for) and wait until it answers.

    Sets ctx.state server, server_rid and port; returns (argv, port).
    """
    p = ctx.params
    as_root = os.geteuid() == 0
    attempt = 1
    while True:
        port = p["port"] or free_port()
        argv = server_argv(memcached, p, port, as_root)
        rid, env = ctx.ledger.add_process(argv)
        with open(work / "memcached.log", "ab") as log:
            proc = spawn(argv, env, log, log, ctx.state["cpus"]["server_cpus"])
        ctx.ledger.process_started(rid, proc.pid)
        ctx.state.update(server=proc, server_rid=rid, port=port)
        ctx.log_command(argv, rc=None, role="server", pid=proc.pid)
        try:
            wait_listening(port, proc)
            return argv, port
        except RunFailed:
            stop_server(ctx)
            if p["port"] or attempt == START_ATTEMPTS:
                raise
        attempt += 1


def stop_server(ctx: RunContext) -> None:
    """Stop the server (SIGTERM, then SIGKILL, only while it is still the process we started)."""
    proc: subprocess.Popen | None = ctx.state.get("server")
    rid = ctx.state.get("server_rid")
    if proc is not None:
        if proc.poll() is None:
            terminate_process(proc.pid, proc_start_time(proc.pid))
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        ctx.state["server"] = None
    if rid is not None:
        ctx.ledger.removed(rid)
        ctx.state["server_rid"] = None


def time_limit(params: dict[str, Any]) -> float:
    """A generator that outlives its duration this much is stuck (preload is sized by keys, not time)."""
    return 3.0 * params["duration_s"] + 60.0 + params["keys"] / 5000.0


def run_generator(
    ctx: RunContext,
    argv: list[str],
    out: Path,
    *,
    iteration: int | None,
    role: str,
    gen_argv: list[str] | None = None,
) -> tuple[int, str, str]:
    """Run one command to completion, output to files; the process dies with benchctl."""
    rid, env = ctx.ledger.add_process(argv)
    cpus = ctx.state["cpus"]["client_cpus"]
    with open(out, "wb") as fo, open(out.with_suffix(".stderr"), "wb") as fe:
        proc = spawn(argv, env, fo, fe, cpus)
        ctx.ledger.process_started(rid, proc.pid)
        limit = time_limit(ctx.params)
        try:
            rc = proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            kill_group(proc, grace_s=GENERATOR_GRACE_S)
            ctx.ledger.removed(rid)
            ctx.log_command(argv, rc=None, iteration=iteration, role=role, timed_out_s=limit)
            raise RunFailed(
                f"{role}: {Path(argv[0]).name} did not finish within {limit:.0f} s (server not answering?); stopped it"
            ) from None
        except BaseException:
            kill_group(proc, grace_s=GENERATOR_GRACE_S)
            ctx.ledger.removed(rid)
            raise
    ctx.ledger.removed(rid)
    extra = {"generator_argv": gen_argv} if gen_argv is not None else {}
    ctx.log_command(argv, rc=rc, iteration=iteration, role=role, **extra)
    server = ctx.state.get("server")
    if server is not None and server.poll() is not None:
        raise RunFailed(f"memcached died during {role} (exit {server.returncode})")
    return rc, out.read_text(errors="replace"), out.with_suffix(".stderr").read_text(errors="replace")
