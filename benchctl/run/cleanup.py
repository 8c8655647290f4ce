"""`benchctl cleanup`: what killed runs left behind, removed only where it is provably theirs.

Walks the ledgers of runs whose benchctl process is dead and removes, newest
first, what is still present AND verified as ours (run/kinds.py decides per
entry); what it cannot verify it refuses to touch, and says so.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchctl.errors import InputError
from benchctl.osutil.processes import identity_alive
from benchctl.run.kinds import removal_order, remove_entry
from benchctl.run.ledger import Ledger, ledgers

# Modules that register the storage and server kinds (imported so cleanup knows every kind).
KIND_MODULES = ("benchctl.run.storage.blockstack", "benchctl.run.drivers.memcached")


def load_kind_modules() -> None:
    for mod in KIND_MODULES:
        try:
            importlib.import_module(mod)
        except Exception:
            pass  # a kind whose module cannot load is reported per entry ("no handler"), not fatal


def cleanup(
    state: Path | str | None = None, *, dry_run: bool = False, progress: Callable[[dict[str, Any]], None] | None = None
) -> list[dict[str, Any]]:
    """For every ledger whose run is dead, remove what is still present and ours, newest first.

    Returns one row per resource: {run_id, id, kind, attrs, action}; actions are
    "removed", "already gone", "would remove", "refused: ...", "failed: ...",
    and "skipped: run still alive (pid N)" for ledgers of live runs.
    `progress(row)` is called as each row is decided (the command prints as it goes).
    """
    load_kind_modules()
    report: list[dict[str, Any]] = []

    def emit(row: dict[str, Any]) -> None:
        report.append(row)
        if progress is not None:
            progress(row)

    for path in ledgers(state):
        try:
            ledger = Ledger.load(path)
        except InputError as e:
            emit(
                {
                    "run_id": path.stem,
                    "id": "-",
                    "kind": "ledger",
                    "attrs": {"path": str(path)},
                    "action": f"refused: {e}",
                }
            )
            continue
        owner = ledger.data.get("owner", {})
        if identity_alive(owner) and owner.get("pid") != os.getpid():
            for entry in ledger.outstanding():
                emit(
                    {
                        "run_id": ledger.run_id,
                        "id": entry["id"],
                        "kind": entry["kind"],
                        "attrs": entry["attrs"],
                        "action": f"skipped: run still alive (pid {owner.get('pid')})",
                    }
                )
            continue
        for entry in removal_order(ledger.outstanding()):
            emit(remove_entry(ledger, entry, dry_run=dry_run))
        if not dry_run and not ledger.outstanding():
            ledger.close()
    return report


def dead_run_warnings(state: Path | str | None = None) -> list[str]:
    """One warning per ledger of a dead run that still lists resources (said before a new run starts)."""
    out = []
    for p in ledgers(state):
        try:
            led = Ledger.load(p)
        except InputError:
            continue
        if led.outstanding() and not identity_alive(led.data.get("owner", {})):
            out.append(f"killed run {led.run_id} may have left resources behind: run `benchctl cleanup`")
    return out
