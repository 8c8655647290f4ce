"""Issue 19 item 6: the claim criterion of `benchctl bisect` on 100 seeded simulated lists each.

    .venv/bin/python tests/perf/bisect_claim_aa.py [--trials 100] [--check]

Eight kernels per list, each with at most 8 simulated boots of memcached (`benchctl plan --power 0.99`;
`benchctl model simulate`, AmpereOne, 1 % boot-to-boot noise); the change (the model's block arm) turned on at a seeded
kernel of the list, or nowhere (A/A). Prints how often the bisection names the right kernel, and
how often an A/A list gives "no change found" rather than a culprit (target >= 95 of 100), and the
boots a step took: each step is judged after every boot on the anytime-valid rule and stops once
decided (bisect/claim.py).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from bisect_sim import trial  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    a = ap.parse_args()
    t0 = time.monotonic()
    n = 8
    found, boots, steps = 0, 0, 0
    for seed in range(a.trials):
        first_bad = random.Random(seed).randint(1, n - 1)
        t = trial(n, first_bad, seed)
        found += t.answer.kind == "culprit" and t.answer.first_bad == first_bad
        boots, steps = boots + t.boots - 8, steps + t.steps
    aa_trials = [trial(n, None, 10_000 + seed) for seed in range(a.trials)]
    aa = [t.answer.kind for t in aa_trials]
    aa_boots, aa_steps = sum(t.boots - 8 for t in aa_trials), sum(t.steps for t in aa_trials)
    no_change = aa.count("no-change")
    culprits = aa.count("culprit")
    print(f"change at a seeded kernel of {n}: right culprit in {found}/{a.trials}")
    print(
        f"A/A lists: 'no change found' in {no_change}/{a.trials}, a culprit in {culprits}/{a.trials}, "
        f"other answers {a.trials - no_change - culprits} ({', '.join(sorted(set(aa)))})"
    )
    print(
        f"boots per step (at most 8; the reference's 8 not counted): change {boots / steps:.2f}, "
        f"A/A {aa_boots / aa_steps:.2f}"
    )
    print(f"({time.monotonic() - t0:.0f} s)")
    ok = no_change >= 0.95 * a.trials and found >= 0.95 * a.trials
    return 1 if a.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
