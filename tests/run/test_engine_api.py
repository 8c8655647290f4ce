"""The engine's public API: a caller's own commands between the iterations of a real run."""

from __future__ import annotations

import json

from benchctl.run import engine
from benchctl.run.drivers.base import RunContext


def test_between_runs_after_warmup_and_each_iteration_outside_the_measured_window(tmp_path, monkeypatch):
    """boot-memory: the cheapest real workload; the hook sees the driver's context and the count done."""
    monkeypatch.setenv("BENCHCTL_STATE_DIR", str(tmp_path / "state"))
    calls: list[tuple[int, str | None, int]] = []

    def between(ctx: RunContext, done: int) -> None:
        manifest = json.loads((ctx.run_dir / "run.json").read_text())
        records = (ctx.run_dir / "records.jsonl").read_text().splitlines() if done else []
        calls.append((done, manifest["phase"], len({json.loads(r)["iteration"] for r in records})))

    opts = engine.RunOptions(
        arm="a",
        preset="quick",
        iterations=3,
        warmup=1,
        results=tmp_path / "r",
        perf=False,
        echo=lambda m: None,
        between=between,
    )
    folder = engine.run_workload("boot-memory", opts)
    assert [c[0] for c in calls] == [0, 1, 2, 3], "after the warm-up, then after every measured iteration"
    assert calls[0][1] == "warmup" and all(phase == "measure" for _, phase, _ in calls[1:])
    assert [c[2] for c in calls] == [0, 1, 2, 3], "each call sees the records of the iterations done"
    man = json.loads((folder.path / "run.json").read_text())
    assert man["status"] == "complete" and man["iterations_done"] == 3 and man["phase"] == "done"
