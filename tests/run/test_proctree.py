"""A measured command's descendants never outlive it (perf + fio: an orphaned fio wrote into an unmounted mount)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from benchctl.run import proctree


def _gone(pid: int, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return True
        if stat[stat.rfind(")") + 2 :].split()[0] == "Z":
            return True
        time.sleep(0.05)
    return False


def test_interrupt_kills_grandchildren(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    with pytest.raises(subprocess.TimeoutExpired):
        proctree.run(["sh", "-c", f"sleep 300 & echo $! > {pidfile}; wait"], timeout=1.0)
    assert _gone(int(pidfile.read_text())), "the grandchild survived the interrupt"


def test_lingering_child_after_normal_exit_is_killed(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    p = proctree.run(["sh", "-c", f"sleep 300 > /dev/null 2>&1 & echo $! > {pidfile}; echo done"])
    assert p.returncode == 0 and p.stdout == "done\n"
    assert _gone(int(pidfile.read_text()))


def test_input_and_exit_code() -> None:
    p = proctree.run(["sh", "-c", "cat; exit 3"], input="abc")
    assert (p.returncode, p.stdout) == (3, "abc")
    assert os.getpgrp() != 0


def test_kill_group_lets_the_group_clean_up_then_kills_what_ignores_sigterm(tmp_path: Path) -> None:
    """The memcached driver and the campaign runner stop their children with this: SIGTERM first (a
    generator or ansible-playbook may clean up within the grace period), SIGKILL for the rest."""
    cleaned, pidfile = tmp_path / "cleaned", tmp_path / "pid"
    script = (
        f"(trap '' TERM; sleep 300) & echo $! > {pidfile}; "
        f"trap 'echo bye > {cleaned}; exit 0' TERM; while :; do sleep 0.05; done"
    )
    proc = subprocess.Popen(["sh", "-c", script], start_new_session=True, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (pidfile.is_file() and pidfile.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.02)
        proctree.kill_group(proc, grace_s=1.0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert cleaned.read_text() == "bye\n", "SIGTERM first: the leader's trap ran"
    assert _gone(int(pidfile.read_text())), "the member that ignores SIGTERM was killed"
