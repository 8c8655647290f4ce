"""A claim as a bisection's criterion: is the change present at this kernel?

The step's boots are compared with the first kernel's (the reference, assumed good) by
`benchctl analyze` on that one claim: a verdict that the change is there (confirmed, smaller-
or larger-than-claimed) is bad; not-reproduced (the interval misses the claimed band and holds
zero) and reversed (a change the other way: the claimed one is absent) are good; inconclusive
and not judged are skip, with the verdict as evidence, so an undecided step never names a
culprit. Every step is compared with the same reference boots, so a reference that came out
high or low by chance tilts every step the same way: that is why a change the other way counts
as absent rather than as evidence of anything. The boots per step come from `benchctl
plan` for the claim (or are given); an exact metric (MemTotal) is decided by two boots.
"""

from __future__ import annotations

from benchctl.claims import Claim
from benchctl.results.table import Tidy

PRESENT = ("confirmed", "smaller-than-claimed", "larger-than-claimed")
ABSENT = ("not-reproduced", "reversed")


def decide(
    tidy: Tidy, reference: str, kernel: str, claim: Claim, *, seed: int = 0, resamples: int = 2000
) -> tuple[str, str]:
    """(good | bad | skip, one evidence line) for the boots of `kernel` against `reference`."""
    from benchctl.analyze.report.common import change
    from benchctl.analyze.result import analyze

    r = analyze(tidy, reference, kernel, [claim], seed=seed, resamples=resamples)
    row = r["claims"][0]
    v = row["verdict"]
    decision = "bad" if v in PRESENT else "good" if v in ABSENT else "skip"
    shown = change(row) if row["ci_pct"] else "no data"
    why = f" ({row['warnings'][0].removeprefix('not judged: ')[:80]})" if v == "not-judged" else ""
    return decision, f"{claim.id} vs {reference}: {shown} {v}{why}"
