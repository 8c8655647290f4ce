"""One benchctl run per host: an flock in the state directory, released by the kernel when we die.

The holder's identity (run id, pid, folder) is kept next to the lock so a
second run can say who holds it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

from benchctl.documents import load_json
from benchctl.errors import InputError, ResourceError
from benchctl.osutil.fsutil import atomic_write_json
from benchctl.osutil.processes import process_identity
from benchctl.run.state import private_dir, state_dir

LOCK_FILE = "host.lock"
LOCK_INFO = "host.lock.json"


class HostLock:
    """One benchctl run per host: an flock in the state dir, released by the kernel when we die.

    The holder's identity (run id, pid, folder) is kept next to the lock so a
    second run can say who holds it.
    """

    def __init__(self, state: Path | str | None = None):
        self.dir = private_dir(state_dir(state))
        self.fd: int | None = None

    def acquire(self, run_id: str, run_dir: Path | str | None) -> None:
        fd = os.open(self.dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ResourceError(
                f"another benchctl run holds this host: {self.holder_text()}; "
                "wait for it to finish (or stop it) and try again"
            ) from None
        self.fd = fd
        try:
            self.set_holder(run_id, run_dir)
        except ResourceError:
            self.release()
            raise

    def set_holder(self, run_id: str, run_dir: Path | str | None) -> None:
        try:
            atomic_write_json(
                self.dir / LOCK_INFO,
                {"run_id": run_id, "run_dir": str(run_dir) if run_dir else None, **process_identity()},
            )
        except OSError as e:
            raise ResourceError(
                f"cannot write to the state directory {self.dir} ({e.strerror or e}); "
                "free space there or set BENCHCTL_STATE_DIR"
            ) from None

    def holder(self) -> dict[str, Any] | None:
        try:
            return load_json(self.dir / LOCK_INFO)
        except InputError:
            return None

    def holder_text(self) -> str:
        h = self.holder()
        if not h:
            return "unknown run"
        return f"run {h.get('run_id')} (pid {h.get('pid')}, folder {h.get('run_dir')})"

    def release(self) -> None:
        if self.fd is not None:
            try:
                (self.dir / LOCK_INFO).unlink()
            except FileNotFoundError:
                pass
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> HostLock:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
