"""Helpers for the live run tests: run benchctl as a subprocess with a private state dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import deadline  # tests/support/deadline.py: waits with a deadline
import pytest

ROOT = Path(__file__).resolve().parents[2]

# Programs whose absence fails the tests that need them instead of skipping them (CI sets this: there,
# scripts/setup.sh installs them, so a missing one is a broken setup, not a machine without the tool).
REQUIRED_TOOLS = {t for t in os.environ.get("BENCHCTL_REQUIRE_TOOLS", "").split(",") if t}


def _find(prog: str) -> str | None:
    """Where benchctl's memcached driver finds prog: PATH, then this environment's bin folder."""
    from benchctl.run.drivers.memcached.loadgen import find_program

    return find_program(prog)


needs_memcached = pytest.mark.skipif(
    _find("memcached") is None or not (_find("memcaslap") or _find("memtier_benchmark") or _find("mutilate")),
    reason="memcached and a load generator (libmemcached-tools) are needed for live runs",
)

_NO_MEMTIER = [p for p in ("memcached", "memtier_benchmark") if _find(p) is None]
needs_memtier = pytest.mark.skipif(
    bool(_NO_MEMTIER) and not set(_NO_MEMTIER) & REQUIRED_TOOLS,
    reason=f"{' and '.join(_NO_MEMTIER)} not installed (scripts/setup.sh builds memtier_benchmark from vendor/)",
)


def env_for(state: Path) -> dict[str, str]:
    return dict(os.environ, BENCHCTL_STATE_DIR=str(state), PYTHONPATH=str(ROOT))


def benchctl(args: list[str], state: Path, **kw) -> subprocess.CompletedProcess:
    return deadline.run(
        [sys.executable, "-m", "benchctl", *args],
        kw.pop("timeout", 120),
        phase=f"benchctl {args[:2]}",
        env=env_for(state),
        text=True,
        cwd=kw.pop("cwd", ROOT),
        **kw,
    )


def start(args: list[str], state: Path) -> subprocess.Popen:
    """benchctl in its own session (deadline.communicate can kill all it started), output on pipes."""
    return deadline.spawn(
        [sys.executable, "-m", "benchctl", *args],
        env=env_for(state),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_folder(results: Path, done: int, timeout: float = 60) -> Path:
    """The run folder once its manifest says `done` iterations are complete."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in results.rglob("run.json"):
            try:
                if json.loads(m.read_text()).get("iterations_done", 0) >= done:
                    return m.parent
            except (OSError, json.JSONDecodeError):
                pass
        time.sleep(0.1)
    raise AssertionError(f"no run folder with {done} iterations under {results} after {timeout} s")


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2 :].split()[0] == "Z"


def live_processes_of(run_dir: Path) -> list[int]:
    """Processes recorded in the run's ledger mirror that are still running (zombies are dead)."""
    from benchctl.osutil.processes import proc_start_time

    led = json.loads((run_dir / "resources.json").read_text())
    out = []
    for e in led["resources"]:
        a = e["attrs"]
        if e["kind"] == "process" and isinstance(a.get("pid"), int):
            st = proc_start_time(a["pid"])
            if st is not None and st == a.get("start_time") and not _zombie(a["pid"]):
                out.append(a["pid"])
    return out


def memcached_token_processes(run_dir: Path) -> list[int]:
    """Any live process carrying this run's ledger token in its environment (children of children too)."""
    led = json.loads((run_dir / "resources.json").read_text())
    token = f"BENCHCTL_RESOURCE={led['token']}:".encode()
    out = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            env = (p / "environ").read_bytes()
        except OSError:
            continue
        if token in env and not _zombie(int(p.name)):
            out.append(int(p.name))
    return out
