"""Quiesced iterations: the host is brought back to a stated state before each measured storage pass.

Why: a storage pass that starts while the host still writes back the
previous pass's pages (or anyone else's) measures that writeback too; on a
small shared VM single fio passes ranged 81k-318k IOPS, clustered in time
(issue 21). A workload states the state in its `[quiesce]` table
(workloads/README.md): Dirty and Writeback in /proc/meminfo both at or
below `max_dirty_kb`, reached by sync(2) and polling within `deadline_s`;
optionally `drop_caches` (the value written to /proc/sys/vm/drop_caches);
and the driver's block stack still as built. The engine calls `prepare`
before every measured iteration, the overhead scripts call the same
function before their by-hand runs, so both sides start alike.

The state at start (`dirty_kb`, `writeback_kb`) and the time it took
(`quiesce_s`) go into every record's note; a pass whose deadline passed
first is still measured, flagged `not_quiesced: true`, and counted in the
run's summary (benchctl.run.variance).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchctl.env.probes.memory import parse_meminfo
from benchctl.errors import InputError, RunFailed

KEYS: dict[str, type | tuple[type, ...]] = {
    "max_dirty_kb": int,
    "deadline_s": (int, float),
    "drop_caches": int,
    "poll_s": (int, float),
}


@dataclass(frozen=True)
class Rule:
    """The stated state a workload declares (its `[quiesce]` table)."""

    max_dirty_kb: int = 4096
    deadline_s: float = 30.0
    drop_caches: int = 0  # 0: keep caches; 1 page cache, 2 slab, 3 both (the kernel's drop_caches values)
    poll_s: float = 0.01

    @classmethod
    def from_table(cls, table: Any, path: Path | None = None) -> Rule | None:
        """A `[quiesce]` TOML table (or run.json's `spec.quiesce`) -> Rule; None when absent."""
        if table is None:
            return None
        if not isinstance(table, dict):
            raise InputError("quiesce: expected a table", path)
        for k, v in table.items():
            typ = KEYS.get(k)
            if typ is None:
                raise InputError(f"quiesce.{k}: unknown key (allowed: {', '.join(sorted(KEYS))})", path)
            if isinstance(v, bool) or not isinstance(v, typ):
                raise InputError(f"quiesce.{k}: expected a number, got {v!r}", path)
        rule = cls(**table)
        if rule.max_dirty_kb < 0 or not 0 < rule.deadline_s <= 3600 or not 0 < rule.poll_s <= 1:
            raise InputError("quiesce: need max_dirty_kb >= 0, 0 < deadline_s <= 3600, 0 < poll_s <= 1", path)
        if rule.drop_caches not in (0, 1, 2, 3):
            raise InputError(f"quiesce.drop_caches: must be 0, 1, 2 or 3; got {rule.drop_caches}", path)
        return rule

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        drop = f", drop_caches={self.drop_caches}" if self.drop_caches else ""
        return f"Dirty and Writeback <= {self.max_dirty_kb} kB within {self.deadline_s:g} s{drop}"


@dataclass(frozen=True)
class State:
    """How one pass started: the meminfo figures after the quiesce and whether the rule was met in time."""

    dirty_kb: int
    writeback_kb: int
    seconds: float
    met: bool
    why: str = ""  # when not met: what was still pending at the deadline

    def note(self) -> dict[str, Any]:
        """What the pass's records carry (docs/result-format.md)."""
        out: dict[str, Any] = {
            "quiesce_s": round(self.seconds, 4),
            "dirty_kb": self.dirty_kb,
            "writeback_kb": self.writeback_kb,
        }
        if not self.met:
            out["not_quiesced"] = True
        return out


class _Bounded:
    """Runs blocking kernel calls (sync, drop_caches) in a worker thread that is waited on with a deadline.

    A sync stuck behind a slow device cannot be interrupted; the caller gives up at its deadline and
    flags the pass, and nothing new is started while it is stuck: the next call waits for it first.
    """

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _wait(self, end: float, clock: Callable[[], float]) -> bool:
        assert self._thread is not None
        self._thread.join(max(end - clock(), 0.0))
        return not self._thread.is_alive()

    def call(self, fn: Callable[[], None], end: float, clock: Callable[[], float]) -> bool:
        """True when fn ran to its end before `end` (on `clock`); its exception, if any, is raised here."""
        if self._thread is not None and self._thread.is_alive() and not self._wait(end, clock):
            return False

        def target() -> None:
            try:
                fn()
            except BaseException as e:  # handed to the caller's thread below
                self._error = e

        self._error = None
        self._thread = threading.Thread(target=target, name="benchctl-quiesce", daemon=True)
        self._thread.start()
        if not self._wait(end, clock):
            return False
        if self._error is not None:
            raise self._error
        return True


_BOUNDED = _Bounded()


def _pending(root: Path) -> tuple[int, int]:
    text = (root / "proc" / "meminfo").read_text()
    info = parse_meminfo(text)
    return info.get("Dirty", 0), info.get("Writeback", 0)


def settle(
    rule: Rule,
    *,
    root: Path = Path("/"),
    sync: Callable[[], None] = os.sync,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> State:
    """Sync (and drop caches if the rule says so), then read /proc/meminfo (under `root`); again after
    rule.poll_s while Dirty or Writeback is above rule.max_dirty_kb (pages others dirtied meanwhile would
    wait for dirty_expire otherwise). Never waits past rule.deadline_s; the last reading is the state."""
    t0 = clock()
    end = t0 + rule.deadline_s
    knob = root / "proc" / "sys" / "vm" / "drop_caches"
    steps: list[tuple[str, Callable[[], None]]] = [("sync(2)", sync)]
    if rule.drop_caches:

        def drop() -> None:
            knob.write_text(f"{rule.drop_caches}\n")

        steps.append(("drop_caches", drop))
    dirty = wb = -1
    why = ""
    while True:
        why = next(
            (f"{name} still running at the deadline" for name, fn in steps if not _BOUNDED.call(fn, end, clock)), ""
        )
        if why:
            break
        dirty, wb = _pending(root)
        if dirty <= rule.max_dirty_kb and wb <= rule.max_dirty_kb:
            break
        if clock() + rule.poll_s >= end:
            why = f"Dirty {dirty} kB, Writeback {wb} kB at the deadline"
            break
        sleep(rule.poll_s)
    if dirty < 0:
        dirty, wb = _pending(root)
    return State(dirty_kb=dirty, writeback_kb=wb, seconds=clock() - t0, met=not why, why=why)


def prepare(
    driver: Any,
    ctx: Any,
    iteration: int,
    rule: Rule | None,
    *,
    root: Path = Path("/"),
    warn: Callable[[str], None] | None = None,
) -> State | None:
    """Everything between two measured passes, for benchctl's passes and the overhead scripts' hand runs:
    the driver's own preparation (`prepare(ctx, iteration)`, e.g. fio deletes the previous file), the
    block stack checked as built (`BlockStack.missing()`), then `settle` when the workload has a rule.
    A pass that starts outside the rule is said (warn, default the run's ctx.warn) and flagged in its note."""
    own = getattr(driver, "prepare", None)
    if own is not None:
        own(ctx, iteration)
    stack = ctx.state.get("stack")
    if stack is not None:
        gone = stack.missing()
        if gone:
            raise RunFailed(f"the block stack is no longer as built ({'; '.join(gone)}); nothing more is measured")
    if rule is None:
        return None
    state = settle(rule, root=root)
    if not state.met:
        (warn or ctx.warn)(
            f"iteration {iteration} started outside the stated state ({rule.describe()}): {state.why}; "
            "its records carry not_quiesced: true"
        )
    return state


def rule_of(spec_json: dict[str, Any]) -> Rule | None:
    """The rule recorded in a run's spec (run.json `spec.quiesce`); None for workloads (or old runs) without."""
    return Rule.from_table(spec_json.get("quiesce"))
