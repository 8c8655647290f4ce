"""Drive one storage driver through its phases without the run engine.

Used by the live storage tests here and inside the nested VM
(tests/vm/harness.py) to exercise setup -> warm-up -> measure -> teardown
with a real resource ledger, independently of `benchctl run`.

    python tests/support/storage_drive.py WORKLOAD [--preset quick] [--iterations N] [key=value ...]

prints one JSON object: params, stack info, measurements per iteration, the
ledger's outstanding entries after teardown (must be empty), and errors.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchctl.run import quiesce, specs  # noqa: E402
from benchctl.run.drivers.base import RunContext  # noqa: E402
from benchctl.run.ledger import Ledger  # noqa: E402


def drive(
    workload: str,
    preset: str = "quick",
    overrides: dict[str, str] | None = None,
    iterations: int | None = None,
    state: Path | None = None,
    run_dir: Path | None = None,
    phase_hook: Any = None,
) -> dict[str, Any]:
    w = specs.load_workload(workload)
    r = w.resolve(preset, overrides or {})
    drv = importlib.import_module(f"benchctl.run.drivers.{w.driver}").DRIVER
    state = Path(state or tempfile.mkdtemp(prefix="storage-drive-state-"))
    run_dir = Path(run_dir or tempfile.mkdtemp(prefix="storage-drive-run-"))
    ledger = Ledger.create(f"drive-{workload}", state=state, run_dir=run_dir)
    commands: list[dict] = []
    warnings: list[str] = []
    ctx = RunContext(
        params=dict(r.params),
        fingerprint={},
        run_dir=run_dir,
        ledger=ledger,
        log_command=lambda argv, **kw: commands.append({"argv": [str(a) for a in argv], **kw}),
        warn=warnings.append,
    )
    out: dict[str, Any] = {"workload": workload, "params": r.params, "iterations": [], "error": None}
    hook = phase_hook or (lambda phase, ctx: None)
    try:
        out["check"] = drv.check(ctx)
        hook("setup", ctx)
        drv.setup(ctx)
        for i in range(r.warmup):
            hook("warmup", ctx)
            drv.warmup(ctx, i)
        for i in range(iterations or r.iterations):
            hook("measure", ctx)
            state = quiesce.prepare(drv, ctx, i, r.quiesce)  # as the engine does before each measured pass
            res = drv.measure(ctx, i, lambda argv: argv)
            out["iterations"].append(
                {
                    "measurements": {m.metric: m.value for m in res.measurements},
                    "note": res.note,
                    "argv": res.argv,
                    "quiesce": state.note() if state else None,
                }
            )
    except BaseException as e:  # report, then tear down like the engine does
        out["error"] = f"{type(e).__name__}: {e}"
        out["traceback"] = traceback.format_exc()
        if not isinstance(e, Exception):
            raise
    finally:
        hook("teardown", ctx)
        drv.teardown(ctx)
        out["stack"] = (ctx.state.get("run_info") or {}).get("stack")
        out["outstanding"] = ledger.outstanding()
        out["commands"] = commands
        out["warnings"] = warnings
        ledger.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("workload")
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--iterations", type=int)
    ap.add_argument("set", nargs="*")
    a = ap.parse_intermixed_args(argv)
    # Started from a background job, SIGINT arrives ignored (inherited SIG_IGN); the signal tests need
    # Python's own KeyboardInterrupt, as a run started from a terminal has it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    pause = os.environ.get("STORAGE_DRIVE_PAUSE")  # "PHASE": announce it and wait there (signal tests)

    def hook(phase: str, ctx: RunContext) -> None:
        if phase == pause:
            print(f"PHASE {phase} {ctx.ledger.path}", file=sys.stderr, flush=True)
            time.sleep(60)

    res = drive(
        a.workload,
        a.preset,
        specs.parse_overrides(a.set),
        a.iterations,
        state=Path(os.environ["STORAGE_DRIVE_STATE"]) if os.environ.get("STORAGE_DRIVE_STATE") else None,
        phase_hook=hook,
    )
    print(json.dumps(res, indent=1, default=str))
    return 0 if res["error"] is None and not res["outstanding"] else 1


if __name__ == "__main__":
    sys.exit(main())
