"""Simulated bisections on a claim (issue 19 item 6): kernels whose boots come from `benchctl model
simulate` (the change off before a chosen kernel, on from it), each step decided by the claim rule
of benchctl bisect (bisect/claim.py) against the first kernel, the search by bisect/search.py.
As `benchctl bisect` does, a step is judged after each of its boots and stops once decided (the
rule is anytime-valid), at most `boots`; Trial counts the boots the steps took."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchctl.bisect import claim as claim_rule
from benchctl.bisect import search
from benchctl.claims import load_claims
from benchctl.model.simulate import simulate
from benchctl.results.loader import load_runs
from benchctl.results.store import RunFolder
from benchctl.results.table import Tidy


def kernel_runs(out: Path, label: str, change: bool, seed: int, workload: str, boots: int) -> list[Path]:
    """One kernel's run folders in boot order: the model's PTE arm (no change) or block arm (the change)."""
    d = out / label
    paths = simulate("ampereone", d, arms=["block" if change else "pte"], boots=boots, iterations=3, seed=seed,
                     workloads=[workload])  # fmt: skip
    return sorted(paths, key=lambda p: RunFolder.open(p).manifest["spec"]["boot"])


def pair(ref: list[Path], ref_label: str, other: list[Path], label: str) -> Tidy:
    """The two kernels' runs as one table with the kernels as arms."""
    a, b = load_runs(ref), load_runs(other)
    import pandas as pd

    for t, name in ((a, ref_label), (b, label)):
        t.df["arm"] = name
        for m in t.boots:
            m.arm = name
    return Tidy(pd.concat([a.df, b.df], ignore_index=True), a.boots + b.boots, a.skipped + b.skipped)


@dataclass
class Trial:
    """A simulated bisection's answer and the boots its steps took (the reference's included)."""

    answer: search.Answer
    boots: int
    steps: int  # steps other than the reference's


def trial(n: int, first_bad: int | None, seed: int, claim_id: str = "memcached-ops", boots: int = 8) -> Trial:
    """One seeded bisection over n kernels; first_bad None is an A/A list (no change anywhere).

    At most 8 boots per step: `benchctl plan --power 0.99` for memcached-ops at the model's noise
    (boot 1 %, iteration 0.5 %); a bisection makes log2(n) + 2 decisions and every one must be
    right, so a step is planned for more power than one comparison."""
    claim = next(c for c in load_claims("bbml2") if c.id == claim_id)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        runs: dict[int, list[Path]] = {}

        def runs_of(i: int) -> list[Path]:
            if i not in runs:
                on = first_bad is not None and i >= first_bad
                runs[i] = kernel_runs(out, f"k{i}", on, seed * 1000 + i, claim.workload, boots)
            return runs[i]

        states: dict[int, str] = {}
        used = 0
        while (i := search.next_index(n, states)) is not None:
            if i == 0:
                used += len(runs_of(0))
                states[0] = "good"  # the reference
                continue
            for k in range(1, boots + 1):
                t = pair(runs_of(0), "k0", runs_of(i)[:k], f"k{i}")
                states[i] = claim_rule.decide(t, "k0", f"k{i}", claim, horizon=boots, seed=seed, resamples=200)[0]
                if states[i] != "skip":
                    break
            used += k
        return Trial(search.answer(n, states), used, len(states) - 1)
