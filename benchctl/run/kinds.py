"""How cleanup verifies and removes each kind of resource a run can leave behind.

Modules that own a kind register its handlers once, at import:
`register_kind("mount", remove=..., owned=..., present=...)`. The kinds
"process", "tempdir" and "knob" live here; storage kinds (mount, loop,
dm-crypt, brd, file) in run/storage/blockstack.py. `remove_entry` is the one
place that decides, from ledger attributes alone, whether an entry is
removed, already gone, or refused.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from benchctl.env.mounts import mounts_under
from benchctl.errors import ResourceError
from benchctl.osutil.processes import carries_token, is_zombie, proc_start_time, terminate_process, token_processes

TEMPDIR_MARKER = ".benchctl-owner"


@dataclass(frozen=True)
class KindHandler:
    remove: Callable[[dict], None]
    owned: Callable[[dict], bool]  # present AND proven ours
    present: Callable[[dict], bool] | None = None  # present at all (to tell "gone" from "not ours")


_KINDS: dict[str, KindHandler] = {}


def register_kind(
    kind: str,
    remove: Callable[[dict], None],
    owned: Callable[[dict], bool],
    present: Callable[[dict], bool] | None = None,
) -> None:
    """Teach cleanup how to verify and remove one kind of resource."""
    _KINDS[kind] = KindHandler(remove=remove, owned=owned, present=present)


def handler(kind: str) -> KindHandler | None:
    return _KINDS.get(kind)


class MarksRemoved(Protocol):
    @property
    def run_id(self) -> str: ...

    def removed(self, rid: str) -> None: ...


def removal_order(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Processes first (they hold files, mounts and devices busy), then everything else; newest first in each."""
    rev = list(reversed(entries))
    return [e for e in rev if e["kind"] == "process"] + [e for e in rev if e["kind"] != "process"]


def remove_entry(ledger: MarksRemoved, e: dict[str, Any], *, dry_run: bool) -> dict[str, Any]:
    """Remove one ledger entry if it is present and ours; the row says what happened."""
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


# process: {pid, start_time, token, argv}. Owned = same pid, same start time,
# and our token in its environment (set by the engine when it spawned it).
def _proc_present(a: dict) -> bool:
    pid = a.get("pid")
    return isinstance(pid, int) and proc_start_time(pid) is not None and not is_zombie(pid)


def _proc_owned_exact(a: dict) -> bool:
    pid = a.get("pid")
    if not isinstance(pid, int) or not _proc_present(a):
        return False
    if a.get("start_time") is not None and proc_start_time(pid) != a["start_time"]:
        return False
    token = a.get("token")
    return bool(token) and carries_token(pid, str(token))


def _proc_owned(a: dict) -> bool:
    """The recorded process is ours, or some process still carries our token (a descendant)."""
    return _proc_owned_exact(a) or bool(token_processes(a.get("token")))


def _proc_remove(a: dict) -> None:
    if _proc_owned_exact(a):
        terminate_process(a["pid"], a.get("start_time"))
    for pid in token_processes(a.get("token")):  # its children (e.g. the generator under perf)
        terminate_process(pid, proc_start_time(pid))


# tempdir: {path, dev, ino, token}. Owned = the same inode, not a symlink, and our marker file
# inside holding the ledger token (a recreated dir of the same name can reuse the inode).
def _tmp_present(a: dict) -> bool:
    return os.path.lexists(a.get("path", ""))


def same_inode(a: dict, is_type: Callable[[int], bool]) -> bool:
    """a["path"] is (without following a link) of that type and still the inode the ledger recorded."""
    try:
        st = os.lstat(a["path"])
    except (OSError, KeyError):
        return False
    return is_type(st.st_mode) and st.st_dev == a.get("dev") and st.st_ino == a.get("ino")


def _tmp_owned(a: dict) -> bool:
    if not same_inode(a, stat.S_ISDIR):
        return False
    try:
        return (Path(a["path"]) / TEMPDIR_MARKER).read_text().strip() == a.get("token")
    except OSError:
        return False


def _tmp_remove(a: dict) -> None:
    # rmtree would descend into a filesystem mounted inside (ours not yet unmounted, or someone else's)
    inside = mounts_under(a["path"])
    if inside:
        raise ResourceError(f"{a['path']} has a filesystem mounted inside ({inside[0]}); not removing it")
    shutil.rmtree(a["path"])


# knob: {path, old, new}. Owned = it still holds the value we wrote (else someone changed it since).
def knob_read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _knob_present(a: dict) -> bool:
    cur = knob_read(a.get("path", ""))
    return cur is not None and cur != str(a.get("old", "")).strip()


def _knob_owned(a: dict) -> bool:
    return a.get("new") is not None and knob_read(a.get("path", "")) == str(a["new"]).strip()


def _knob_remove(a: dict) -> None:
    Path(a["path"]).write_text(str(a["old"]))


register_kind("process", _proc_remove, _proc_owned, _proc_present)
register_kind("tempdir", _tmp_remove, _tmp_owned, _tmp_present)
register_kind("knob", _knob_remove, _knob_owned, _knob_present)
