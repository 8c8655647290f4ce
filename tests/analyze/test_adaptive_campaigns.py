"""Reduced tests/stats/adaptive_campaigns.py for CI (issue 20, item 4): A/A rate, coverage, boots saved.

1000 seeded campaigns of the seven published change claims
(analysis/claims/bbml2.toml) at the model's noise, adaptive until every
claim is decided or the planned horizon. A rate target is missed when the
estimate is worse than the target by more than the Monte-Carlo standard
error of a rate at the target, sqrt(p0 (1 - p0) / campaigns): 0.0069 for
p0 = 0.05 and for p0 = 0.95 at 1000 campaigns; the boots saved by more
than the standard error of their mean. The horizon is the fewest pairs that
give every claim its fixed plan's power (adaptive_sim.horizon_for_power),
found on other seeds.
"""

from __future__ import annotations

import math

import pytest

from benchctl.analyze.adaptive import change_claims
from benchctl.analyze.adaptive_sim import horizon_for_power, mc_error, model_noises, simulate, with_plan_iterations
from benchctl.claims import load_claims

CAMPAIGNS = 1000


@pytest.fixture(scope="module")
def planned():
    claims = change_claims(load_claims("bbml2"))
    return with_plan_iterations(model_noises(claims, 0.01, 0.005), 0.05 / len(claims), 0.8, 300.0, 10.0)


@pytest.fixture(scope="module")
def horizon(planned):
    h, _ = horizon_for_power(
        [cn for cn, _ in planned], [p.power or 0.0 for _, p in planned], campaigns=CAMPAIGNS, seed=104
    )
    return h


def test_aa_rate_of_any_effect_verdict_at_the_stop(planned, horizon):
    noises = [cn for cn, _ in planned]
    for h in (horizon, 12):  # the planned horizon, and a long one (more looks, the same alpha)
        null = simulate(noises, campaigns=CAMPAIGNS, max_pairs=h, seed=102, null=True)
        assert null.any_effect_rate() <= 0.05 + mc_error(0.05, CAMPAIGNS)


def test_coverage_at_the_stop_for_every_claim(planned, horizon):
    noises = [cn for cn, _ in planned]
    for seed, null in ((101, False), (102, True)):
        out = simulate(noises, campaigns=CAMPAIGNS, max_pairs=horizon, seed=seed, null=null)
        assert out.covered.mean(axis=0).min() >= 0.95 - mc_error(0.95, CAMPAIGNS)


def test_boots_saved_against_the_fixed_plan_at_the_same_power(planned, horizon):
    noises = [cn for cn, _ in planned]
    out = simulate(noises, campaigns=CAMPAIGNS, max_pairs=horizon, seed=101)
    fixed = max(p.boots or 0 for _, p in planned)
    err = float(out.stop.std(ddof=1)) / math.sqrt(CAMPAIGNS) / fixed
    assert all(out.power(j) >= (p.power or 0) - mc_error(p.power or 0, CAMPAIGNS) for j, (_, p) in enumerate(planned))
    assert 1 - out.stop.mean() / fixed >= 0.30 - err


def test_exact_claim_decided_at_two_boots_per_arm(planned):
    out = simulate([cn for cn, _ in planned], campaigns=50, max_pairs=10, seed=103)
    j = [cn.claim.id for cn, _ in planned].index("boot-memory-total")
    assert set(out.decided_at[:, j]) == {2} and all(row[j] == "confirmed" for row in out.verdicts)
