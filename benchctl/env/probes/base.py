"""The context probes share: an injected root, and the fingerprint being filled.

A fingerprint is taken both live (root "/") and from a recorded tree on
another machine. Live, a file that cannot be read (debugfs as non-root, a
sysfs node that returns EIO) is normal and becomes null + reason. In a
recorded tree the files were copied on purpose, so one that exists but cannot
be read or decoded is bad input and raises InputError naming it.
"""

from __future__ import annotations

import gzip
import shutil
import zlib
from pathlib import Path
from typing import Any, Callable

from benchctl.errors import InputError


class Unavailable(Exception):
    """A source is absent or unreadable in a way that is normal; str() is the reason."""


class Context:
    def __init__(self, root: Path, which: Callable[[str], str | None] = shutil.which):
        self.root = Path(root)
        self.live = self.root.resolve() == Path("/")
        self.which = which
        self.values: dict[str, Any] = {}
        self.sources: dict[str, str] = {}
        self.missing: dict[str, str] = {}
        self.warnings: list[str] = []
        self.scratch: dict[str, Any] = {}  # parsed inputs shared between probes (config, params, dmesg)
        self._cache: dict[str, str] = {}

    # -- reading ---------------------------------------------------------------------------
    def shown(self, rel: str) -> str:
        """How a source is named in `sources`: its path on the machine it describes."""
        return "/" + rel.lstrip("/")

    def exists(self, rel: str) -> bool:
        try:
            return (self.root / rel).exists()
        except OSError:
            return False

    def read(self, rel: str) -> str:
        """Text of ROOT/rel (gunzipped for *.gz); Unavailable if absent (or unreadable live)."""
        if rel in self._cache:
            return self._cache[rel]
        path = self.root / rel
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            raise Unavailable(f"{self.shown(rel)} not present") from None
        except OSError as e:
            if self.live:
                hint = " (run as root)" if isinstance(e, PermissionError) else ""
                raise Unavailable(f"{self.shown(rel)}: {e.strerror or e}{hint}") from None
            raise InputError(f"cannot read: {e.strerror or e}", path) from None
        if rel.endswith(".gz"):
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error) as e:
                if self.live:
                    raise Unavailable(f"{self.shown(rel)}: not gzip data ({e})") from None
                raise InputError(f"not valid gzip data ({e})", path) from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            if self.live:
                text = data.decode("utf-8", errors="replace")
            else:
                raise InputError(f"not UTF-8 text (byte {e.start})", path) from None
        self._cache[rel] = text
        return text

    def listdir(self, rel: str) -> list[str]:
        try:
            return sorted(p.name for p in (self.root / rel).iterdir())
        except (FileNotFoundError, NotADirectoryError):
            raise Unavailable(f"{self.shown(rel)} not present") from None
        except OSError as e:
            if self.live:
                raise Unavailable(f"{self.shown(rel)}: {e.strerror or e}") from None
            raise InputError(f"cannot list: {e.strerror or e}", self.root / rel) from None

    # -- recording -------------------------------------------------------------------------
    def set(self, dotted: str, value: Any, source: str) -> None:
        self.values[dotted] = value
        self.sources[dotted] = source
        self.missing.pop(dotted, None)

    def miss(self, dotted: str, reason: str) -> None:
        self.values[dotted] = None
        self.missing[dotted] = reason
        self.sources.pop(dotted, None)

    def get(self, dotted: str, default: Any = None) -> Any:
        value = self.values.get(dotted)
        return default if value is None else value

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


class Probe:
    """One setting (or a few read from the same file). Subclasses implement run()."""

    def run(self, ctx: Context) -> None:  # pragma: no cover - interface
        raise NotImplementedError
