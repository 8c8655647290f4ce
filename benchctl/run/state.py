"""The state directory: where ledgers and the host lock live between benchctl processes.

$BENCHCTL_STATE_DIR, else /run/benchctl for root (a tmpfs: gone after a
reboot, like everything a ledger can name), else a per-user runtime
directory. It is owner-only, and a symlink planted in its place is refused.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from benchctl.errors import ResourceError

DEFAULT_STATE_DIR = Path("/run/benchctl")


def state_dir(explicit: Path | str | None = None) -> Path:
    """The state directory: explicit > $BENCHCTL_STATE_DIR > /run/benchctl (tmpfs: gone after a reboot)."""
    if explicit is not None:
        return Path(explicit)
    env = os.environ.get("BENCHCTL_STATE_DIR")
    if env:
        return Path(env)
    if os.geteuid() == 0:
        return DEFAULT_STATE_DIR
    # an unprivileged user cannot write /run; a per-user runtime dir instead
    return Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) / f"benchctl-{os.geteuid()}"


def private_dir(path: Path) -> Path:
    """Create an owner-only directory; refuse a symlink planted in its place."""
    path = Path(path)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise ResourceError(f"cannot create state directory {path} ({e.strerror}); "
                            "set BENCHCTL_STATE_DIR to a writable directory") from None
    if path.is_symlink() or not path.is_dir():
        raise ResourceError(f"refusing to use state directory {path}: not a plain directory")
    if path.stat().st_uid != os.geteuid():
        raise ResourceError(f"refusing to use state directory {path}: owned by uid {path.stat().st_uid}, not us")
    return path
