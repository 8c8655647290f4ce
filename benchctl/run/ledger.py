"""What a run creates on the host, written down BEFORE it is created.

benchctl runs as root and builds things (servers, mounts, loop and dm
devices, ramdisks, temporary folders, changed kernel knobs). A SIGKILL can
strike between any two of those steps, so every run keeps a ledger in a
state file (atomic JSON under $BENCHCTL_STATE_DIR or /run/benchctl/,
mirrored into the run folder as resources.json). An entry is added with the
attributes that will later PROVE the thing is ours (a process's pid + start
time + an environment token; a mount point path; a loop device + its backing
file; a dm name; a temp dir's inode; a knob's path + the value we wrote) and
marked removed after it is gone.

`cleanup()` walks the ledgers of runs whose benchctl process is dead and
removes, newest first, what is still present AND verified as ours; what it
cannot verify it refuses to touch, and says so.

Using the ledger from a driver (ctx.ledger):

    rid = ledger.add("mount", path=str(mp))   # persisted before mounting
    subprocess.run(["mount", ...]); ledger.created(rid, fstype="ext4")
    ...
    subprocess.run(["umount", mp]); ledger.removed(rid)

How each kind is verified and removed: run/kinds.py; cleanup of dead runs:
run/cleanup.py; the state directory: run/state.py.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

from benchctl.documents import load_json
from benchctl.errors import InputError, ResourceError
from benchctl.osutil.fsutil import atomic_write_json
from benchctl.osutil.processes import ENV_TOKEN, proc_start_time, process_identity
from benchctl.run.kinds import TEMPDIR_MARKER, knob_read, removal_order, remove_entry
from benchctl.run.state import private_dir, state_dir

LEDGER_FORMAT = "benchctl-ledger/1"
LEDGER_DIR = "ledgers"
MIRROR = "resources.json"

# entry states
PLANNED = "planned"  # written before creation; creation may or may not have happened
PRESENT = "present"  # creation finished
REMOVED = "removed"  # removed by the run itself (or by cleanup)


class Ledger:
    """One run's list of what it created, persisted atomically on every change."""

    def __init__(self, path: Path, data: dict[str, Any]):
        self.path = Path(path)
        self.data = data
        self.mirror: Path | None = Path(data["run_dir"]) / MIRROR if data.get("run_dir") else None

    @classmethod
    def create(cls, run_id: str, *, state: Path | str | None = None, run_dir: Path | None = None) -> Ledger:
        d = private_dir(private_dir(state_dir(state)) / LEDGER_DIR)
        path = d / f"{run_id}.json"
        data: dict[str, Any] = {
            "format": LEDGER_FORMAT,
            "run_id": run_id,
            "run_dir": str(run_dir) if run_dir else None,
            "owner": process_identity(),
            "created": time.time(),
            "token": secrets.token_hex(8),
            "resources": [],
            "closed": False,
        }
        ledger = cls(path, data)
        ledger.save()
        return ledger

    @classmethod
    def load(cls, path: Path) -> Ledger:
        try:
            data = load_json(path)
        except InputError as e:
            raise InputError(f"unreadable ledger: {e.reason}", path) from None
        if not isinstance(data, dict) or not str(data.get("format", "")).startswith("benchctl-ledger/"):
            raise InputError("not a benchctl ledger", path)
        return cls(path, data)

    @property
    def run_id(self) -> str:
        return self.data["run_id"]

    @property
    def token(self) -> str:
        return self.data["token"]

    def attach_run_dir(self, run_dir: Path) -> None:
        self.data["run_dir"] = str(run_dir)
        self.mirror = Path(run_dir) / MIRROR
        self.save()

    def adopt(self) -> None:
        """Take over a ledger (resume): this process is now its owner."""
        self.data["owner"] = process_identity()
        self.data["closed"] = False
        self.save()

    def save(self, *, strict: bool = True) -> None:
        """Persist. strict: raise (before anything is created); else best effort.

        Recording a removal or attributes must never stop the teardown that
        follows: if the state dir is full, the state file still lists the
        entry and cleanup later finds it "already gone".
        """
        try:
            atomic_write_json(self.path, self.data)
        except OSError as e:
            if strict:
                raise ResourceError(
                    f"cannot write the resource ledger {self.path} ({e.strerror or e}); "
                    "nothing more is created without it"
                ) from None
            self.data.setdefault("unsaved", True)
        if self.mirror is not None and self.mirror.parent.is_dir():
            try:
                atomic_write_json(self.mirror, self.data)
            except OSError:
                pass  # the state file is the one cleanup reads; the mirror is for the record

    # entries
    def add(self, kind: str, **attrs: Any) -> str:
        """Record the intent to create a resource; call BEFORE creating it. Returns its id."""
        rid = f"r{len(self.data['resources']) + 1}"
        self.data["resources"].append({"id": rid, "kind": kind, "state": PLANNED, "attrs": attrs, "t": time.time()})
        self.save()
        return rid

    def entry(self, rid: str) -> dict[str, Any]:
        for e in self.data["resources"]:
            if e["id"] == rid:
                return e
        raise KeyError(rid)

    def update(self, rid: str, **attrs: Any) -> None:
        """Add attributes learnt during creation (a pid, an inode, a loop device name)."""
        self.entry(rid)["attrs"].update(attrs)
        self.save(strict=False)

    def created(self, rid: str, **attrs: Any) -> None:
        e = self.entry(rid)
        e["attrs"].update(attrs)
        e["state"] = PRESENT
        self.save(strict=False)

    def removed(self, rid: str) -> None:
        e = self.entry(rid)
        e["state"] = REMOVED
        e["removed_t"] = time.time()
        self.save(strict=False)

    def outstanding(self) -> list[dict[str, Any]]:
        return [e for e in self.data["resources"] if e["state"] != REMOVED]

    def mark_children(self) -> tuple[str, str]:
        """Put a token in this process's environment so that EVERY command the run starts carries it.

        Drivers run tools (fio, xfs_io, perf, mkfs, ...) with subprocess; after a
        SIGKILL of benchctl those may live on and hold mounts busy. With the
        token inherited, `cleanup` finds and stops them without any driver
        registering each one. Returns (entry id, previous value to restore).
        """
        token = f"{self.token}:children"
        rid = self.add("process", token=token, argv=["(every command this run starts)"], pid=None)
        previous = os.environ.get(ENV_TOKEN, "")
        os.environ[ENV_TOKEN] = token
        self.created(rid)
        return rid, previous

    # conveniences for the kinds owned here
    def process_env(self, rid: str) -> dict[str, str]:
        """Environment for a child so that cleanup can prove it is ours (processes.carries_token)."""
        env = dict(os.environ)
        env[ENV_TOKEN] = f"{self.token}:{rid}"
        return env

    def add_process(self, argv: list[str]) -> tuple[str, dict[str, str]]:
        """Ledger entry + environment for a process about to be spawned; then call process_started()."""
        rid = self.add("process", argv=[str(a) for a in argv])
        token = f"{self.token}:{rid}"
        self.update(rid, token=token)
        return rid, self.process_env(rid)

    def process_started(self, rid: str, pid: int) -> None:
        self.created(rid, pid=pid, start_time=proc_start_time(pid))

    def make_tempdir(self, prefix: str = "benchctl-", parent: str | None = None) -> tuple[str, Path]:
        """A private temporary directory, recorded before and after it exists."""
        rid = self.add("tempdir", prefix=prefix, parent=parent or tempfile.gettempdir())
        path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        self.update(rid, path=str(path))
        fd = os.open(path / TEMPDIR_MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"{self.token}:{rid}\n")
        st = os.lstat(path)
        self.created(rid, dev=st.st_dev, ino=st.st_ino, token=f"{self.token}:{rid}")
        return rid, path

    def set_knob(self, path: str | Path, value: str) -> str:
        """Write a kernel knob, remembering the old value first; returns the entry id."""
        path = str(path)
        old = knob_read(path)
        if old is None:
            raise ResourceError(f"cannot read knob {path}")
        rid = self.add("knob", path=path, old=old, new=str(value).strip())
        Path(path).write_text(str(value))
        self.created(rid)
        return rid

    def release(self) -> list[dict[str, Any]]:
        """Remove whatever this run still holds (newest first) and close the ledger.

        The run's own safety net after driver teardown; same verification as cleanup.
        """
        report = [remove_entry(self, e, dry_run=False) for e in removal_order(self.outstanding())]
        self.close()
        return report

    def close(self) -> None:
        """The run is over. Delete the state file if nothing is left; keep it (for cleanup) otherwise."""
        self.data["closed"] = True
        self.data["closed_t"] = time.time()
        left = self.outstanding()
        self.save(strict=False)
        if not left:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass


def ledgers(state: Path | str | None = None) -> list[Path]:
    d = state_dir(state) / LEDGER_DIR
    return sorted(d.glob("*.json")) if d.is_dir() else []
