"""Verdicts on claims from the comparisons: Holm across claims, refusals, and what would decide it.

A verdict that asserts an effect needs the claim's Holm-adjusted p below
1 - confidence; a comparison too coarse (latency resolution) or too thin
(one measurement a side) is not judged, and says why. An inconclusive
claim gets the boots x iterations that would resolve it (stats/power.py).
"""

from __future__ import annotations

import math

from benchctl.analyze.claims import EFFECT_VERDICTS, Claim, verdict
from benchctl.analyze.stats import classical, power


def decide(comp: dict, claim_pct: float, reboot_cost: float, iter_cost: float, alpha: float = 0.05) -> dict:
    """Boots x iterations per arm resolving a change of claim_pct (stats/power.py).

    alpha is the per-claim level: callers pass alpha / number of claims, the
    level Holm's first step demands, so the design also survives the family.
    """
    vc = comp["variance_components"]
    within = (_nz(vc["baseline"]["within_boot_var"]), _nz(vc["candidate"]["within_boot_var"]))
    between = (_nz(vc["baseline"]["between_boot_var"]), _nz(vc["candidate"]["between_boot_var"]))
    delta = abs(claim_pct) / 100.0 * comp["baseline"]["mean"]
    p = power.plan(delta, within, between, reboot_cost, iter_cost, alpha=alpha).as_dict()
    if min(vc["baseline"]["n_boots"], vc["candidate"]["n_boots"]) < 2:
        p["note"] = (
            p["note"] + "; " if p["note"] else ""
        ) + "between-boot variance unknown (one boot): assumed 0, so this is a lower bound"
    return p


def _nz(x) -> float:
    return 0.0 if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def judge(
    claims: list[Claim], comps: dict[tuple[str, str], dict], confidence: float, reboot_cost: float, iter_cost: float
) -> list[dict]:
    alpha = 1 - confidence
    pvals = [comps[(c.workload, c.metric)]["p_value"] if (c.workload, c.metric) in comps else None for c in claims]
    adjusted = classical.holm(pvals)
    out = []
    for c, p, padj in zip(claims, pvals, adjusted, strict=True):
        comp = comps.get((c.workload, c.metric))
        warnings: list[str] = []
        row = {
            "id": c.id,
            "workload": c.workload,
            "metric": c.metric,
            "claimed": c.as_dict(),
            "claimed_text": c.claimed_text(),
            "tolerance": c.tolerance,
            "verdict": "inconclusive",
            "change_pct": None,
            "ci_pct": None,
            "p_value": p,
            "p_adjusted": padj,
            "warnings": warnings,
            "decide": None,
        }
        if comp is None:
            warnings.append(f"not judged: no {c.metric} data for workload {c.workload} in both arms")
            out.append(row)
            continue
        row["change_pct"], row["ci_pct"] = comp["change_pct"], comp["ci_pct"]
        warnings += comp["warnings"]
        if not comp.get("comparable", True):
            out.append(row)
            continue
        res = comp.get("resolution")
        needed = c.resolution_pct if c.resolution_pct is not None else abs(c.nearest_zero)
        if res and res["resolution_pct"] is not None and res["resolution_pct"] > needed:
            warnings.insert(
                0,
                f"not judged: {c.metric} has {res['latency_resolution']} resolution "
                f"(steps of about {res['resolution_pct']:g} %), coarser than the claimed "
                f"{needed:g} %; measure latency with an exact or HDR histogram tool",
            )
            out.append(row)
            continue
        thin = [a for a in ("baseline", "candidate") if comp[a]["n_samples"] < 2]
        if thin:
            warnings.insert(
                0,
                f"not judged: one measurement on the {' and '.join(thin)} side; "
                "an interval needs at least 2 per arm (several boots to generalise)",
            )
            out.append(row)
            continue
        lo, hi = comp["ci_pct"]
        v = verdict(c, lo, hi)
        if v in EFFECT_VERDICTS and padj is not None and padj >= alpha:
            warnings.insert(
                0,
                f"interval excludes zero but the Holm-adjusted p ({padj:.3g}) is not "
                f"below {alpha:g} across {sum(x is not None for x in pvals)} claims: "
                f"verdict held at inconclusive (raw verdict: {v})",
            )
            v = "inconclusive"
        if v in EFFECT_VERDICTS and p is None:
            warnings.insert(
                0,
                f"VERDICT FROM ITERATIONS OF ONE BOOT: '{v}' holds for the boot(s) "
                "measured, not for the kernel; measure >= 2 boots per arm (3+ to test)",
            )
        row["verdict"] = v
        if v == "inconclusive":
            row["decide"] = decide(comp, c.nearest_zero, reboot_cost, iter_cost, alpha / max(1, len(claims)))
        out.append(row)
    return out
