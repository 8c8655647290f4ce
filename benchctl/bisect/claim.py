"""A claim as a bisection's criterion: is the change present at this kernel?

The step's boots are compared with the first kernel's (the reference, assumed good) on that one
claim by the anytime-valid rule of adaptive campaigns (analyze/adaptive.py over
stats/sequential.py: the n-th reference boot paired with the step's n-th, the confidence
sequence spent over the boots per step), so a step may be judged after every boot and stop
as soon as the claim is decided, without the false verdicts of looking at a fixed-design
interval again and again. A verdict that the change is there (confirmed, smaller- or
larger-than-claimed) is bad; not-reproduced (the interval misses the claimed band and holds
zero) and reversed (a change the other way: the claimed one is absent) are good; inconclusive
and not judged are skip, with the verdict as evidence, so an undecided step never names a
culprit. Every step is compared with the same reference boots, so a reference that came out
high or low by chance tilts every step the same way: that is why a change the other way counts
as absent rather than as evidence of anything. The boots per step come from `benchctl
plan` for the claim (or are given) and are the most a step boots; an exact metric (MemTotal)
is decided by two boots.
"""

from __future__ import annotations

from benchctl.claims import Claim
from benchctl.results.table import Tidy

PRESENT = ("confirmed", "smaller-than-claimed", "larger-than-claimed")
ABSENT = ("not-reproduced", "reversed")
CONFIDENCE = 0.95


def decide(
    tidy: Tidy, reference: str, kernel: str, claim: Claim, *, horizon: int, seed: int = 0, resamples: int = 2000
) -> tuple[str, str]:
    """(good | bad | skip, one evidence line) for the boots of `kernel` against `reference`, on the
    claim's confidence sequence planned for `horizon` pairs (module doc)."""
    from benchctl.analyze.adaptive import judge_sequential
    from benchctl.analyze.report.common import change
    from benchctl.analyze.result import analyze

    r = analyze(tidy, reference, kernel, [claim], confidence=CONFIDENCE, seed=seed, resamples=resamples)
    comps = {(c["workload"], c["metric"]): c for c in r["comparisons"]}
    (st,) = judge_sequential([claim], comps, CONFIDENCE, horizon)
    v = st["verdict"]
    decision = "bad" if v in PRESENT else "good" if v in ABSENT else "skip"
    row = r["claims"][0] | {"ci_pct": st["ci_pct"]}
    shown = change(row) if st["ci_pct"] else "no data"
    why = f" ({(st.get('note') or '')[:80]})" if v == "not-judged" else ""
    return decision, f"{claim.id} vs {reference}: {shown} {v} after {st['n_pairs']} pair(s){why}"
