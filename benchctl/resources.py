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

Modules that own a kind register its handlers once, at import:
`register_kind("mount", remove=..., owned=..., present=...)`. The kinds
"process", "tempdir" and "knob" live here.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from benchctl.errors import InputError, ResourceError
from benchctl.fsutil import atomic_write_json

LEDGER_FORMAT = "benchctl-ledger/1"
DEFAULT_STATE_DIR = Path("/run/benchctl")
LOCK_FILE = "host.lock"
LOCK_INFO = "host.lock.json"
LEDGER_DIR = "ledgers"
MIRROR = "resources.json"
ENV_TOKEN = "BENCHCTL_RESOURCE"

# entry states
PLANNED = "planned"     # written before creation; creation may or may not have happened
PRESENT = "present"     # creation finished
REMOVED = "removed"     # removed by the run itself (or by cleanup)


def state_dir(explicit: Path | str | None = None) -> Path:
    """The state directory: explicit > $BENCHCTL_STATE_DIR > /run/benchctl (tmpfs: gone after a reboot)."""
    if explicit is not None:
        return Path(explicit)
    env = os.environ.get("BENCHCTL_STATE_DIR")
    if env:
        return Path(env)
    if os.geteuid() == 0:
        return DEFAULT_STATE_DIR
    import tempfile   # an unprivileged user cannot write /run; a per-user runtime dir instead

    return Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) / f"benchctl-{os.geteuid()}"


def _private_dir(path: Path) -> Path:
    """Create an owner-only directory; refuse a symlink planted in its place."""
    path = Path(path)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise ResourceError(f"cannot create state directory {path} ({e.strerror}); "
                            "set BENCHCTL_STATE_DIR to a writable directory")
    if path.is_symlink() or not path.is_dir():
        raise ResourceError(f"refusing to use state directory {path}: not a plain directory")
    if path.stat().st_uid != os.geteuid():
        raise ResourceError(f"refusing to use state directory {path}: owned by uid {path.stat().st_uid}, not us")
    return path


# -- process identity ------------------------------------------------------------

def proc_start_time(pid: int, proc: Path = Path("/proc")) -> int | None:
    """Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), None if gone.

    pid + start time + boot id names one process for the life of the machine;
    a pid alone may have been reused.
    """
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError, OSError):
        return None
    # comm may hold spaces and parentheses: split after the LAST ')'
    rest = stat[stat.rfind(")") + 2:].split()
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
    pid = os.getpid() if pid is None else pid
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        exe = None
    return {"pid": pid, "start_time": proc_start_time(pid), "boot_id": boot_id(), "exe": exe}


def identity_alive(ident: dict[str, Any]) -> bool:
    """Is the process named by `ident` (pid, start_time, boot_id) still running?"""
    pid = ident.get("pid")
    if not isinstance(pid, int):
        return False
    if ident.get("boot_id") and boot_id() and ident["boot_id"] != boot_id():
        return False
    st = proc_start_time(pid)
    return st is not None and st == ident.get("start_time")


def _environ_has(pid: int, token: str) -> bool:
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return f"{ENV_TOKEN}={token}".encode() in env.split(b"\0")


# -- kind handlers ----------------------------------------------------------------

@dataclass(frozen=True)
class KindHandler:
    remove: Callable[[dict], None]
    owned: Callable[[dict], bool]                       # present AND proven ours
    present: Callable[[dict], bool] | None = None       # present at all (to tell "gone" from "not ours")


_KINDS: dict[str, KindHandler] = {}


def register_kind(kind: str, remove: Callable[[dict], None], owned: Callable[[dict], bool],
                  present: Callable[[dict], bool] | None = None) -> None:
    """Teach cleanup how to verify and remove one kind of resource."""
    _KINDS[kind] = KindHandler(remove=remove, owned=owned, present=present)


def handler(kind: str) -> KindHandler | None:
    return _KINDS.get(kind)


# process: {pid, start_time, token, argv}. Owned = same pid, same start time,
# and our token in its environment (set by the engine when it spawned it).
def _proc_present(a: dict) -> bool:
    """Running at all (a zombie is dead: it holds no memory, port or file, only a pid entry)."""
    pid = a.get("pid")
    return isinstance(pid, int) and proc_start_time(pid) is not None and not _is_zombie(pid)


def _proc_owned(a: dict) -> bool:
    """The recorded process is ours, or some process still carries our token (a descendant)."""
    if _proc_present(a) and _proc_owned_exact(a):
        return True
    return bool(token_processes(a.get("token")))


def _proc_owned_exact(a: dict) -> bool:
    pid = a.get("pid")
    if not _proc_present(a):
        return False
    if a.get("start_time") is not None and proc_start_time(pid) != a["start_time"]:
        return False
    token = a.get("token")
    return bool(token) and _environ_has(pid, token)


def _proc_remove(a: dict) -> None:
    if _proc_present(a) and _proc_owned_exact(a):
        terminate_process(a["pid"], a.get("start_time"))
    for pid in token_processes(a.get("token")):   # its children (e.g. the generator under perf)
        terminate_process(pid, proc_start_time(pid))


def token_processes(token: str | None, proc: Path = Path("/proc")) -> list[int]:
    """Live processes whose environment carries our token: the one we started and its descendants.

    The token is random per ledger and inherited through fork/exec, so it
    proves ownership even for a child whose pid we never saw.
    """
    if not token:
        return []
    out = []
    for p in proc.iterdir():
        if p.name.isdigit() and int(p.name) != os.getpid() and _environ_has(int(p.name), token) \
                and not _is_zombie(int(p.name)):
            out.append(int(p.name))
    return out


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
            if not same() or _is_zombie(pid):
                return
            time.sleep(0.02)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] == "Z"


# tempdir: {path, dev, ino, token}. Owned = the same inode, not a symlink, and our marker file
# inside holding the ledger token (a recreated dir of the same name can reuse the inode).
TEMPDIR_MARKER = ".benchctl-owner"
def _tmp_present(a: dict) -> bool:
    return os.path.lexists(a.get("path", ""))


def _tmp_owned(a: dict) -> bool:
    try:
        st = os.lstat(a["path"])
    except (OSError, KeyError):
        return False
    import stat as _stat
    if not (_stat.S_ISDIR(st.st_mode) and st.st_dev == a.get("dev") and st.st_ino == a.get("ino")):
        return False
    try:
        return (Path(a["path"]) / TEMPDIR_MARKER).read_text().strip() == a.get("token")
    except OSError:
        return False


def mounts_under(path: str, mounts_file: Path = Path("/proc/self/mounts")) -> list[str]:
    """Mount points at or below `path` (octal escapes such as \\040 decoded)."""
    base = os.path.realpath(path).rstrip("/")
    out = []
    try:
        lines = mounts_file.read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        fields = line.split()
        if len(fields) < 2:
            continue
        target = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[1])
        if target == base or target.startswith(base + "/"):
            out.append(target)
    return out


def _tmp_remove(a: dict) -> None:
    # rmtree would descend into a filesystem mounted inside (ours not yet unmounted, or someone else's)
    inside = mounts_under(a["path"])
    if inside:
        raise ResourceError(f"{a['path']} has a filesystem mounted inside ({inside[0]}); not removing it")
    shutil.rmtree(a["path"])


# knob: {path, old, new}. Owned = it still holds the value we wrote (else someone changed it since).
def _knob_read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _knob_present(a: dict) -> bool:
    cur = _knob_read(a.get("path", ""))
    return cur is not None and cur != str(a.get("old", "")).strip()


def _knob_owned(a: dict) -> bool:
    return a.get("new") is not None and _knob_read(a.get("path", "")) == str(a["new"]).strip()


def _knob_remove(a: dict) -> None:
    Path(a["path"]).write_text(str(a["old"]))


register_kind("process", _proc_remove, _proc_owned, _proc_present)
register_kind("tempdir", _tmp_remove, _tmp_owned, _tmp_present)
register_kind("knob", _knob_remove, _knob_owned, _knob_present)


# -- the ledger -------------------------------------------------------------------

class Ledger:
    """One run's list of what it created, persisted atomically on every change."""

    def __init__(self, path: Path, data: dict[str, Any]):
        self.path = Path(path)
        self.data = data
        self.mirror: Path | None = Path(data["run_dir"]) / MIRROR if data.get("run_dir") else None

    @classmethod
    def create(cls, run_id: str, *, state: Path | str | None = None, run_dir: Path | None = None) -> "Ledger":
        d = _private_dir(_private_dir(state_dir(state)) / LEDGER_DIR)
        path = d / f"{run_id}.json"
        data = {
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
    def load(cls, path: Path) -> "Ledger":
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise InputError(f"unreadable ledger: {e}", path)
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
                raise ResourceError(f"cannot write the resource ledger {self.path} ({e.strerror or e}); "
                                    "nothing more is created without it") from None
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
        self.data["resources"].append({"id": rid, "kind": kind, "state": PLANNED,
                                       "attrs": attrs, "t": time.time()})
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
        """Environment for a child so that cleanup can prove it is ours (see _proc_owned)."""
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
        import tempfile

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
        old = _knob_read(path)
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
        report = [_remove_entry(self, e, dry_run=False) for e in removal_order(self.outstanding())]
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


def removal_order(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Processes first (they hold files, mounts and devices busy), then everything else; newest first in each."""
    rev = list(reversed(entries))
    return [e for e in rev if e["kind"] == "process"] + [e for e in rev if e["kind"] != "process"]


def _remove_entry(ledger: Ledger, e: dict[str, Any], *, dry_run: bool) -> dict[str, Any]:
    row = {"run_id": ledger.run_id, "id": e["id"], "kind": e["kind"], "attrs": e["attrs"]}
    h = handler(e["kind"])
    if h is None:
        row["action"] = f"refused: no handler for kind {e['kind']!r} (module not loaded?)"
        return row
    try:
        owned = h.owned(e["attrs"])
        present = h.present(e["attrs"]) if h.present else owned
    except Exception as exc:  # a handler bug must not stop cleanup of the rest
        row["action"] = f"refused: could not verify ({exc})"
        return row
    if owned:
        if dry_run:
            row["action"] = "would remove"
            return row
        try:
            h.remove(e["attrs"])
        except Exception as exc:
            row["action"] = f"failed: {exc}"
            return row
        ledger.removed(e["id"])
        row["action"] = "removed"
    elif present:
        row["action"] = "refused: present but not verified as ours"
    else:
        if not dry_run:
            ledger.removed(e["id"])
        row["action"] = "already gone"
    return row


def _load_kind_modules() -> None:
    """Import the modules that register the other kinds, so cleanup knows them all."""
    import importlib

    for mod in ("benchctl.blockstack", "benchctl.blockdev", "benchctl.drivers.memcached"):
        try:
            importlib.import_module(mod)
        except Exception:
            pass


def ledgers(state: Path | str | None = None) -> list[Path]:
    d = state_dir(state) / LEDGER_DIR
    return sorted(d.glob("*.json")) if d.is_dir() else []


def cleanup(state: Path | str | None = None, *, dry_run: bool = False) -> list[dict[str, Any]]:
    """For every ledger whose run is dead, remove what is still present and ours, newest first.

    Returns one row per resource: {run_id, id, kind, attrs, action}; actions are
    "removed", "already gone", "would remove", "refused: ...", "failed: ...",
    and "skipped: run still alive (pid N)" for ledgers of live runs.
    """
    _load_kind_modules()
    report: list[dict[str, Any]] = []
    for path in ledgers(state):
        try:
            ledger = Ledger.load(path)
        except InputError as e:
            report.append({"run_id": path.stem, "id": "-", "kind": "ledger", "attrs": {"path": str(path)},
                           "action": f"refused: {e}"})
            continue
        owner = ledger.data.get("owner", {})
        if identity_alive(owner) and owner.get("pid") != os.getpid():
            for e in ledger.outstanding():
                report.append({"run_id": ledger.run_id, "id": e["id"], "kind": e["kind"], "attrs": e["attrs"],
                               "action": f"skipped: run still alive (pid {owner.get('pid')})"})
            continue
        rows = [_remove_entry(ledger, e, dry_run=dry_run) for e in removal_order(ledger.outstanding())]
        report.extend(rows)
        if not dry_run and not ledger.outstanding():
            ledger.close()
    return report


# -- the host lock ------------------------------------------------------------------

class HostLock:
    """One benchctl run per host: an flock in the state dir, released by the kernel when we die.

    The holder's identity (run id, pid, folder) is kept next to the lock so a
    second run can say who holds it.
    """

    def __init__(self, state: Path | str | None = None):
        self.dir = _private_dir(state_dir(state))
        self.fd: int | None = None

    def acquire(self, run_id: str, run_dir: Path | str | None) -> None:
        fd = os.open(self.dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ResourceError(f"another benchctl run holds this host: {self.holder_text()}; "
                                "wait for it to finish (or stop it) and try again")
        self.fd = fd
        try:
            self.set_holder(run_id, run_dir)
        except ResourceError:
            self.release()
            raise

    def set_holder(self, run_id: str, run_dir: Path | str | None) -> None:
        try:
            atomic_write_json(self.dir / LOCK_INFO, {"run_id": run_id, "run_dir": str(run_dir) if run_dir else None,
                                                     **process_identity()})
        except OSError as e:
            raise ResourceError(f"cannot write to the state directory {self.dir} ({e.strerror or e}); "
                                "free space there or set BENCHCTL_STATE_DIR") from None

    def holder(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.dir / LOCK_INFO).read_text())
        except (OSError, json.JSONDecodeError):
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

    def __enter__(self) -> "HostLock":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()
