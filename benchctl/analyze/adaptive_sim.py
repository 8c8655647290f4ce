"""Simulated adaptive campaigns: boots until every claim is decided, against the fixed plan.

Per claim, a boot's value (its mean over `iterations` iterations) is drawn
the way `benchctl model simulate` draws it (model/simvalues.py, Noise):
mean * (1 + change) * f_boot * m_iter, f_boot ~ N(1, between_cv) once per
boot and m_iter ~ N(1, within_cv / sqrt(iterations)), the mean of the
iterations' N(1, within_cv) factors. An exact claim (MemTotal) has no
noise and is decided by its exact rule at 2 boots per arm. Campaigns add
one pair of boots (ABAB) at a time; each claim's confidence sequence
(stats/sequential.py, running intersection, spent over max_pairs planned
pairs) gives its verdict through claims.verdict, Holm-gated on the
anytime-valid p* as analyze/adaptive.py does; the campaign stops when
every claim is decided (adaptive.DECIDED) or at max_pairs. The sequences
are vectorised over campaigns; the seed fixes every draw.

The fixed design is `benchctl plan`'s (stats/power.py at the same noise,
alpha / m per claim, the target power); horizon_for_power finds the
fewest planned pairs that give every claim at least that power, so the
boots saved compare like with like: the same noise, the same claims, the
same power.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from benchctl.analyze.adaptive import DECIDED, change_claims, holm_gate
from benchctl.analyze.resulttypes import Sequential
from benchctl.analyze.stats import power, sequential
from benchctl.claims import EFFECT_VERDICTS, Claim, verdict

Paths = tuple[np.ndarray, np.ndarray, np.ndarray | None]  # one claim: low %, high %, p* (None: exact)
CLAIMED_SIDE = ("confirmed", "smaller-than-claimed", "larger-than-claimed")
EXACT_BOOTS = 2  # sameness.exact_values: an exact metric is compared exactly from 2 boots per arm


@dataclass(frozen=True)
class ClaimNoise:
    """One claim and the noise of its metric, relative to the mean (sd as a fraction)."""

    claim: Claim
    between_cv: float
    within_cv: float
    iterations: int = 1
    exact: bool = False


@dataclass
class Outcome:
    """Per campaign (rows) and claim (columns): when each claim was decided, and the state at the stop."""

    claims: list[Claim]
    true_pct: list[float]
    stop: np.ndarray  # (campaigns,) pairs of boots at the campaign's stop
    decided_at: np.ndarray  # (campaigns, claims) first pair count with a decided verdict; 0 = never
    verdicts: list[list[str]]  # at the campaign's stop
    covered: np.ndarray  # (campaigns, claims) true change inside the interval at the stop; the
    # interval is the running intersection, so this is also "inside every interval up to the stop"

    def any_effect_rate(self) -> float:
        """Share of campaigns with at least one verdict that asserts an effect (EFFECT_VERDICTS)."""
        return float(np.mean([any(v in EFFECT_VERDICTS for v in row) for row in self.verdicts]))

    def power(self, j: int) -> float:
        """Share of campaigns whose claim j ends with an effect in the claimed direction: what a fixed
        plan's power (stats/power.py) is the chance of."""
        return float(np.mean([row[j] in CLAIMED_SIDE for row in self.verdicts]))


def true_change(claim: Claim, null: bool, scale: float = 1.0) -> float:
    """The change the simulation makes true: 0 under A/A, else scale x the claimed value (a range's end
    nearest zero: what `benchctl plan` designs for)."""
    return 0.0 if null else scale * claim.nearest_zero


def _values(rng: np.random.Generator, cn: ClaimNoise, change_pct: float, shape: tuple[int, ...]) -> np.ndarray:
    """Log per-boot values of one arm (module doc), mean 1 before the change."""
    boot = rng.normal(1.0, cn.between_cv, shape)
    it = rng.normal(1.0, cn.within_cv / math.sqrt(max(1, cn.iterations)), shape)
    out: np.ndarray = math.log1p(change_pct / 100.0) + np.log(np.maximum(boot * it, 1e-9))
    return out


def _claim_paths(
    rng: np.random.Generator, cn: ClaimNoise, change: float, alpha: float, shape: tuple[int, int], horizon: int
) -> Paths:
    """(low %, high %, p*) of one claim over all campaigns (p* None for an exact claim: no p)."""
    if cn.exact:
        low = np.full(shape, -math.inf)
        high = np.full(shape, math.inf)
        low[:, EXACT_BOOTS - 1 :] = high[:, EXACT_BOOTS - 1 :] = math.log1p(change / 100.0)
        p = None
    else:
        y, x = _values(rng, cn, 0.0, shape), _values(rng, cn, change, shape)
        low, high = sequential.running_intersection(*sequential.paths(y, x, alpha, horizon))
        p = sequential.p_paths(y, x, horizon)
    return 100.0 * np.expm1(low), 100.0 * np.expm1(high), p


def _states(noises: list[ClaimNoise], paths: list[Paths], i: int, k: int, alpha: float) -> list[str]:
    """The claims' verdicts in campaign i after k + 1 pairs, Holm-gated as analyze/adaptive.py gates them."""
    rows: list[Sequential] = []
    for cn, (lo, hi, p) in zip(noises, paths, strict=True):
        bounded = bool(np.isfinite(hi[i, k]))
        v = verdict(cn.claim, lo[i, k], hi[i, k]) if bounded else "inconclusive"
        rows.append(
            {
                "id": cn.claim.id,
                "verdict": v,
                "ci_pct": None,
                "n_pairs": k + 1,
                "decided": False,
                "p_value": None if p is None else float(p[i, k]),
            }
        )
    return [r["verdict"] for r in holm_gate(rows, alpha)]


def simulate(
    noises: list[ClaimNoise],
    *,
    campaigns: int,
    max_pairs: int,
    seed: int,
    null: bool = False,
    confidence: float = 0.95,
    scale: float = 1.0,
) -> Outcome:
    """Seeded adaptive campaigns over all claims at once, planned for max_pairs pairs (module doc)."""
    rng = np.random.default_rng(seed)
    alpha = 1.0 - confidence
    shape = (campaigns, max_pairs)
    truths = [true_change(cn.claim, null, scale) for cn in noises]
    paths = [_claim_paths(rng, cn, t, alpha, shape, max_pairs) for cn, t in zip(noises, truths, strict=True)]
    decided_at = np.zeros((campaigns, len(noises)), dtype=int)
    stop = np.full(campaigns, max_pairs)
    verdicts, covered = [], np.zeros(decided_at.shape, bool)
    for i in range(campaigns):
        for k in range(1, max_pairs):
            row = _states(noises, paths, i, k, alpha)
            done = np.array([v in DECIDED for v in row])
            decided_at[i] = np.where((decided_at[i] == 0) & done, k + 1, decided_at[i])
            if done.all():
                stop[i] = k + 1
                break
        k = stop[i] - 1
        verdicts.append(_states(noises, paths, i, k, alpha))
        for j, ((lo, hi, _), t) in enumerate(zip(paths, truths, strict=True)):
            covered[i, j] = lo[i, k] <= t + 1e-9 and t - 1e-9 <= hi[i, k]
    return Outcome([cn.claim for cn in noises], truths, stop, decided_at, verdicts, covered)


def fixed_boots(cn: ClaimNoise, alpha: float, target: float, reboot_s: float, iteration_s: float) -> power.Design:
    """The design `benchctl plan` picks for this claim at this noise (stats/power.py), per-claim alpha."""
    if cn.exact:
        return power.Design(EXACT_BOOTS, 1, 1.0, None, None, "exact: decided at 2 boots per arm")
    within = (cn.within_cv**2,) * 2
    between = (cn.between_cv**2,) * 2
    return power.cheapest_design(
        abs(cn.claim.nearest_zero) / 100.0, within, between, reboot_s, iteration_s, target, alpha
    )


def horizon_for_power(
    noises: list[ClaimNoise],
    targets: list[float],
    *,
    campaigns: int,
    seed: int,
    limit: int = 40,
    confidence: float = 0.95,
) -> tuple[int, Outcome]:
    """The fewest planned pairs H (--max-boots) whose adaptive campaigns, claims true, give every claim
    at least its target power (Outcome.power; a fixed plan's power: the like-for-like adaptive
    design). (limit, its outcome) when none up to limit does."""
    out = None
    for h in range(2, limit + 1):
        out = simulate(noises, campaigns=campaigns, max_pairs=h, seed=seed, confidence=confidence)
        if all(out.power(j) >= t for j, t in enumerate(targets)):
            return h, out
    assert out is not None
    return limit, out


def percentile(x: np.ndarray, q: float) -> float:
    return float(np.percentile(x, q, method="higher"))


def mc_error(p: float, n: int) -> float:
    """Binomial standard error of a rate p estimated from n independent campaigns: sqrt(p (1 - p) / n)."""
    return math.sqrt(max(p * (1.0 - p), 0.0) / n) if n else math.inf


def model_noises(claims: list[Claim], boot_cv: float, iter_cv: float, cpu: str = "ampereone") -> list[ClaimNoise]:
    """Each claim's noise as `benchctl model simulate` makes it (model/simvalues.py), one iteration a boot.

    Workload metrics: between_cv = boot_cv, within_cv = iter_cv (its --boot-noise, --iteration-noise).
    MPKI, a ratio of sums of three counters with their own boot and iteration factors (dtlb and itlb
    walks over instructions): by the delta method its cv is the counters' cv times
    sqrt(w^2 + (1 - w)^2 + 1), w the dtlb share of the walks. MemFree: one reading per boot, sd
    machine.boot_noise_sd over the baseline's MemFree. MemTotal: exact.
    """
    from benchctl.model.arms import Model
    from benchctl.model.profiles import load_cpu, load_machine, load_workloads
    from benchctl.model.simvalues import MEMORY_NOISE, arm_metrics, nominal

    model = Model(load_cpu(cpu), load_workloads(), load_machine())
    v = nominal(model)
    free_kb = arm_metrics(model, "boot", "pte", v)["mem_free_kb"]
    mem_cv = float(v[MEMORY_NOISE][0]) / 1024 / free_kb
    counters = arm_metrics(model, "memcached", "pte", v)
    w = counters["dtlb_walk_k"] / (counters["dtlb_walk_k"] + counters["itlb_walk_k"])
    ratio = math.sqrt(w * w + (1 - w) ** 2 + 1)
    out = []
    for c in change_claims(claims):
        if c.metric == "mem_total_kb":
            out.append(ClaimNoise(c, 0.0, 0.0, 1, exact=True))
        elif c.metric == "mem_free_kb":
            out.append(ClaimNoise(c, mem_cv, 0.0, 1))
        elif c.metric.endswith("_mpki"):
            out.append(ClaimNoise(c, boot_cv * ratio, iter_cv * ratio, 1))
        else:
            out.append(ClaimNoise(c, boot_cv, iter_cv, 1))
    return out


def with_plan_iterations(
    noises: list[ClaimNoise], alpha: float, target: float, reboot_s: float, iteration_s: float
) -> list[tuple[ClaimNoise, power.Design]]:
    """Each claim with the iterations per boot of its fixed plan (the adaptive campaign runs the same)."""
    out = []
    for cn in noises:
        p = fixed_boots(cn, alpha, target, reboot_s, iteration_s)
        its = p.iterations or cn.iterations
        out.append((ClaimNoise(cn.claim, cn.between_cv, cn.within_cv, its, cn.exact), p))
    return out
