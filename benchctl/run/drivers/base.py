"""The contract between the run engine and a workload driver.

The engine owns the loop (fingerprints, warm-up, iterations, perf, records,
signals, resume); a driver owns its tool: checking prerequisites, building
what it needs (server, block stack, file), running ONE measured iteration and
tearing down. Everything a driver creates is registered in the run's
resource ledger (ctx.ledger) BEFORE it is created, so `benchctl cleanup`
can remove it after a SIGKILL and refuse to touch anything else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from benchctl.parsers import Measurement


@dataclass
class RunContext:
    """What the engine hands a driver. `params` is the spec's parameters with overrides applied."""

    params: dict[str, Any]
    fingerprint: dict[str, Any]  # benchctl env taken before the run
    run_dir: Path
    ledger: Any  # benchctl.run.ledger.Ledger
    log_command: Callable[..., None]  # RunFolder.log_command
    warn: Callable[[str], None]  # adds a run warning (shown to the user and kept in run.json)
    state: dict[str, Any] = field(default_factory=dict)  # driver-private state between phases


@dataclass
class IterationResult:
    measurements: list[Measurement]
    raw: dict[str, str | bytes] = field(default_factory=dict)  # file name -> content, kept under raw/iter-NNNN/
    argv: list[str] | None = None  # the measured command, for the record
    note: dict[str, Any] = field(default_factory=dict)  # added to every record of this iteration


class Driver(Protocol):
    name: str

    def requirements(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        """[(program, Debian package)] that must be on PATH; the engine refuses to start without them."""

    # Optional: `host_limits(params) -> list[str]`, kernel features this host lacks for these
    # params (e.g. device-mapper), shown by `benchctl workloads`; `check` still refuses at run time.
    # Optional: `prepare(ctx, iteration)`, the driver's part of bringing the host back to the stated
    # state before each measured pass (fio deletes the previous file); the engine calls it through
    # benchctl.run.quiesce.prepare, then checks the block stack and settles writeback.

    def check(self, ctx: RunContext) -> list[str]:
        """Preconditions beyond programs (memory, device-mapper, ...): raise BenchctlError to refuse; warnings."""

    def setup(self, ctx: RunContext) -> None:
        """Create what the workload needs (register in ctx.ledger first)."""

    def warmup(self, ctx: RunContext, index: int) -> None:
        """One unrecorded warm-up pass."""

    def measure(self, ctx: RunContext, iteration: int, perf_wrap: Callable[[list[str]], list[str]]) -> IterationResult:
        """One measured iteration. `perf_wrap(argv)` returns argv run under perf stat (or argv unchanged)
        for drivers whose measured window is a single command; servers use the engine's system-wide perf."""

    def teardown(self, ctx: RunContext) -> None:
        """Undo setup; must be safe to call after a partial setup and more than once."""
