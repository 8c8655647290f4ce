"""Run a measured command so that nothing it started can outlive an interrupt.

The engine wraps measured commands in `perf stat ... -- CMD`. If only the
direct child is killed on SIGINT (what subprocess.run does), perf dies and
CMD -- fio, xfs_io -- is orphaned and keeps running: it can then write into
a mount point after teardown unmounted it, i.e. onto whatever filesystem
holds the temp dir. So the command runs in its own session (process group)
and any exception while waiting (KeyboardInterrupt, the engine's stop
signal, a timeout) kills the whole group and reaps it before propagating.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

from benchctl.osutil.processes import group_alive


def kill_group(proc: subprocess.Popen, grace_s: float = 2.0) -> None:
    """SIGTERM the process group led by proc, then SIGKILL what is left; reap the leader.

    The group, not only the leader: perf's child (the measured tool) and
    ansible-playbook's ssh processes are members and must not outlive it.
    grace_s is how long a clean exit may take before SIGKILL.
    """
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):  # gone, or a member we may not signal
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            proc.poll()
            if not group_alive(proc.pid):
                break
            time.sleep(0.02)
        if not group_alive(proc.pid):
            break
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def run(
    argv: list[str],
    *,
    input: bytes | str | None = None,
    timeout: float | None = None,
    text: bool = True,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
) -> subprocess.CompletedProcess:
    """Like subprocess.run(capture_output=True), but the command and all its descendants die with it."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=text,
        start_new_session=True,
        env=env,
        cwd=cwd,
    )
    try:
        out, err = proc.communicate(input=input, timeout=timeout)
    except BaseException:
        kill_group(proc)
        raise
    # a well-behaved tool leaves no descendants; make sure of it before the stack is torn down
    if group_alive(proc.pid):
        kill_group(proc)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)
