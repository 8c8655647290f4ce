"""One run per host: the second run is refused with a message naming the first, exit code 5."""

from __future__ import annotations

import sys
import textwrap

import deadline  # tests/support/deadline.py: waits with a deadline
import pytest

from benchctl.errors import EXIT_RESOURCE, ResourceError
from benchctl.run.hostlock import HostLock


def test_second_lock_names_holder(tmp_path):
    a = HostLock(tmp_path)
    a.acquire("run-A", tmp_path / "results/run-A")
    try:
        with pytest.raises(ResourceError) as e:
            HostLock(tmp_path).acquire("run-B", None)
        assert "run-A" in str(e.value) and "results/run-A" in str(e.value)
        assert e.value.exit_code == EXIT_RESOURCE
    finally:
        a.release()
    b = HostLock(tmp_path)
    b.acquire("run-B", None)  # free again after release
    b.release()


def test_lock_is_released_when_holder_is_killed(tmp_path):
    code = textwrap.dedent(f"""
        import sys, time
        from benchctl.run.hostlock import HostLock
        HostLock({str(tmp_path)!r}).acquire("run-K", "/x")
        print("locked", flush=True)
        time.sleep(60)
    """)
    with deadline.Console(
        [sys.executable, "-c", code], log=tmp_path / "holder.log", timeout=120, name="lock holder"
    ) as holder:
        holder.expect("^locked$", timeout=60)
        with pytest.raises(ResourceError, match="run-K"):
            HostLock(tmp_path).acquire("run-L", None)
        holder.close()  # SIGKILL: the holder never releases the lock itself
    lock = HostLock(tmp_path)
    lock.acquire("run-L", None)  # the kernel dropped the flock with the process
    lock.release()
