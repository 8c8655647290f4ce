"""Verdicts on claims from the comparisons, or "not-judged" and why.

The order of the refusals is the order a reader needs them: no data, data
that cannot be independent samples or arms that measured different things
(duplicates, one boot counted as both arms, mismatched setups), data of
another setup than the claim's, one boot per arm, a resolution coarser than the claim, a single measurement. Only
then does the interval decide (claims.verdict), held at inconclusive when
Holm's adjusted p across the claims is not small enough. An exact comparison
(an exact metric, one value on every boot of each arm: sameness.py) has a
zero-width interval and no p-value: its verdict is the exact change against
the claimed band, and it leaves Holm's family. A timing measured on an
emulated CPU (analyze/emulation.py) is refused first among the data's
reasons, with its change still shown, and leaves Holm's family too.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from benchctl.analyze import kinds
from benchctl.analyze.resulttypes import ClaimResult, Comparison, Decide, sides
from benchctl.analyze.stats import classical, power
from benchctl.claims import EFFECT_VERDICTS, EQUIVALENCE_VERDICTS, Claim, verdict
from benchctl.results.metrics import SETUP_ALIASES, setup_value


def decide(comp: Comparison, claim_pct: float, reboot_cost: float, iter_cost: float, alpha: float = 0.05) -> Decide:
    """Boots x iterations per arm resolving a change of claim_pct (stats/power.py).

    alpha is the per-claim level: callers pass alpha / number of claims, the
    level Holm's first step demands, so the design also survives the family.
    """
    vc = comp["variance_components"]
    within = (_nz(vc["baseline"]["within_boot_var"]), _nz(vc["candidate"]["within_boot_var"]))
    between = (_nz(vc["baseline"]["between_boot_var"]), _nz(vc["candidate"]["between_boot_var"]))
    delta = abs(claim_pct) / 100.0 * comp["baseline"]["mean"]
    p = power.cheapest_design(delta, within, between, reboot_cost, iter_cost, alpha=alpha).as_dict()
    if min(vc["baseline"]["n_boots"], vc["candidate"]["n_boots"]) < 2:
        p["note"] = (
            p["note"] + "; " if p["note"] else ""
        ) + "between-boot variance unknown (one boot): assumed 0, so this is a lower bound"
    return p


def _emulated(comp: Comparison | None) -> bool:
    return comp is not None and comp.get("emulated", False)


def _nz(x: float | None) -> float:
    return 0.0 if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _claim_setup(c: Claim, comp: Comparison) -> tuple[str | None, list[str]]:
    """(why the data measured another setup than the claim's, warnings for what it does not record)."""
    have = comp.get("setup") or {}
    unrecorded = []
    for key, want in c.setup:
        key = SETUP_ALIASES.get(key, key)
        got = have.get(key)
        if not got:
            unrecorded.append(f"{key}={want}")
        elif got != [setup_value(key, want)]:
            return f"the claim is about {key}={want} but the data measured {key}={', '.join(got)}", []
    if unrecorded:
        return None, [
            f"the claim is about {', '.join(unrecorded)}, which the data does not record "
            "(assumed; `benchctl import --set` records it)"
        ]
    return None, []


def refusal(c: Claim, comp: Comparison | None) -> str | None:
    """The first reason no verdict can be given on this claim, or None."""
    if comp is None:
        return f"no {c.metric} data for workload {c.workload} in both arms"
    if comp.get("not_judged"):
        return comp["not_judged"][0]
    other_setup, _ = _claim_setup(c, comp)
    if other_setup:
        return other_setup
    few = [f"{a} {side['n_boots']}" for a, side in sides(comp) if side["n_boots"] < 2]
    if few:
        return (
            f"one boot per arm ({', '.join(few)} boot): iterations of one boot describe that boot, "
            "not the kernel; measure >= 3 boots per arm"
        )
    res = comp.get("resolution")
    needed = c.resolution_pct if c.resolution_pct is not None else abs(c.nearest_zero)
    if res and res["resolution_pct"] is not None and res["resolution_pct"] > needed:
        return (
            f"{c.metric} has {res['latency_resolution'] or 'histogram'} resolution (steps of about "
            f"{res['resolution_pct']:g} %), coarser than the claimed {needed:g} %; measure latency with a "
            "finer histogram (exact samples, or HDR buckets narrower than the claim)"
        )
    thin = [a for a, side in sides(comp) if side["n_samples"] < 2]
    if thin:
        return (
            f"one measurement on the {' and '.join(thin)} side; an interval needs at least 2 per arm "
            "(several boots to generalise)"
        )
    return None


def _row(c: Claim, p: float | None, padj: float | None) -> ClaimResult:
    return {
        "id": c.id,
        "workload": c.workload,
        "metric": c.metric,
        "claimed": c.as_dict(),
        "claimed_text": c.claimed_text(),
        "tolerance": c.tolerance,
        "verdict": "not-judged",
        "change_pct": None,
        "ci_pct": None,
        "p_value": p,
        "p_adjusted": padj,
        "warnings": [],
        "decide": None,
        "exact": None,
        "line": c.line,
    }


Scale = Callable[[ClaimResult, Claim], None]


def _estimate(
    c: Claim, row: ClaimResult, comp: Comparison | None, alpha: float, arms: tuple[str, str], scale: Scale | None
) -> None:
    """The claim's estimate and raw verdict before Holm, or 'not judged' and why first in its warnings."""
    if c.kind == "scaling":
        if scale is None:
            row["warnings"].insert(0, "not judged: a scaling claim needs boots with their fingerprints (RAM)")
        else:
            scale(row, c)
        return
    if c.kind == "equivalence" and c.against and c.against != arms[0]:
        row["warnings"].insert(
            0,
            f"not judged: no arm {c.against} compared (the claim is {arms[1]} on par with {c.against}); "
            f"add an arm labelled {c.against} (e.g. --candidate {arms[1]} --candidate {c.against})",
        )
        return
    if comp is not None:
        row["change_pct"], row["ci_pct"] = comp["change_pct"], comp["ci_pct"]
        row["exact"] = comp.get("exact")
        row["warnings"] += comp["warnings"] + _claim_setup(c, comp)[1]
    why = refusal(c, comp)
    if why or comp is None:
        row["warnings"].insert(0, f"not judged: {why}")
        return
    if c.kind == "equivalence":
        kinds.equivalence_row(row, c, comp, alpha)
    else:
        row["verdict"] = verdict(c, *comp["ci_pct"])


def judge(
    claims: list[Claim],
    comps: dict[tuple[str, str], Comparison],
    confidence: float,
    reboot_cost: float,
    iter_cost: float,
    *,
    arms: tuple[str, str] = ("baseline", "candidate"),
    scale: Scale | None = None,
) -> list[ClaimResult]:
    """One row per claim: verdict, interval, p and adjusted p, warnings (the reason first).

    `scale(row, claim)` judges a scaling claim (kinds.scaling_row over the boots); equivalence claims
    are judged here with TOST (kinds.equivalence_row) when `arms[0]` is the arm they name.
    """
    alpha = 1 - confidence
    rows = []
    for c in claims:
        comp = comps.get((c.workload, c.metric))
        row = _row(c, comp["p_value"] if comp and c.kind == "change" else None, None)
        _estimate(c, row, comp, alpha, arms, scale)
        rows.append(row)
    # A timing from an emulated CPU is not tested at all (analyze/emulation.py): it leaves Holm's
    # family, as an exact comparison does, and keeps its raw p for the reader.
    family = [
        None if _emulated(comps.get((c.workload, c.metric))) and c.kind != "scaling" else r["p_value"]
        for c, r in zip(claims, rows, strict=True)
    ]
    adjusted = classical.holm(family)
    for c, row, padj in zip(claims, rows, adjusted, strict=True):
        row["p_adjusted"] = padj
        v = row["verdict"]
        if v == "not-judged":
            continue
        if v in EFFECT_VERDICTS + EQUIVALENCE_VERDICTS[:1] and padj is not None and padj >= alpha:
            row["warnings"].insert(
                0,
                f"interval excludes zero but the Holm-adjusted p ({padj:.3g}) is not "
                f"below {alpha:g} across {sum(x is not None for x in family)} claims: "
                f"verdict held at inconclusive (raw verdict: {v})"
                if c.kind != "equivalence"
                else f"the TOST p Holm-adjusted ({padj:.3g}) is not below {alpha:g} across "
                f"{sum(x is not None for x in family)} claims: verdict held at inconclusive (raw verdict: {v})",
            )
            v = row["verdict"] = "inconclusive"
        if v != "inconclusive" or c.kind != "change":
            continue
        comp = comps[(c.workload, c.metric)]
        if comp.get("exact"):
            row["decide"] = {
                "note": "the change is exact and lies in a claimed band that includes zero: more boots cannot decide"
            }
        else:
            row["decide"] = decide(comp, c.nearest_zero, reboot_cost, iter_cost, alpha / max(1, len(claims)))
    return rows
