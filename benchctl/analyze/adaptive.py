"""Claims judged on anytime-valid intervals: the verdict may be read after every pair of boots.

The fixed-design judge (judge.py) reads one interval at a number of boots
fixed in advance. Here each claim's interval is the confidence sequence of
stats/sequential.py over the per-boot means of the two arms (in start
order, the n-th boot of each arm paired), intersected over the pairs seen,
at the campaign's confidence, with the spending planned for its horizon
(--max-boots). As in the fixed design, a verdict asserting an effect also
needs Holm's adjusted p across the claims below alpha: here Holm takes
each claim's anytime-valid p* (stats/sequential.py), a valid p-value at
any stopping time, so the family-wise error stays <= alpha however the
campaign stopped. The verdict is claims.verdict on the interval, held at
inconclusive by Holm. A claim is decided when its verdict is one of
DECIDED; intervals only shrink and p* only falls, so a decided claim stays
decided.

An exact metric (MemTotal: one value on every boot of each arm,
sameness.py) keeps its exact rule: compare.py gives a zero-width interval
once each arm has the >= 2 boots that rule asks for, and the verdict is the
exact change against the band, decided at once; like the fixed design it
has no p and is outside Holm's family.
"""

from __future__ import annotations

import math

from benchctl.analyze.judge import refusal
from benchctl.analyze.resulttypes import Analysis, Comparison, Sequential, sides
from benchctl.analyze.stats import classical, sequential
from benchctl.claims import EFFECT_VERDICTS, Claim, verdict

DECIDED = ("confirmed", "smaller-than-claimed", "larger-than-claimed", "not-reproduced", "reversed")
METHOD = (
    "anytime-valid: confidence sequence over per-boot means (pooled t intervals, alpha spent over the "
    "{h} planned pairs by the union bound; stats/sequential.py) at {level}, intersected over {n} pairs "
    "of boots; effect verdicts need Holm's adjusted p* < {alpha:g}"
)


def judge_one(claim: Claim, comp: Comparison | None, alpha: float, horizon: int) -> Sequential:
    """One claim's sequential state before Holm: verdict, interval in percent, p*, pairs (module doc)."""
    row: Sequential = {
        "id": claim.id,
        "verdict": "not-judged",
        "ci_pct": None,
        "n_pairs": 0,
        "decided": False,
        "p_value": None,
    }
    if comp is None or comp.get("not_judged"):
        row["note"] = refusal(claim, comp)
        return row
    base, cand = comp["baseline"], comp["candidate"]
    n = min(base["n_boots"], cand["n_boots"])
    row["n_pairs"] = n
    if comp.get("exact"):
        change = comp["change_pct"]
        row["verdict"], row["ci_pct"] = verdict(claim, change, change), [change, change]
        row["method"] = comp["method"]
        return row
    if n >= 2:
        why = refusal(claim, comp)
        if why:
            row["note"] = why
            return row
    try:
        iv = sequential.interval(base["boot_means"], cand["boot_means"], alpha, horizon)
    except ValueError as e:
        row["note"] = str(e)
        return row
    lo, hi = iv.pct
    row["verdict"] = verdict(claim, lo, hi) if iv.bounded else "inconclusive"
    row["ci_pct"] = [lo, hi] if iv.bounded else None  # JSON has no inf
    row["p_value"] = iv.p_value
    row["method"] = METHOD.format(h=horizon, level=f"{1 - alpha:.3g}", n=n, alpha=alpha)
    if not iv.bounded:
        row["note"] = "not bounded yet: the sequence needs >= 2 pairs of boots"
    return row


def holm_gate(rows: list[Sequential], alpha: float) -> list[Sequential]:
    """Holm over the rows' p* (None: outside the family); an effect verdict whose adjusted p* is not
    below alpha is held at inconclusive, as judge.py holds the fixed design's. Sets decided."""
    family = [r["p_value"] for r in rows]
    m = sum(p is not None for p in family)
    for r, padj in zip(rows, classical.holm(family), strict=True):
        r["p_adjusted"] = padj
        if r["verdict"] in EFFECT_VERDICTS and padj is not None and padj >= alpha:
            r["note"] = (
                f"interval excludes zero but Holm's adjusted p* ({padj:.3g}) is not below {alpha:g} "
                f"across {m} claims: held at inconclusive (raw verdict: {r['verdict']})"
            )
            r["verdict"] = "inconclusive"
        r["decided"] = r["verdict"] in DECIDED
    return rows


def change_claims(claims: list[Claim]) -> list[Claim]:
    """The claims a sequence decides: changes between the arms (an equivalence or scaling claim
    has its own rule, analyze/kinds.py, and is shown but left out of the stopping rule)."""
    return [c for c in claims if c.kind == "change"]


def judge_sequential(
    claims: list[Claim], comps: dict[tuple[str, str], Comparison], confidence: float, horizon: int
) -> list[Sequential]:
    """One sequential state per change claim (judge_one at 1 - confidence), Holm-gated (holm_gate)."""
    alpha = 1.0 - confidence
    rows = [judge_one(c, comps.get((c.workload, c.metric)), alpha, horizon) for c in change_claims(claims)]
    return holm_gate(rows, alpha)


def all_decided(rows: list[Sequential]) -> bool:
    return bool(rows) and all(r["decided"] for r in rows)


def pct(x: float) -> str:
    """A percent bound for text: 'inf' while a sequence is unbounded."""
    return "inf" if not math.isfinite(x) else f"{x:+.3g}"


def expected_more(
    claim: Claim, comp: Comparison, alpha: float, horizon: int, family: int = 1, sims: int = 200, seed: int = 0
) -> float | None:
    """Pairs of boots this undecided claim should still need (mean over `sims` continuations), or None.

    The continuations extend the boots seen with boots drawn from what they
    show (each arm's mean log and the pooled sd of the logs), up to the
    horizon; an effect verdict counts once its p* is below alpha / family
    (Holm's first step, the most it may have to pass). A plug-in forecast
    for the progress line, not a statistic any verdict uses. None when the
    claim is decided, exact, or has fewer than 2 pairs to go on; the pairs
    left to the horizon when no continuation decides it.
    """
    import numpy as np

    base, cand = (np.log(np.asarray(side["boot_means"], dtype=float)) for _, side in sides(comp))
    n = min(len(base), len(cand))
    if n < 2 or comp.get("exact") or n >= horizon or np.any(~np.isfinite(base)) or np.any(~np.isfinite(cand)):
        return None
    base, cand = base[:n], cand[:n]
    sd = math.sqrt((np.var(base, ddof=1) + np.var(cand, ddof=1)) / 2)
    rng = np.random.default_rng(seed)
    more = horizon - n
    y = np.hstack([np.tile(base, (sims, 1)), rng.normal(base.mean(), sd, (sims, more))])
    x = np.hstack([np.tile(cand, (sims, 1)), rng.normal(cand.mean(), sd, (sims, more))])
    lo, hi = sequential.running_intersection(*sequential.paths(y, x, alpha, horizon))
    p = sequential.p_paths(y, x, horizon)
    lo_pct, hi_pct = 100.0 * np.expm1(lo), 100.0 * np.expm1(hi)

    def decided(i: int, k: int) -> bool:
        v = verdict(claim, lo_pct[i, k], hi_pct[i, k])
        return v in DECIDED and (v not in EFFECT_VERDICTS or p[i, k] < alpha / max(1, family))

    if decided(0, n - 1):
        return None  # the boots seen decide it already
    need = np.full(sims, float(more))
    for i in range(sims):
        for k in range(n, horizon):
            if decided(i, k):
                need[i] = k + 1 - n
                break
    return float(need.mean())


def apply_sequential(result: Analysis, claims: list[Claim], confidence: float, horizon: int) -> None:
    """An adaptive campaign's analysis: each claim's verdict and interval from its sequence (judge_sequential).

    The fixed-design verdict and interval stay in the claim's warnings, so a
    reader sees both; an interval the sequence cannot bound yet keeps the
    fixed one on display and the verdict inconclusive. A note says so once.
    """
    comps = {(c["workload"], c["metric"]): c for c in result["comparisons"]}
    states = {s["id"]: s for s in judge_sequential(claims, comps, confidence, horizon)}
    result["notes"].append(
        f"adaptive campaign (plan.json): claim verdicts come from anytime-valid confidence sequences over "
        f"pairs of boots at {confidence:g} per claim, planned for {horizon} pairs, effect verdicts gated by "
        "Holm on anytime-valid p-values (docs/analyze.md, 'Anytime-valid decisions'), valid whenever the "
        "campaign stopped; the fixed-design interval is kept in each claim's warnings"
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
            else st.get("method", "anytime-valid")
        )
        row["warnings"].insert(0, f"{how}; {was}fixed-design verdict {row['verdict']}")
        row["sequential"] = st
        row["verdict"] = st["verdict"] if st["verdict"] != "not-judged" else "inconclusive"
        if st["ci_pct"] and all(math.isfinite(x) for x in st["ci_pct"]):
            row["ci_pct"] = st["ci_pct"]
        if note := st.get("note"):
            row["warnings"].insert(0, note)
        if row["verdict"] != "inconclusive":
            row["decide"] = None
