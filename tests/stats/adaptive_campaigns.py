"""Thousands of seeded adaptive campaigns on the published claims, against `benchctl plan`'s fixed design.

Issue 20, item 4. Per claim of analysis/claims/bbml2.toml the noise is the
model's (`benchctl model simulate` defaults, model/simvalues.py: boot cv
1 %, iteration cv 0.5 %, MPKI as a ratio of three counters, MemFree with
machine.boot_noise_sd, MemTotal exact; analyze/adaptive_sim.model_noises).
The fixed design is `benchctl plan`'s for that noise at alpha / 7 per
claim and 80 % power; the adaptive campaign runs the same iterations per
boot, adds ABAB pairs of boots and stops when every claim is decided
(analyze/adaptive.py) or at --max-pairs. Two sets of campaigns, each with
its own seed: the claims true as published (a range's end nearest zero),
and A/A (no change at all).

Printed: per claim the fixed boots per arm and the adaptive mean and 90th
percentile; per campaign the boots per arm (fixed: the largest claim's);
under A/A the share of campaigns with any verdict asserting an effect; the
coverage of each claim's sequence at the campaign's stop. Each rate has its
Monte-Carlo standard error sqrt(p (1 - p) / campaigns).

Usage: .venv/bin/python tests/stats/adaptive_campaigns.py [--campaigns 4000] [--seed 1]
       [--max-pairs 40] [--boot-noise 0.01] [--iteration-noise 0.005] [--truth-scale 1] [--check]
With --check, exit status 1 when a target is missed by more than its MC error.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from benchctl.analyze.adaptive_sim import mc_error, model_noises, percentile, simulate, with_plan_iterations
from benchctl.claims import load_claims


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--campaigns", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-pairs", type=int, default=40)
    ap.add_argument("--boot-noise", type=float, default=0.01)
    ap.add_argument("--iteration-noise", type=float, default=0.005)
    ap.add_argument("--reboot-cost", type=float, default=300.0)
    ap.add_argument("--iteration-cost", type=float, default=10.0)
    ap.add_argument("--truth-scale", type=float, default=1.0, help="true change = this x the claimed (nearest zero)")
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    t0 = time.monotonic()
    claims = load_claims("bbml2")
    alpha = 0.05 / len(claims)
    planned = with_plan_iterations(
        model_noises(claims, a.boot_noise, a.iteration_noise), alpha, 0.8, a.reboot_cost, a.iteration_cost
    )
    noises = [cn for cn, _ in planned]
    alt = simulate(noises, campaigns=a.campaigns, max_pairs=a.max_pairs, seed=a.seed, scale=a.truth_scale)
    null = simulate(noises, campaigns=a.campaigns, max_pairs=a.max_pairs, seed=a.seed + 1, null=True)
    print(
        f"{a.campaigns} campaigns each, seeds {a.seed} (claims true) and {a.seed + 1} (A/A); "
        f"noise: boot {a.boot_noise:g}, iteration {a.iteration_noise:g} (cv); alpha 0.05/{len(claims)} per claim; "
        f"true change {a.truth_scale:g} x claimed"
    )
    print()
    print("| claim | noise sd % (boot/iter) | fixed plan | adaptive mean (p90) | A/A mean (p90) | coverage |")
    print("|---|---|---|---|---|---|")
    for j, (cn, p) in enumerate(planned):
        d_alt, d_null = alt.decided_at[:, j], null.decided_at[:, j]
        d_alt = np.where(d_alt > 0, d_alt, a.max_pairs)
        d_null = np.where(d_null > 0, d_null, a.max_pairs)
        noise = "exact" if cn.exact else f"{100 * cn.between_cv:.3g}/{100 * cn.within_cv:.3g}"
        fixed = f"{p.boots} x {p.iterations} (power {p.power:.2f})" if p.boots else p.note
        cov = min(alt.covered[:, j].mean(), null.covered[:, j].mean())
        print(
            f"| {cn.claim.id} | {noise} | {fixed} | {d_alt.mean():.2f} ({percentile(d_alt, 90):g}) "
            f"| {d_null.mean():.2f} ({percentile(d_null, 90):g}) | {cov:.4f} |"
        )
    fixed_campaign = max(p.boots or 0 for _, p in planned)
    saving = 1 - alt.stop.mean() / fixed_campaign
    per_claim = np.mean(
        [
            1 - np.where(alt.decided_at[:, j] > 0, alt.decided_at[:, j], a.max_pairs).mean() / p.boots
            for j, (_, p) in enumerate(planned)
            if p.boots
        ]
    )
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
    print(f"| per-claim average saving | | {100 * per_claim:+.1f} % |")
    print()
    print(f"A/A any effect verdict: {aa:.4f} +- {mc_error(aa, a.campaigns):.4f} (target <= 0.05)")
    print(f"coverage at the stop, worst claim: {cov_min:.4f} +- {mc_error(cov_min, a.campaigns):.4f} (target >= 0.95)")
    print(f"boots saved against the fixed plan: {100 * saving:.1f} % (target >= 30 %)")
    print(f"({time.monotonic() - t0:.1f} s)")
    missed = [
        aa > 0.05 + mc_error(0.05, a.campaigns),
        cov_min < 0.95 - mc_error(0.95, a.campaigns),
        saving < 0.30,
    ]
    return 1 if a.check and any(missed) else 0


if __name__ == "__main__":
    sys.exit(main())
