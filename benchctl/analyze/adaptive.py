"""Claims judged on anytime-valid intervals: the verdict may be read after every pair of boots.

The fixed-design judge (judge.py) reads one interval at a number of boots
fixed in advance. Here each claim's interval is the confidence sequence of
stats/sequential.py over the per-boot means of the two arms (in start
order, the n-th boot of each arm paired), intersected over the pairs seen,
at level alpha / m for m claims (Bonferroni: a confidence sequence has no
p-value to feed Holm, and a family-wise error of alpha at any stopping time
is what optional stopping needs). The verdict is claims.verdict on that
interval. A claim is decided when its verdict is one of DECIDED; with
running intersections a decided claim stays decided (the interval only
shrinks: it cannot come back to overlap zero and the band at once).

An exact metric (MemTotal: one value on every boot of each arm,
sameness.py) keeps its exact rule: compare.py gives a zero-width interval
once each arm has the >= 2 boots that rule asks for, and the verdict is the
exact change against the band, decided at once.
"""

from __future__ import annotations

import math

from benchctl.analyze.judge import refusal
from benchctl.analyze.resulttypes import Analysis, Comparison, Sequential, sides
from benchctl.analyze.stats import sequential
from benchctl.claims import Claim, verdict

DECIDED = ("confirmed", "smaller-than-claimed", "larger-than-claimed", "not-reproduced", "reversed")
METHOD = (
    "anytime-valid: confidence sequence over per-boot means (Lai's invariant normal mixture, two arms; "
    "stats/sequential.py), level {level} per claim (Bonferroni over {m}), intersected over {n} pairs of boots"
)


def claim_alpha(confidence: float, n_claims: int) -> float:
    """The per-claim level: alpha / m, so every claim's sequence holds at once with 1 - alpha."""
    return (1.0 - confidence) / max(1, n_claims)


def judge_one(claim: Claim, comp: Comparison | None, alpha: float, n_claims: int = 1) -> Sequential:
    """The sequential state of one claim: verdict, interval in percent, pairs, decided (module doc)."""
    row: Sequential = {"id": claim.id, "verdict": "not-judged", "ci_pct": None, "n_pairs": 0, "decided": False}
    if comp is None or comp.get("not_judged"):
        row["note"] = refusal(claim, comp)
        return row
    base, cand = comp["baseline"], comp["candidate"]
    n = min(base["n_boots"], cand["n_boots"])
    row["n_pairs"] = n
    if comp.get("exact"):
        change = comp["change_pct"]
        row["verdict"], row["ci_pct"], row["decided"] = verdict(claim, change, change), [change, change], True
        row["method"] = comp["method"]
        return row
    if n >= 2:
        why = refusal(claim, comp)
        if why:
            row["note"] = why
            return row
    try:
        iv = sequential.interval(base["boot_means"], cand["boot_means"], alpha)
    except ValueError as e:
        row["note"] = str(e)
        return row
    lo, hi = iv.pct
    v = verdict(claim, lo, hi) if iv.bounded else "inconclusive"
    row["verdict"], row["ci_pct"], row["decided"] = v, [lo, hi] if iv.bounded else None, v in DECIDED  # JSON: no inf
    row["method"] = METHOD.format(level=f"{alpha:.3g}", m=n_claims, n=n)
    if not iv.bounded:
        need = sequential.pairs_needed(alpha)
        row["note"] = f"not bounded yet: the sequence needs >= {need} pairs of boots at level {alpha:.3g}"
    return row


def change_claims(claims: list[Claim]) -> list[Claim]:
    """The claims a sequence decides: changes between the arms (an equivalence or scaling claim
    has its own rule, analyze/kinds.py, and is shown but left out of the stopping rule)."""
    return [c for c in claims if c.kind == "change"]


def judge_sequential(
    claims: list[Claim], comps: dict[tuple[str, str], Comparison], confidence: float
) -> list[Sequential]:
    """One sequential state per change claim (judge_one), all at level (1 - confidence) / their number."""
    claims = change_claims(claims)
    alpha = claim_alpha(confidence, len(claims))
    return [judge_one(c, comps.get((c.workload, c.metric)), alpha, len(claims)) for c in claims]


def all_decided(rows: list[Sequential]) -> bool:
    return bool(rows) and all(r["decided"] for r in rows)


def pct(x: float) -> str:
    """A percent bound for text: 'inf' while a sequence is unbounded."""
    return "inf" if not math.isfinite(x) else f"{x:+.3g}"


def expected_more(
    claim: Claim, comp: Comparison, alpha: float, max_pairs: int, sims: int = 200, seed: int = 0
) -> float | None:
    """Pairs of boots this undecided claim should still need (mean over `sims` continuations), or None.

    The continuations extend the boots seen with boots drawn from what they
    show (each arm's mean log and the pooled sd of the logs): a plug-in
    forecast for the progress line, not a statistic any verdict uses. None
    when the claim is decided, exact, or has fewer than 2 pairs to go on;
    max_pairs minus the pairs seen when no continuation decides it.
    """
    import numpy as np

    base, cand = (np.log(np.asarray(side["boot_means"], dtype=float)) for _, side in sides(comp))
    n = min(len(base), len(cand))
    if n < 2 or comp.get("exact") or n >= max_pairs or np.any(~np.isfinite(base)) or np.any(~np.isfinite(cand)):
        return None
    base, cand = base[:n], cand[:n]
    sd = math.sqrt((np.var(base, ddof=1) + np.var(cand, ddof=1)) / 2)
    rng = np.random.default_rng(seed)
    more = max_pairs - n
    y = np.hstack([np.tile(base, (sims, 1)), rng.normal(base.mean(), sd, (sims, more))])
    x = np.hstack([np.tile(cand, (sims, 1)), rng.normal(cand.mean(), sd, (sims, more))])
    lo, hi = sequential.running_intersection(*sequential.paths(y, x, alpha))
    lo_pct, hi_pct = 100.0 * np.expm1(lo), 100.0 * np.expm1(hi)
    if np.isfinite(hi_pct[0, n - 1]) and verdict(claim, lo_pct[0, n - 1], hi_pct[0, n - 1]) in DECIDED:
        return None  # the boots seen decide it already
    need = np.full(sims, float(more))
    for i in range(sims):
        for k in range(n, max_pairs):
            if np.isfinite(hi_pct[i, k]) and verdict(claim, lo_pct[i, k], hi_pct[i, k]) in DECIDED:
                need[i] = k + 1 - n
                break
    return float(need.mean())


def apply_sequential(result: Analysis, claims: list[Claim], confidence: float) -> None:
    """An adaptive campaign's analysis: each claim's verdict and interval from its sequence (judge_one).

    The fixed-design verdict and interval stay in the claim's warnings, so a
    reader sees both; an interval the sequence cannot bound yet keeps the
    fixed one on display and the verdict inconclusive. A note says so once.
    """
    comps = {(c["workload"], c["metric"]): c for c in result["comparisons"]}
    states = {s["id"]: s for s in judge_sequential(claims, comps, confidence)}
    alpha = claim_alpha(confidence, len(change_claims(claims)))
    result["notes"].append(
        f"adaptive campaign (plan.json): claim verdicts come from anytime-valid confidence sequences over "
        f"pairs of boots at {alpha:.3g} per claim (docs/analyze.md, 'Anytime-valid decisions'), valid "
        "whenever the campaign stopped; the fixed-design interval is kept in each claim's warnings"
    )
    for row in result["claims"]:
        st = states.get(row["id"])
        if st is None or row["verdict"] == "not-judged":
            continue
        fixed = row["ci_pct"]
        was = f"fixed-design interval [{pct(fixed[0])}, {pct(fixed[1])}] %, " if fixed else ""
        how = (
            "adaptive campaign: an exact metric is decided by its exact rule, no sequence needed"
            if row.get("exact")
            else f"anytime-valid: {st.get('method', '')}"
        )
        row["warnings"].insert(0, f"{how}; {was}fixed-design verdict {row['verdict']}")
        row["sequential"] = st
        row["verdict"] = st["verdict"] if st["verdict"] != "not-judged" else "inconclusive"
        if st["ci_pct"] and all(math.isfinite(x) for x in st["ci_pct"]):
            row["ci_pct"] = st["ci_pct"]
        elif note := st.get("note"):
            row["warnings"].insert(0, note)
        if row["verdict"] != "inconclusive":
            row["decide"] = None
