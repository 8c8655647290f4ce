"""More than two arms: a baseline and several candidates (6.18 on a trusted CPU, on an untrusted
one, with rodata=noalias), each compared pairwise by result.analyze.

Pairs: the baseline against each candidate; and, for an equivalence claim naming another arm
(`against = "noalias"`: "on par with rodata=on"), that arm against each other candidate. Each
claim is judged in the pairs it is about (change and scaling claims: baseline vs candidate;
equivalence: its `against` arm vs candidate). Error rates: the intervals and tests of each pair
are at 1 - (1 - confidence) / pairs (Bonferroni across pairs), Holm within each pair's claims, so
every verdict of the whole table keeps the family-wise level the user asked for.

Two arms and no equivalence against a third give result.analyze's result unchanged; more give
a `benchctl-analysis/2` document with "multi": true and the pair results under "pairs".
"""

from __future__ import annotations

from typing import Any

from benchctl.analyze.result import FORMAT, analyze
from benchctl.analyze.resulttypes import Analysis, MultiAnalysis
from benchctl.claims import Claim
from benchctl.errors import UsageError
from benchctl.results.table import Tidy


def pairs(baseline: str, candidates: list[str], claims: list[Claim], arms_in_data: set[str]) -> list[tuple[str, str]]:
    """The (baseline, candidate) pairs to compare, in report order."""
    out = [(baseline, c) for c in candidates]
    for c in claims:
        if c.kind == "equivalence" and c.against and c.against in arms_in_data and c.against != baseline:
            out += [(c.against, k) for k in candidates if k != c.against and (c.against, k) not in out]
    return out


def analyze_arms(
    tidy: Tidy, baseline: str, candidates: list[str], claims: list[Claim] | None = None, **kw: Any
) -> Analysis | MultiAnalysis:
    """result.analyze for two arms; for more, every pair at the Bonferroni level (module doc)."""
    if not candidates:
        raise UsageError("give at least one --candidate arm")
    if len(set(candidates)) != len(candidates) or baseline in candidates:
        raise UsageError(f"arms must differ: baseline {baseline}, candidates {', '.join(candidates)}")
    claims = claims or []
    in_data = set(tidy.df["arm"].unique()) if len(tidy.df) else set()
    todo = pairs(baseline, candidates, claims, in_data)
    if len(todo) == 1:
        return analyze(tidy, baseline, candidates[0], claims, **kw)
    confidence = kw.pop("confidence", 0.95)
    level = 1 - (1 - confidence) / len(todo)
    results = []
    for a, b in todo:
        mine = [c for c in claims if _judged_in(c, (a, b), baseline, in_data)]
        results.append(analyze(tidy, a, b, mine, confidence=level, **kw))
    return {
        "format": FORMAT,
        "multi": True,
        "baseline": baseline,
        "candidates": candidates,
        "arms": [baseline, *candidates],
        "confidence": confidence,
        "pair_confidence": level,
        "correction": f"Bonferroni across {len(todo)} pairs: each at {level:.4g}, family-wise {confidence:g}",
        "simulated": any(r["simulated"] for r in results),
        "emulated": next((r["emulated"] for r in results if r["emulated"]), None),
        "pairs": results,
    }


def _judged_in(c: Claim, pair: tuple[str, str], baseline: str, in_data: set[str]) -> bool:
    """Whether claim c is judged in this pair (module doc)."""
    a, _ = pair
    if c.kind == "equivalence" and c.against:
        # an arm the data does not have: the baseline pairs say so (judge's "not judged" names it)
        return a == c.against if c.against in in_data else a == baseline
    return a == baseline
