"""Crash-safe file writing: atomic replace for documents, fsync'd appends for logs.

A run can be killed at any instruction; readers must never see half a
document. Documents are written to a private temporary file in the same
directory and renamed over the target (rename is atomic within a
filesystem); line logs are appended with O_APPEND and fsync'd per line, so
at most the last line of a log can be partial, and readers skip it.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: Path, mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a private temporary file next to `path`; on success fsync it and rename it over `path`.

    Readers see the old file or the whole new one, never a mix; on any error
    (or a signal) the temporary file is removed and `path` is untouched.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that readers see the old or the new file, never a mix."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, allow_nan=False) + "\n")


def append_line(path: Path, line: str) -> None:
    """Append one line and fsync it before returning: the line is on disk or not at all."""
    if "\n" in line:
        raise ValueError("append_line takes a single line")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        data = (line + "\n").encode()
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(f"short write to {path}: {written} of {len(data)} bytes")
        os.fsync(fd)
    finally:
        os.close(fd)


def append_json(path: Path, obj: Any) -> None:
    append_line(path, json.dumps(obj, separators=(",", ":"), allow_nan=False))


def read_jsonl(path: Path) -> tuple[list[dict[str, Any]], list[tuple[int, str]]]:
    """Read a JSON-lines file; return (records, [(line number, reason), ...] for lines skipped).

    A killed writer can leave a partial last line; corrupted lines anywhere are
    skipped with their line number rather than aborting the whole read.
    """
    records: list[dict[str, Any]] = []
    skipped: list[tuple[int, str]] = []
    with open(path, "rb") as f:
        for n, raw in enumerate(f, start=1):
            text = raw.decode("utf-8", errors="replace").strip()
            if not text:
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as e:
                partial = not raw.endswith(b"\n")
                skipped.append((n, "truncated last line (interrupted write)" if partial else f"not JSON: {e.msg}"))
                continue
            if not isinstance(obj, dict):
                skipped.append((n, "not a JSON object"))
                continue
            records.append(obj)
    return records, skipped
