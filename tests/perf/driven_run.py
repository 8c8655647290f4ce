"""A real benchctl run with hand runs of the same command between its iterations, for the overhead scripts.

The run goes through the public engine path (`engine.run_workload`: the
fingerprints, kernel-log mark, phase records, perf counters and teardown a
user's run has); the hand runs are a `RunOptions.between` hook, so they
happen between measured iterations and never inside one. Pairs alternate
which side goes first (ABAB by pair number), so drift on the host hits both
sides alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from benchctl.results.store import RunFolder
from benchctl.run import engine
from benchctl.run.drivers.base import RunContext
from benchctl.run.specs import load_workload


class Alternating:
    """The between-iterations hook: pair k is (benchctl, hand) for odd k and (hand, benchctl) for even k."""

    def __init__(
        self,
        pairs: int,
        hand: Callable[[RunContext], dict[str, float]],
        *,
        warm_hand: bool = False,
        on_pair: Callable[[int, RunContext], None] | None = None,
    ):
        self.pairs, self.hand, self.warm_hand, self.on_pair = pairs, hand, warm_hand, on_pair
        self.by_hand: dict[int, dict[str, float]] = {}

    def __call__(self, ctx: RunContext, done: int) -> None:
        if done == 0 and self.warm_hand:
            self.hand(ctx)  # the hand side's warm-up pass
        if done % 2 == 1:
            self.by_hand[done] = self.hand(ctx)  # pair `done`: benchctl went first
        if done >= 1 and self.on_pair is not None:
            self.on_pair(done, ctx)
        if done + 1 <= self.pairs and (done + 1) % 2 == 0:
            self.by_hand[done + 1] = self.hand(ctx)  # pair done+1: the hand run goes first


def recorded(run_dir: Path, iteration: int, metric: str) -> float:
    """What benchctl recorded for one metric of one measured iteration."""
    for line in (Path(run_dir) / "records.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r["iteration"] == iteration and r["metric"] == metric and not r["warmup"]:
            return float(r["value"])
    raise SystemExit(f"no {metric} record for iteration {iteration}")


def driven_run(workload: str, overrides: dict[str, str], perf_on: bool, results: Path, hook: Alternating) -> RunFolder:
    """One real run of `workload` (quick preset, one warm-up, hook.pairs iterations) with `hook` between."""
    spec = load_workload(workload).resolve("quick", overrides, iterations=hook.pairs, warmup=1)
    opts = engine.RunOptions(arm="overhead", results=results, perf=perf_on, echo=lambda m: None, between=hook)
    folder = engine.run_workload(workload, opts, spec=spec)
    if len(hook.by_hand) != hook.pairs:
        raise SystemExit(f"{len(hook.by_hand)} hand runs for {hook.pairs} pairs")
    return folder
