"""`benchctl plan --adaptive`: how many boots an adaptive campaign should expect to need.

From the same pilot (analysed or stated noise) and the same per-claim rows
as the fixed plan (design.cheapest_designs), each claim's noise is taken as the
root mean square of the arms' between-boot and within-boot sd (in % of
the mean) and its iterations per boot as the fixed plan's; an exact metric
(the pilot compared it exactly, or, with stated noise, the catalogue marks
it exact: MemTotal) has none. adaptive_sim then runs seeded campaigns with
every claim true as claimed (a range's end nearest zero) and with no change
at all (A/A): boots per arm until every claim is decided, mean and 90th
percentile, and per claim, under the adaptive rule (analyze/adaptive.py).
Without --max-boots the campaigns are planned for the fewest pairs that
give every claim at least its fixed plan's power (the horizon to pass as
`campaign run --until-decided --max-boots`).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from typing import Any

import numpy as np

from benchctl.analyze.adaptive_sim import ClaimNoise, horizon_for_power, percentile, simulate
from benchctl.analyze.sameness import EXACT_TEXT
from benchctl.claims import Claim
from benchctl.human import WIDTH
from benchctl.results.metrics import info


def _rms(pair: tuple[float, float]) -> float:
    return math.sqrt((pair[0] ** 2 + pair[1] ** 2) / 2) / 100.0


def claim_noises(
    result: Mapping[str, Any], claims: list[Claim], rows: list[dict[str, Any]]
) -> tuple[list[ClaimNoise], list[str]]:
    """(noise per claim that has a pilot, the ids left out and why) from design.cheapest_designs's rows."""
    noises, left = [], []
    for c, r in zip(claims, rows, strict=True):
        if c.kind != "change":
            left.append(f"{c.id}: {c.kind} claims have their own rule, not a sequence")
            continue
        pi = r["pilot"]
        if pi is None:
            left.append(f"{c.id}: {r['note']}")
            continue
        exact = r["note"].startswith(EXACT_TEXT) or bool(result.get("stated") and info(c.metric).exact)
        its = (r["plan"] or {}).get("iterations_per_boot") or 1
        noises.append(ClaimNoise(c, _rms(pi["between_boot_sd_pct"]), _rms(pi["within_boot_sd_pct"]), its, exact))
    return noises, left


def _summary(stop: np.ndarray) -> dict[str, Any]:
    return {"mean": float(stop.mean()), "p90": percentile(stop, 90)}


def adaptive_design(
    result: Mapping[str, Any],
    claims: list[Claim],
    rows: list[dict[str, Any]],
    *,
    campaigns: int,
    max_pairs: int | None,
    seed: int,
) -> dict[str, Any]:
    """Boots per arm until every claim is decided, claims true and A/A (module doc)."""
    noises, left = claim_noises(result, claims, rows)
    out: dict[str, Any] = {
        "campaigns": campaigns,
        "max_boots": max_pairs,
        "seed": seed,
        "left_out": left,
        "chosen": False,
    }
    if not noises:
        out.update(claims=[], true=None, null=None)
        return out
    conf = result["confidence"]
    if max_pairs is None:
        powers = {r["id"]: (r["plan"] or {}).get("power") or 0.0 for r in rows}
        targets = [0.0 if cn.exact else powers.get(cn.claim.id, 0.0) for cn in noises]
        max_pairs, _ = horizon_for_power(noises, targets, campaigns=campaigns, seed=seed + 2, confidence=conf)
        out.update(max_boots=max_pairs, chosen=True)
    runs = {
        "true": simulate(noises, campaigns=campaigns, max_pairs=max_pairs, seed=seed, confidence=conf),
        "null": simulate(noises, campaigns=campaigns, max_pairs=max_pairs, seed=seed + 1, null=True, confidence=conf),
    }
    for key, o in runs.items():
        out[key] = _summary(o.stop) | {"reached_max": float(np.mean(o.decided_at.min(axis=1) == 0))}
    per = []
    for j, cn in enumerate(noises):
        row = {"id": cn.claim.id, "exact": cn.exact, "iterations_per_boot": cn.iterations}
        for key, o in runs.items():
            d = o.decided_at[:, j]
            row[key] = _summary(np.where(d > 0, d, max_pairs))
        per.append(row)
    out["claims"] = per
    planned = [r for r in rows if r["plan"] is not None]
    fixed = [r["plan"]["boots_per_arm"] for r in planned]
    out["fixed_unreachable"] = [r["id"] for r in planned if not r["plan"]["boots_per_arm"]]
    out["fixed_boots_per_arm"] = max(fixed) if fixed and all(fixed) else None
    return out


def render_adaptive(a: dict[str, Any]) -> str:
    """The adaptive section of `benchctl plan` text (72 columns)."""
    lines = textwrap.wrap(
        f"adaptive (--until-decided): boots per arm until every claim is decided, from {a['campaigns']} "
        f"simulated campaigns (seed {a['seed']}, at most {a['max_boots']} boots per arm"
        + (": the fewest that give each claim its fixed plan's power" if a.get("chosen") else "")
        + "), the pilot's noise and the fixed plan's iterations per boot",
        WIDTH,
    )
    if a["true"] is None:
        return "\n".join(lines + ["  no claim has a pilot to simulate from"] + [f"  {x}" for x in a["left_out"]])
    t, n = a["true"], a["null"]
    fixed = a.get("fixed_boots_per_arm")
    lines.append(
        f"  claims true as claimed: mean {t['mean']:.1f}, 90th percentile {t['p90']:g}"
        + (f" (fixed plan {fixed})" if fixed else "")
    )
    if a.get("fixed_unreachable"):
        lines.append(f"  (no fixed plan reaches the power for {', '.join(a['fixed_unreachable'])})")
    if a.get("chosen"):
        lines.append(f"  run it with: campaign run --until-decided --max-boots {a['max_boots']}")
    lines.append(f"  no change at all (A/A): mean {n['mean']:.1f}, 90th percentile {n['p90']:g}")
    for key, what in (("true", "claims true"), ("null", "A/A")):
        if a[key]["reached_max"] > 0:
            lines.append(f"  {what}: {100 * a[key]['reached_max']:.0f} % of campaigns reach the maximum undecided")
    for c in a["claims"]:
        how = "exact rule" if c["exact"] else f"{c['iterations_per_boot']} it/boot"
        lines.append(
            f"  {c['id']}: {c['true']['mean']:.1f} ({c['true']['p90']:g}) true, "
            f"{c['null']['mean']:.1f} ({c['null']['p90']:g}) A/A; {how}"
        )
    lines += [f"  left out: {x}" for x in a["left_out"]]
    from benchctl.human import fit

    return fit("\n".join(lines))
