"""The result store: one folder per run, written as produced (docs/result-format.md).

Every writer here is crash-safe (benchctl.osutil.fsutil): the manifest and
fingerprints are replaced atomically, records and commands are appended and
fsync'd one line at a time. A run killed at any point leaves a folder that
readers (export, analyze, --resume) can use as it is.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchctl import __version__
from benchctl.documents import format_version, load_json
from benchctl.errors import InputError, ResourceError
from benchctl.human import slug
from benchctl.osutil.fsutil import append_json, append_line, atomic_write_bytes, atomic_write_json, read_jsonl
from benchctl.osutil.processes import identity_alive

RUN_FORMAT = "benchctl-run/1"
RUN_FORMAT_MAJOR = 1
MANIFEST = "run.json"
RECORDS = "records.jsonl"
SET_ASIDE = "records.set-aside.jsonl"  # torn or partial lines moved aside by --resume, never read as data
COMMANDS = "commands.jsonl"
ENV_BEFORE = "env-before.json"
ENV_AFTER = "env-after.json"
KMSG = "kmsg.txt"
RAW = "raw"

STATUSES = ("running", "complete", "interrupted", "failed", "imported", "simulated")


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_run_id(workload: str, arm: str) -> str:
    """Sortable by start time, unique without coordination between hosts."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{slug(workload)}-{slug(arm)}-{secrets.token_hex(3)}"


def make_private_dir(path: Path) -> Path:
    """Create `path` (and parents) and refuse to use it if it is a symlink.

    A results path planted as a symlink in a shared directory (e.g. /tmp)
    could redirect root's writes anywhere; benchctl never follows it.
    """
    path = Path(path)
    for parent in reversed([path, *path.parents]):
        if parent.is_symlink() and parent == path:
            raise ResourceError(f"refusing to write results into {path}: it is a symlink; give a real directory")
    path.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or not path.is_dir():
        raise ResourceError(f"refusing to write results into {path}: not a plain directory")
    return path


class RunFolder:
    """A run folder on disk. Create with `create`, reopen with `open`."""

    def __init__(self, path: Path, manifest: dict[str, Any]):
        self.path = Path(path)
        self.manifest = manifest

    # -- creation and loading -------------------------------------------------
    @staticmethod
    def planned_path(results_root: Path | str, host: str, run_id: str) -> Path:
        """Where `create` puts a run: the lock and the ledger name it before it exists."""
        return Path(results_root) / slug(host) / run_id

    @classmethod
    def create(
        cls, results_root: Path, *, host: str, workload: str, arm: str, run_id: str | None = None, **fields: Any
    ) -> RunFolder:
        run_id = run_id or new_run_id(workload, arm)
        if Path(results_root).is_symlink():  # the root a user names, e.g. a planted /tmp/results -> elsewhere
            raise ResourceError(
                f"refusing to write results into {results_root}: it is a symlink; give a real directory"
            )
        path = cls.planned_path(results_root, host, run_id)
        make_private_dir(path.parent)
        try:
            path.mkdir(mode=0o755)
        except FileExistsError:
            raise ResourceError(f"run folder {path} already exists; use --resume {path} to continue it") from None
        (path / RAW).mkdir()
        manifest: dict[str, Any] = {
            "format": RUN_FORMAT,
            "run_id": run_id,
            "workload": workload,
            "arm": arm,
            "host": host,
            "status": "running",
            "started": utc_now(),
            "finished": None,
            "iterations_requested": 0,
            "iterations_done": 0,
            "simulated": False,
            "imported": False,
            "tainted": False,
            "taint_lines": [],
            "warnings": [],
            "benchctl_version": __version__,
        }
        manifest.update(fields)
        folder = cls(path, manifest)
        folder.save_manifest()
        return folder

    @classmethod
    def open(cls, path: Path) -> RunFolder:
        path = Path(path)
        mpath = path / MANIFEST
        if not mpath.is_file():
            raise InputError("not a benchctl run folder (no run.json)", path)
        manifest = load_json(mpath)
        fmt = str(manifest.get("format", "")) if isinstance(manifest, dict) else ""
        try:
            major = format_version(fmt, "benchctl-run")
        except ValueError:
            raise InputError(f"unreadable format version {fmt!r}", mpath) from None
        if major is None:
            raise InputError(f"unknown format {fmt!r}; expected {RUN_FORMAT}", mpath)
        if major > RUN_FORMAT_MAJOR:
            raise InputError(f"written by a newer benchctl ({fmt}); upgrade benchctl to read it", mpath)
        return cls(path, manifest)

    # -- writers --------------------------------------------------------------
    def save_manifest(self) -> None:
        atomic_write_json(self.path / MANIFEST, self.manifest)

    def update(self, **fields: Any) -> None:
        self.manifest.update(fields)
        self.save_manifest()

    def warn(self, message: str) -> None:
        if message not in self.manifest["warnings"]:
            self.manifest["warnings"].append(message)
            self.save_manifest()

    def write_fingerprint(self, which: str, fingerprint: dict[str, Any]) -> None:
        name = {"before": ENV_BEFORE, "after": ENV_AFTER}[which]
        atomic_write_json(self.path / name, fingerprint)

    def record(
        self,
        iteration: int,
        metric: str,
        value: float,
        unit: str,
        *,
        note: dict[str, Any] | None = None,
        warmup: bool = False,
    ) -> dict[str, Any]:
        """Append one measurement; it is on disk when this returns."""
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"refusing to record non-finite value {value!r} for {metric}")
        rec: dict[str, Any] = {
            "run": self.manifest["run_id"],
            "arm": self.manifest["arm"],
            "host": self.manifest["host"],
            "boot": self.manifest.get("boot_id"),
            "workload": self.manifest["workload"],
            "iteration": int(iteration),
            "metric": metric,
            "value": value,
            "unit": unit,
            "t": time.time(),
            "warmup": bool(warmup),
            "simulated": bool(self.manifest.get("simulated", False)),
        }
        if note:
            rec["note"] = note
        append_json(self.path / RECORDS, rec)
        return rec

    def log_command(
        self, argv: list[str], rc: int | None, *, iteration: int | None = None, cwd: str | None = None, **extra: Any
    ) -> None:
        entry = {
            "t": time.time(),
            "argv": [str(a) for a in argv],
            "rc": rc,
            "iteration": iteration,
            "cwd": cwd or os.getcwd(),
        }
        entry.update(extra)
        append_json(self.path / COMMANDS, entry)

    def raw_dir(self, iteration: int, *, warmup: bool = False) -> Path:
        d = self.path / RAW / (f"warmup-{iteration:04d}" if warmup else f"iter-{iteration:04d}")
        d.mkdir(parents=True, exist_ok=True)
        return d

    # -- readers --------------------------------------------------------------
    def records(self) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
        path = self.path / RECORDS
        if not path.exists():
            return [], []
        return read_jsonl(path)

    def completed_iterations(self) -> set[int]:
        """Iterations that have at least one measured (non-warm-up) record."""
        recs, _ = self.records()
        return {int(r["iteration"]) for r in recs if not r.get("warmup")}

    def whole_iterations(self) -> set[int]:
        """Iterations whose records were all written (manifest `completed_iterations`; older folders: any record)."""
        listed = self.manifest.get("completed_iterations")
        if isinstance(listed, list):
            return {int(i) for i in listed}
        return self.completed_iterations()

    def set_aside_partial(self, complete: set[int]) -> int:
        """Before appending to a killed run: set aside torn lines and records of iterations cut in half.

        A SIGKILL can leave a last line without its newline (the next append
        would glue onto it) or an iteration with only some of its metrics. Those
        lines move, byte for byte, to records.set-aside.jsonl (kept, never read
        as data) and records.jsonl is replaced atomically by the whole ones.
        Returns the number of lines set aside.
        """
        path = self.path / RECORDS
        if not path.exists():
            return 0
        data = path.read_bytes()
        lines = data.split(b"\n")
        keep: list[bytes] = []
        aside: list[bytes] = []
        for n, line in enumerate(lines):
            if not line.strip():
                continue
            torn = n == len(lines) - 1  # no newline after it
            try:
                rec = json.loads(line)
                ok = isinstance(rec, dict) and not torn
            except ValueError:
                ok = False
            if ok and not rec.get("warmup") and int(rec.get("iteration", -1)) not in complete:
                ok = False
            (keep if ok else aside).append(line)
        if not aside:
            return 0
        for line in aside:
            append_line(self.path / SET_ASIDE, line.decode("utf-8", errors="replace"))
        atomic_write_bytes(path, b"".join(line + b"\n" for line in keep))
        return len(aside)

    def fingerprint(self, which: str) -> dict[str, Any] | None:
        return read_fingerprint(self.path, which)


def read_fingerprint(folder: Path | str, which: str) -> dict[str, Any] | None:
    """A run folder's fingerprint taken "before" or "after" the run (None if it has none); InputError
    if unreadable. For readers that hold only the folder's path, such as analyze's boots."""
    p = Path(folder) / {"before": ENV_BEFORE, "after": ENV_AFTER}[which]
    return load_json(p) if p.exists() else None


def effective_status(manifest: dict[str, Any]) -> str:
    """The status readers should show: "running" whose benchctl process is gone was interrupted (SIGKILL)."""
    status = str(manifest.get("status", "unknown"))
    if status == "running":
        owner = manifest.get("owner")
        if not isinstance(owner, dict) or not identity_alive(owner):
            return "interrupted"
    return status
