"""`python -m tests.faults.hook ARGS...` = `benchctl ARGS...` with phase marks and a pause point, for tests.

A signal test must land in a given phase (setup, warm-up, measurement,
teardown) every time, not by luck of timing. The engine has no phase
marker, so this entry point wraps the workload driver the engine loads
(engine.load_driver) and, driven by environment variables:

- FAULTS_MARK=FILE   appends "phase <name>" when a phase starts and
                     "paused <spec>" once the pause point is reached;
- FAULTS_PAUSE=SPEC[,SPEC...]  where to stop and wait:
                     setup       after the driver's setup created everything
                     setup@N     right after the N-th resource of setup was created (partial stack)
                     warmup      at the start of the first warm-up pass
                     measure:K   at the start of measured iteration K (K-1 are complete)
                     teardown    at the start of the driver's teardown
                     teardown@N  right after the N-th resource of teardown was removed
                     cleanup@N   (for `cleanup`) right after the N-th ledger entry was handled
                     record:K@N  right after the N-th record of measured iteration K was appended
- FAULTS_HOLD=FILE   the pause lasts while FILE exists (at most 90 s).
- FAULTS_PAUSE_DRIVER=NAME  pause only in this workload (for suites).
- FAULTS_KNOB=PATH=VALUE  after setup, change a kernel knob through the run's
                     ledger (Ledger.set_knob, as a driver would), so the
                     tests can prove that changed knobs are restored.

Nothing else changes: the real engine, driver, tools and signal handling
run; the signal the test sends is a real signal to this process.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

MAX_PAUSE_S = 90.0


def _mark(text: str) -> None:
    path = os.environ.get("FAULTS_MARK")
    if not path:
        return
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (text + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _pause(spec: str) -> None:
    _mark(f"paused {spec}")
    hold = os.environ.get("FAULTS_HOLD")
    deadline = time.monotonic() + MAX_PAUSE_S
    while hold and Path(hold).exists() and time.monotonic() < deadline:
        time.sleep(0.01)


def _count_calls(obj: Any, method: str, n: int, spec: str) -> None:
    """Pause right after the n-th call of obj.method (an instance attribute shadowing the class method)."""
    orig = getattr(obj, method)
    calls = [0]

    def wrapped(*a: Any, **k: Any) -> Any:
        r = orig(*a, **k)
        calls[0] += 1
        if calls[0] == n:
            _pause(spec)
        return r

    setattr(obj, method, wrapped)


def _restore(obj: Any, method: str) -> None:
    obj.__dict__.pop(method, None)


class Hooked:
    def __init__(self, driver: Any):
        self._d = driver
        self.name = driver.name
        only = os.environ.get("FAULTS_PAUSE_DRIVER")
        self.specs = os.environ.get("FAULTS_PAUSE", "").split(",") if not only or only == driver.name else []
        self.spec = self.specs[0] if self.specs else ""

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._d, attr)

    def setup(self, ctx: Any) -> None:
        _mark("phase setup")
        for spec in self.specs:
            if spec.startswith("setup@"):
                _count_calls(ctx.ledger, "created", int(spec.split("@")[1]), spec)
        try:
            self._d.setup(ctx)
        finally:
            _restore(ctx.ledger, "created")
        knob = os.environ.get("FAULTS_KNOB")
        if knob:
            path, value = knob.rsplit("=", 1)
            ctx.ledger.set_knob(path, value)
            _mark(f"knob {path} {value}")
        if "setup" in self.specs:
            _pause("setup")

    def warmup(self, ctx: Any, index: int) -> None:
        _mark(f"phase warmup {index}")
        if "warmup" in self.specs and index == 1:
            _pause("warmup")
        self._d.warmup(ctx, index)

    def measure(self, ctx: Any, iteration: int, perf_wrap: Any) -> Any:
        _mark(f"phase measure {iteration}")
        if f"measure:{iteration}" in self.specs:
            _pause(f"measure:{iteration}")
        return self._d.measure(ctx, iteration, perf_wrap)

    def teardown(self, ctx: Any) -> None:
        _mark("phase teardown")
        if "teardown" in self.specs:
            _pause("teardown")
        for spec in self.specs:
            if spec.startswith("teardown@"):
                _count_calls(ctx.ledger, "removed", int(spec.split("@")[1]), spec)
        try:
            self._d.teardown(ctx)
        finally:
            _restore(ctx.ledger, "removed")


def main(argv: list[str]) -> None:
    from benchctl import cli
    from benchctl.run import engine

    orig = engine.load_driver
    engine.load_driver = lambda name: Hooked(orig(name))
    spec = os.environ.get("FAULTS_PAUSE", "")
    for one in spec.split(","):
        if one.startswith("record:"):
            from benchctl.results import store

            it, n = (int(x) for x in one[len("record:"):].split("@"))
            seen, orig_record = [0], store.RunFolder.record

            def record(self: Any, iteration: int, *a: Any, _spec: str = one, **k: Any) -> Any:
                r = orig_record(self, iteration, *a, **k)
                if iteration == it and not k.get("warmup"):
                    seen[0] += 1
                    if seen[0] == n:
                        _pause(_spec)
                return r

            store.RunFolder.record = record
            if hasattr(store.RunFolder, "record_many"):   # an iteration written at once: pause after the write
                orig_many = store.RunFolder.record_many

                def record_many(self: Any, iteration: int, rows: Any, *a: Any, _spec: str = one, **k: Any) -> Any:
                    r = orig_many(self, iteration, rows, *a, **k)
                    if iteration == it and not k.get("warmup"):
                        before = seen[0]
                        seen[0] += len(rows)
                        if before < n <= seen[0]:
                            _pause(_spec)
                    return r

                store.RunFolder.record_many = record_many
    if spec.startswith("cleanup@"):
        from benchctl.run import cleanup as cleanup_mod

        n, calls, orig_cleanup = int(spec.split("@")[1]), [0], cleanup_mod.cleanup

        def counted(row: dict) -> None:
            calls[0] += 1
            if calls[0] == n:
                _pause(spec)

        def cleanup(*a: Any, progress: Any = None, **k: Any) -> Any:
            def both(row: dict) -> None:
                if progress is not None:
                    progress(row)
                counted(row)
            return orig_cleanup(*a, progress=both, **k)

        cleanup_mod.cleanup = cleanup
    cli.main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
