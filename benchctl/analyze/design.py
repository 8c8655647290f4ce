"""`benchctl plan`: from a pilot, the cheapest design resolving each claim.

Inputs are the pilot's variance components per arm (stats/components.py,
from analysis.analyze) and two costs: a reboot (--reboot-cost, default
300 s: reboot, settle, warm-up) and an iteration (median gap between record
timestamps `t` of consecutive iterations, or --iteration-cost). The search
itself is stats/power.py (K&J's optimal repetitions extended with the effect
size and a power target). With several claims each is planned at
alpha / (number of claims), the level Holm's first step demands, so the
planned design still resolves its claim after the family-wise correction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from benchctl.analyze.sameness import EXACT_TEXT
from benchctl.analyze.stats import power
from benchctl.claims import Claim
from benchctl.human import WIDTH

FORMAT = "benchctl-plan/1"


def pilot_warnings(result: Mapping[str, Any]) -> list[str]:
    """What makes the whole pilot a poor basis for a plan: simulated noise and costs."""
    out = []
    if result["simulated"]:
        out.append(
            "the pilot is SIMULATED: its noise is the model's assumption (model simulate --boot-noise/"
            "--iteration-noise), not a measurement; plan again on a real pilot of a few boots"
        )
        if result["costs"].get("iteration_from") == "timestamps":
            out.append("the iteration cost comes from simulated timestamps: give --iteration-cost")
    return out


def stated_pilot(
    claims: list[Claim] | None,
    noise_boot_pct: float,
    noise_iter_pct: float,
    *,
    baseline: str,
    candidate: str,
    confidence: float,
    reboot_s: float,
    iteration_s: float,
) -> dict[str, Any]:
    """A result-shaped pilot from stated noise (sd in % of the mean, the same in both arms), for a plan
    before any pilot exists: one comparison per claim (or one for --effect), mean 1, variances as given."""
    keys = sorted({(c.workload, c.metric) for c in claims}) if claims else [("all", "metrics")]
    vc = {
        "n_boots": 0,
        "iterations_per_boot": 0,
        "within_boot_var": (noise_iter_pct / 100) ** 2,
        "between_boot_var": (noise_boot_pct / 100) ** 2,
        "between_boot_var_raw": (noise_boot_pct / 100) ** 2,
    }
    comps = [
        {
            "workload": w,
            "metric": m,
            "stated": True,
            "baseline": {"mean": 1.0},
            "change_pct": None,
            "variance_components": {"baseline": dict(vc), "candidate": dict(vc)},
        }
        for w, m in keys
    ]
    return {
        "baseline": baseline,
        "candidate": candidate,
        "confidence": confidence,
        "simulated": False,
        "stated": {"noise_boot_pct": noise_boot_pct, "noise_iter_pct": noise_iter_pct},
        "costs": {"reboot_s": reboot_s, "iteration_s": iteration_s, "note": None, "iteration_from": "given"},
        "comparisons": comps,
    }


def _row_notes(comp: dict[str, Any], within: tuple[float, float], between: tuple[float, float], p: Any) -> list[str]:
    vc = comp["variance_components"]
    notes = []
    if comp.get("stated"):  # no pilot to criticise; the plan's own limits print with it
        return []
    if comp.get("not_judged"):
        notes.append(f"the pilot cannot support a plan: {comp['not_judged'][0]}")
    if not any(within) and not any(between):
        notes.append("the pilot shows no noise at all (constant or duplicated values): this plan means nothing")
    if min(vc["baseline"]["n_boots"], vc["candidate"]["n_boots"]) < 2:
        notes.append(
            "pilot has one boot on a side: between-boot variance unknown and taken as 0; "
            "run a pilot with >= 3 boots per arm"
        )
    elif any(vc[a]["between_boot_var_raw"] < 0 for a in ("baseline", "candidate")):
        notes.append("a between-boot variance estimate was negative and clamped to 0")
    if any(within) and not any(between):
        notes.append(
            "no between-boot variance seen: K&J's optimal iterations per boot are unbounded, which says "
            "too few boots, not a quiet kernel"
        )
    if p.note:
        notes.append(p.note)
    return notes


def cheapest_designs(
    result: Mapping[str, Any], claims: list[Claim] | None, effect_pct: float | None, target: float = 0.8
) -> list[dict[str, Any]]:
    """One entry per claim (or per comparison with --effect)."""
    comps = {(c["workload"], c["metric"]): c for c in result["comparisons"]}
    reboot, it = result["costs"]["reboot_s"], result["costs"]["iteration_s"]
    alpha = 1 - result["confidence"]
    if claims:
        alpha /= len(claims)
    scaling = {c.id for c in claims or [] if c.kind == "scaling"}
    if claims:
        # an equivalence claim is planned to resolve its margin; a scaling claim by machine sizes (below)
        wanted = [
            (c.id, c.workload, c.metric, c.tolerance if c.kind == "equivalence" else c.nearest_zero) for c in claims
        ]
    elif effect_pct is None:
        raise ValueError("cheapest_designs needs claims or effect_pct")
    else:
        wanted = [(f"{w}/{m}", w, m, effect_pct) for (w, m) in sorted(comps)]
    out = []
    for cid, workload, metric, eff in wanted:
        comp = comps.get((workload, metric))
        row = {
            "id": cid,
            "workload": workload,
            "metric": metric,
            "effect_pct": eff,
            "pilot": None,
            "plan": None,
            "note": "",
        }
        if cid in scaling:
            row["effect_pct"] = None
            row["note"] = (
                "a scaling claim: boot both arms at >= 3 machine sizes (RAM), 2 boots each for an exact "
                "metric such as MemTotal; the slope's interval comes from the sizes, not from more boots"
            )
            out.append(row)
            continue
        if comp is None:
            row["note"] = f"no {metric} data for {workload} in both arms of the pilot"
            out.append(row)
            continue
        vc = comp["variance_components"]
        mean = comp["baseline"]["mean"]
        within = (_z(vc["baseline"]["within_boot_var"]), _z(vc["candidate"]["within_boot_var"]))
        between = (_z(vc["baseline"]["between_boot_var"]), _z(vc["candidate"]["between_boot_var"]))
        row["pilot"] = {
            "boots": [vc["baseline"]["n_boots"], vc["candidate"]["n_boots"]],
            "iterations_per_boot": [vc["baseline"]["iterations_per_boot"], vc["candidate"]["iterations_per_boot"]],
            "between_boot_sd_pct": [100 * math.sqrt(x) / abs(mean) for x in between],
            "within_boot_sd_pct": [100 * math.sqrt(x) / abs(mean) for x in within],
            "measured_change_pct": comp["change_pct"],
        }
        if comp.get("exact"):
            row["note"] = (
                f"{EXACT_TEXT} in the pilot ({vc['baseline']['n_boots']}+{vc['candidate']['n_boots']} "
                "boots): the change is known exactly, more boots add nothing (a boot that differs would "
                "be flagged)"
            )
            out.append(row)
            continue
        p = power.cheapest_design(abs(eff) / 100 * mean, within, between, reboot, it, target=target, alpha=alpha)
        row["plan"] = p.as_dict()
        row["note"] = "; ".join(_row_notes(comp, within, between, p))
        out.append(row)
    return out


def _z(x: float | None) -> float:
    return 0.0 if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def _hours(s: float | None) -> str:
    return "n/a" if s is None else f"{s / 3600:.1f} h"


def render_text(result: Mapping[str, Any], rows: list[dict[str, Any]], target: float, n_claims: int = 0) -> str:
    import textwrap

    c = result["costs"]
    alpha = 1 - result["confidence"]
    level = f"alpha {alpha:.2g}/{n_claims} per claim (Holm)" if n_claims > 1 else f"alpha {alpha:.2g}"
    lines = []
    if result["simulated"]:
        lines.append("*** SIMULATED DATA - model output, not a measurement ***")
    lines += textwrap.wrap(
        f"benchctl plan: {result['candidate']} vs {result['baseline']}, {target:.0%} power at "
        f"{level}; reboot {c['reboot_s']:g} s, iteration {c['iteration_s']:.3g} s"
        + (
            f" ({c['note']})"
            if c["note"]
            else " (given)"
            if c.get("iteration_from") == "given"
            else " (from record timestamps)"
        ),
        WIDTH,
    )
    for w in pilot_warnings(result):
        lines += textwrap.wrap(f"warning: {w}", WIDTH, subsequent_indent="    ")
    lines.append("")
    for r in rows:
        eff = f"effect {r['effect_pct']:+g} %" if r["effect_pct"] is not None else "a slope (sizes)"
        lines.append(f"{r['id']}: {r['workload']} {r['metric']}, {eff}")
        pl, pi = r["plan"], r["pilot"]
        if pi and result.get("stated"):
            s = result["stated"]
            lines.append(
                f"  stated noise (sd as % of mean): between-boot {s['noise_boot_pct']:g}, "
                f"within-boot {s['noise_iter_pct']:g}"
            )
        elif pi:
            lines += textwrap.wrap(
                f"pilot {pi['boots'][0]}+{pi['boots'][1]} boots; noise as % of mean: between-boot "
                f"{pi['between_boot_sd_pct'][0]:.2g}/{pi['between_boot_sd_pct'][1]:.2g}, within-boot "
                f"{pi['within_boot_sd_pct'][0]:.2g}/{pi['within_boot_sd_pct'][1]:.2g} (sd)",
                WIDTH,
                initial_indent="  ",
                subsequent_indent="    ",
            )
        if pl and pl["boots_per_arm"]:
            kj = pl["kj_optimal_iterations"]
            kjs = "unbounded" if kj is None or math.isinf(kj) else f"{kj:.1f}"
            lines += textwrap.wrap(
                f"=> {pl['boots_per_arm']} boots per arm x {pl['iterations_per_boot']} iterations per boot "
                f"(power {pl['power']:.2f}, {_hours(pl['cost_s'])} for both arms; K&J optimal "
                f"iterations per boot {kjs})",
                WIDTH,
                initial_indent="  ",
                subsequent_indent="    ",
            )
        elif pl:
            lines += textwrap.wrap(f"=> {pl['note']}", WIDTH, initial_indent="  ", subsequent_indent="    ")
        if r["note"]:
            lines += textwrap.wrap(f"note: {r['note']}", WIDTH, initial_indent="  ", subsequent_indent="    ")
        lines.append("")
    return "\n".join(lines)
