"""Fetched results -> boots/HOST/NNN-ARM/, checked before the boot counts as done.

The host packs what one boot produced (verify.json and the run folders) into
one archive; the playbook fetches it into incoming/. Here it is unpacked into
a hidden staging folder, checked, and renamed into place in one step:

- verify.json says the boot is the planned arm (the host checked it before
  measuring; this re-reads that record, it does not judge again);
- every run folder was measured on that very boot id and labelled that arm
  (a run left over from an earlier attempt, or from another boot, is refused);
- the archive holds only files and folders under its one top folder.

Whatever is refused or interrupted is moved to aborted/, never deleted.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path, PurePosixPath
from typing import Any

from benchctl.campaign.verify import VERIFY_FORMAT
from benchctl.documents import load_json
from benchctl.errors import InputError
from benchctl.osutil.fsutil import atomic_write_json

BOOT_FORMAT = "benchctl-campaign-boot/1"
BOOT_FILE = "boot.json"


class Refused(Exception):
    """The fetched results cannot be recorded as this boot; str() is the one-line reason."""


def boot_dir_name(index: int, arm: str) -> str:
    return f"{index:03d}-{arm}"


def set_aside(path: Path, aborted_root: Path, label: str) -> Path | None:
    """Move `path` under aborted/ (never delete what a run produced)."""
    if not path.exists():
        return None
    aborted_root.mkdir(parents=True, exist_ok=True)
    dest = aborted_root / label
    n = 1
    while dest.exists():
        n += 1
        dest = aborted_root / f"{label}.{n}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(path), str(dest))
    return dest


def _safe_members(tar: tarfile.TarFile, top: str) -> list[tarfile.TarInfo]:
    members = tar.getmembers()
    for m in members:
        p = PurePosixPath(m.name)
        if p.is_absolute() or ".." in p.parts or p.parts[:1] != (top,):
            raise Refused(f"archive member {m.name!r} is outside {top}/")
        if not (m.isfile() or m.isdir()):
            raise Refused(f"archive member {m.name!r} is not a plain file or folder")
    return members


def unpack(archive: Path, top: str, staging: Path) -> None:
    """Unpack archive's folder `top` as `staging` (which must not exist)."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = _safe_members(tar, top)
            staging.mkdir(parents=True)
            tmp = staging / ".unpack"
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, members=members, filter="data")
            else:  # Python < 3.10.12: the members were checked above
                tar.extractall(tmp, members=members)
    except (tarfile.TarError, EOFError) as e:
        raise Refused(f"fetched archive {archive.name} is damaged ({e})") from None
    for child in (tmp / top).iterdir():
        child.rename(staging / child.name)
    shutil.rmtree(tmp)


def _json(path: Path) -> Any:
    if not path.exists():
        raise Refused(f"{path.name} is missing from the fetched results")
    try:
        return load_json(path)
    except InputError as e:
        raise Refused(f"{path.name} in the fetched results is not JSON ({e.reason})") from None


def check(staging: Path, arm: str) -> tuple[dict[str, Any], list[Path]]:
    """The verification record and the run folders of one fetched boot; Refused if they do not add up."""
    ver = _json(staging / "verify.json")
    if not isinstance(ver, dict) or ver.get("format") != VERIFY_FORMAT:
        raise Refused("verify.json is not a verification record")
    if not ver.get("ok") or ver.get("arm") != arm:
        raise Refused(f"verify.json does not confirm arm {arm}: {ver.get('mismatches')}")
    boot_id = ver.get("boot_id")
    runs = sorted(p.parent for p in (staging / "runs").rglob("run.json")) if (staging / "runs").is_dir() else []
    if not runs:
        raise Refused("the suite left no run folder")
    for run in runs:
        m = _json(run / "run.json")
        rid = m.get("run_id") if isinstance(m, dict) else None
        if not isinstance(m, dict) or m.get("boot_id") != boot_id:
            seen = m.get("boot_id") if isinstance(m, dict) else "?"
            raise Refused(f"run {rid or run.name} was measured on boot {seen}, not on the verified boot {boot_id}")
        if m.get("arm") != arm:
            raise Refused(f"run {rid} is labelled arm {m.get('arm')!r}, planned {arm!r}")
    return ver, runs


def store(
    archive: Path,
    top: str,
    boots_root: Path,
    aborted_root: Path,
    *,
    host: str,
    index: int,
    arm: str,
    record: dict[str, Any],
) -> tuple[Path, dict[str, Any], list[Path]]:
    """Unpack, check and move one boot into boots/HOST/NNN-ARM/; returns (folder, verify record, run folders)."""
    name = boot_dir_name(index, arm)
    final = boots_root / host / name
    staging = boots_root / host / f".{name}.partial"
    set_aside(staging, aborted_root, f"{host}/{name}.partial")
    staging.parent.mkdir(parents=True, exist_ok=True)
    try:
        unpack(archive, top, staging)
        ver, runs = check(staging, arm)
    except Refused:
        set_aside(staging, aborted_root, f"{host}/{name}.refused")
        raise
    atomic_write_json(
        staging / BOOT_FILE,
        {
            "format": BOOT_FORMAT,
            **record,
            "boot_id": ver["boot_id"],
            "verified": ver.get("observed"),
            "runs": [str(r.relative_to(staging)) for r in runs],
        },
    )
    set_aside(final, aborted_root, f"{host}/{name}.unrecorded")  # a crash after the rename, before the books
    staging.rename(final)
    return final, ver, [final / r.relative_to(staging) for r in runs]
