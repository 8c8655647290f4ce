"""Simulated adaptive campaigns: boots until every claim is decided, against the fixed plan.

Per claim, a boot's value (its mean over `iterations` iterations) is drawn
the way `benchctl model simulate` draws it (model/simvalues.py, Noise):
mean * (1 + change) * f_boot * m_iter, f_boot ~ N(1, between_cv) once per
boot and m_iter ~ N(1, within_cv / sqrt(iterations)), the mean of the
iterations' N(1, within_cv) factors. An exact claim (MemTotal) has no
noise and is decided by its exact rule at 2 boots per arm. Campaigns add
one pair of boots (ABAB) at a time; each claim's confidence sequence
(stats/sequential.py, running intersection, level alpha / m) gives its
verdict through claims.verdict; the campaign stops when every claim is
decided (adaptive.DECIDED) or at max_pairs. Everything is vectorised over
campaigns; the seed fixes every draw.

The fixed design is `benchctl plan`'s (stats/power.py at the same noise,
alpha / m per claim, the target power), so the boots saved compare like
with like: the same noise, the same level, the same claims.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from benchctl.analyze.adaptive import DECIDED, change_claims, claim_alpha
from benchctl.analyze.stats import power, sequential
from benchctl.claims import EFFECT_VERDICTS, Claim, verdict

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
    rng: np.random.Generator, cn: ClaimNoise, change: float, alpha: float, shape: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(low, high, decided_at, verdict-at-n function) for one claim over all campaigns."""
    campaigns, pairs = shape
    if cn.exact:
        low = np.full(shape, -math.inf)
        high = np.full(shape, math.inf)
        low[:, EXACT_BOOTS - 1 :] = high[:, EXACT_BOOTS - 1 :] = math.log1p(change / 100.0)
    else:
        low, high = sequential.paths(_values(rng, cn, 0.0, shape), _values(rng, cn, change, shape), alpha)
        low, high = sequential.running_intersection(low, high)
    lo_pct, hi_pct = 100.0 * np.expm1(low), 100.0 * np.expm1(high)
    decided_at = np.zeros(campaigns, dtype=int)
    for i in range(campaigns):
        for n in range(2, pairs + 1):
            if np.isfinite(hi_pct[i, n - 1]) and verdict(cn.claim, lo_pct[i, n - 1], hi_pct[i, n - 1]) in DECIDED:
                decided_at[i] = n
                break
    return lo_pct, hi_pct, decided_at


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
    """Seeded adaptive campaigns over all claims at once (module doc)."""
    rng = np.random.default_rng(seed)
    alpha = claim_alpha(confidence, len(noises))
    shape = (campaigns, max_pairs)
    truths = [true_change(cn.claim, null, scale) for cn in noises]
    paths = [_claim_paths(rng, cn, t, alpha, shape) for cn, t in zip(noises, truths, strict=True)]
    decided_at = np.column_stack([p[2] for p in paths])
    stop = np.where((decided_at > 0).all(axis=1), decided_at.max(axis=1), max_pairs)
    verdicts, covered = [], np.zeros(decided_at.shape, bool)
    for i in range(campaigns):
        k = stop[i] - 1
        row = []
        for j, (cn, (lo, hi, _), t) in enumerate(zip(noises, paths, truths, strict=True)):
            bounded = np.isfinite(hi[i, k])
            row.append(verdict(cn.claim, lo[i, k], hi[i, k]) if bounded else "inconclusive")
            covered[i, j] = lo[i, k] <= t + 1e-9 and t - 1e-9 <= hi[i, k]
        verdicts.append(row)
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
