"""Thousands of seeded adaptive campaigns on the published claims, against `benchctl plan`'s fixed design.

Issue 20, item 4. Per claim of analysis/claims/bbml2.toml the noise is the
model's (`benchctl model simulate` defaults, model/simvalues.py: boot cv
1 %, iteration cv 0.5 %, MPKI as a ratio of three counters, MemFree with
machine.boot_noise_sd, MemTotal exact; analyze/adaptive_sim.model_noises).
The fixed design is `benchctl plan`'s for that noise at alpha / m per
claim (m change claims) and 80 % power. The adaptive campaign runs the
same iterations per boot, adds ABAB pairs of boots and stops when every
claim is decided (analyze/adaptive.py) or at its planned horizon H
(--max-boots); H is the fewest pairs at which every claim's power (an
effect verdict on the claimed side at the stop) is at least its fixed
plan's: the same power, so the boots compare like with like
(adaptive_sim.horizon_for_power, on the claims-true campaigns of the
seed). Two sets of campaigns, each with its own seed: the claims true as
published (a range's end nearest zero) and A/A (no change at all).

Printed: per claim the fixed plan and its power, the adaptive power and
the boots until decided (mean, 90th percentile); per campaign the boots per
arm (fixed: the largest claim's); under A/A the share of campaigns with any
verdict asserting an effect; the coverage of each claim's sequence at the
stop; and, so the comparison is read fairly, the fixed design's own power
when analyze judges it with Holm (simulated: pooled t per claim at the
plan's boots, Holm across claims), which is higher than the alpha / m
power `plan` designs for. Each rate has its Monte-Carlo standard error.

Usage: .venv/bin/python tests/stats/adaptive_campaigns.py [--campaigns 4000] [--seed 1]
       [--horizon H] [--boot-noise 0.01] [--iteration-noise 0.005] [--truth-scale 1] [--check]
With --check, exit status 1 when a target is missed by more than its MC error.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import numpy as np
from scipy import stats

from benchctl.analyze.adaptive import change_claims
from benchctl.analyze.adaptive_sim import (
    CLAIMED_SIDE,
    horizon_for_power,
    mc_error,
    model_noises,
    percentile,
    simulate,
    true_change,
    with_plan_iterations,
)
from benchctl.analyze.stats.classical import holm
from benchctl.claims import load_claims, verdict


def fixed_holm_power(planned, boots: int, campaigns: int, seed: int, alpha: float = 0.05) -> list[float]:
    """Each claim's power in the fixed design as analyze judges it: pooled t on per-boot log means at
    `boots` per arm, its (1 - alpha) interval, Holm across the non-exact claims (exact: its exact rule)."""
    rng = np.random.default_rng(seed)
    hits = np.zeros(len(planned))
    for _ in range(campaigns):
        rows, ps = [], []
        for cn, _ in planned:
            t = true_change(cn.claim, False)
            if cn.exact:
                rows.append(verdict(cn.claim, t, t))
                ps.append(None)
                continue
            sd = math.hypot(cn.between_cv, cn.within_cv / math.sqrt(cn.iterations))
            y = rng.normal(0.0, sd, boots)
            x = rng.normal(math.log1p(t / 100), sd, boots)
            r = stats.ttest_ind(x, y)
            lo, hi = (100 * math.expm1(v) for v in r.confidence_interval(1 - alpha))
            rows.append(verdict(cn.claim, lo, hi))
            ps.append(float(r.pvalue))
        for j, (v, padj) in enumerate(zip(rows, holm(ps), strict=True)):
            hits[j] += v in CLAIMED_SIDE and (padj is None or padj < alpha)
    return list(hits / campaigns)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--campaigns", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--horizon", type=int, default=None, help="planned pairs; default: the same power as the plan")
    ap.add_argument("--boot-noise", type=float, default=0.01)
    ap.add_argument("--iteration-noise", type=float, default=0.005)
    ap.add_argument("--reboot-cost", type=float, default=300.0)
    ap.add_argument("--iteration-cost", type=float, default=10.0)
    ap.add_argument("--truth-scale", type=float, default=1.0, help="true change = this x the claimed (nearest zero)")
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    t0 = time.monotonic()
    claims = change_claims(load_claims("bbml2"))
    alpha = 0.05 / len(claims)
    planned = with_plan_iterations(
        model_noises(claims, a.boot_noise, a.iteration_noise), alpha, 0.8, a.reboot_cost, a.iteration_cost
    )
    noises = [cn for cn, _ in planned]
    if a.horizon is None:
        horizon, _ = horizon_for_power(
            noises, [p.power or 0.0 for _, p in planned], campaigns=a.campaigns, seed=a.seed + 2
        )
    else:
        horizon = a.horizon
    alt = simulate(noises, campaigns=a.campaigns, max_pairs=horizon, seed=a.seed, scale=a.truth_scale)
    null = simulate(noises, campaigns=a.campaigns, max_pairs=horizon, seed=a.seed + 1, null=True)
    fixed_campaign = max(p.boots or 0 for _, p in planned)
    holm_power = fixed_holm_power(planned, fixed_campaign, min(a.campaigns, 2000), a.seed + 3)
    print(
        f"{a.campaigns} campaigns each, seeds {a.seed} (claims true) and {a.seed + 1} (A/A); "
        f"noise: boot {a.boot_noise:g}, iteration {a.iteration_noise:g} (cv); fixed plan at alpha 0.05/{len(claims)} "
        f"per claim, power 0.8; adaptive: 0.95 per claim, Holm, planned for {horizon} pairs "
        f"({'the fewest giving every claim its plan power' if a.horizon is None else '--horizon'}); "
        f"true change {a.truth_scale:g} x claimed"
    )
    print()
    head = ("claim", "noise sd % (boot/iter)", "fixed plan (power; with Holm)", "adaptive power", "boots mean (p90)")
    print("| " + " | ".join(head) + " | coverage |")
    print("|---|---|---|---|---|---|")
    for j, (cn, p) in enumerate(planned):
        d_alt = np.where(alt.decided_at[:, j] > 0, alt.decided_at[:, j], horizon)
        noise = "exact" if cn.exact else f"{100 * cn.between_cv:.3g}/{100 * cn.within_cv:.3g}"
        fixed = f"{p.boots} x {p.iterations} ({p.power:.2f}; {holm_power[j]:.2f})" if p.boots else p.note
        cov = min(alt.covered[:, j].mean(), null.covered[:, j].mean())
        print(
            f"| {cn.claim.id} | {noise} | {fixed} | {alt.power(j):.3f} | {d_alt.mean():.2f} "
            f"({percentile(d_alt, 90):g}) | {cov:.4f} |"
        )
    saving = 1 - alt.stop.mean() / fixed_campaign
    saving_err = float(alt.stop.std(ddof=1)) / math.sqrt(a.campaigns) / fixed_campaign
    aa = null.any_effect_rate()
    cov_min = float(min(alt.covered.mean(axis=0).min(), null.covered.mean(axis=0).min()))
    print()
    print("| campaign | boots per arm: mean (p90) | vs fixed |")
    print("|---|---|---|")
    print(f"| fixed plan (largest claim's) | {fixed_campaign} | |")
    print(
        f"| adaptive, claims true | {alt.stop.mean():.2f} ({percentile(alt.stop, 90):g}) | "
        f"{100 * saving:+.1f} % saved |"
    )
    print(f"| adaptive, A/A | {null.stop.mean():.2f} ({percentile(null.stop, 90):g}) | |")
    powers = [alt.power(j) for j in range(len(planned))]
    for n in range(2, fixed_campaign + 1):
        hp = holm_power if n == fixed_campaign else fixed_holm_power(planned, n, min(a.campaigns, 2000), a.seed + 3)
        if all(h >= p - mc_error(p, min(a.campaigns, 2000)) for h, p in zip(hp, powers, strict=True)):
            break
    print(
        f"| fixed, as analyze judges it (Holm), the adaptive power | {n} | {100 * (1 - alt.stop.mean() / n):+.1f} % |"
    )
    print()
    print(f"A/A any effect verdict: {aa:.4f} +- {mc_error(aa, a.campaigns):.4f} (target <= 0.05)")
    print(f"coverage at the stop, worst claim: {cov_min:.4f} +- {mc_error(cov_min, a.campaigns):.4f} (target >= 0.95)")
    print(f"boots saved against the fixed plan: {100 * saving:.1f} % +- {100 * saving_err:.1f} % (target >= 30 %)")
    print(f"({time.monotonic() - t0:.1f} s)")
    missed = [
        aa > 0.05 + mc_error(0.05, a.campaigns),
        cov_min < 0.95 - mc_error(0.95, a.campaigns),
        saving < 0.30 - saving_err,
    ]
    return 1 if a.check and any(missed) else 0


if __name__ == "__main__":
    sys.exit(main())
