"""Hierarchical bootstrap of the ratio candidate/baseline (Kalibera & Jones).

Why hierarchical: a reboot is the unit of replication; iterations within one
boot share its page-table layout, KASLR slide and cache colouring, so they
are not independent. Resampling boots first (with replacement), then
iterations within each drawn boot, carries both sources of variation into
the interval. Each arm is resampled independently (libkalibera
bootstrap_quotient); the statistic of an arm is the mean of its per-boot
statistics, where a boot's statistic is scale * sum(num) / sum(den) over its
(resampled) iterations. For a plain metric den = 1 (the boot mean); for a
ratio metric such as MPKI num/den are the raw counters, so the ratio is a
ratio of sums and never a mean of per-iteration ratios. With equal iteration
counts the mean of boot means equals K&J's grand mean.

Percentile interval with K&J's indices (0-based, sorted ratios R):
    [R_floor(a*B), R_ceil((1-a)*B) - 1],  a = (1 - level) / 2.

Small-sample expansion (documented choice): a percentile bootstrap over few
boots is too narrow (its variance is (n-1)/n of the truth and it uses normal
rather than t quantiles). Following Hesterberg's "expanded percentile
interval" the level fed to K&J's indices is raised so that
    z_{(1+level')/2} = sqrt(n/(n-1)) * t_{(1+level)/2, nu},
with n the harmonic mean of the two arms' boot counts and nu the Welch
degrees of freedom of the per-boot means. tests/support/calibration.py shows the
effect on coverage. With fewer than 2 boots on a side no expansion is
possible and the caller attaches a warning.

Speed: resamples are drawn a chunk at a time as whole arrays, from two
streams (boot draws, iteration draws) so that a chunk consumes exactly the
numbers a loop over resamples would (see reference_loop): that is how the
tests prove both give the same interval. When B x iterations exceeds EXACT_BUDGET (or the whole
analysis exceeds TOTAL_EXACT_BUDGET: a million rows x 10,000 resamples is
10^10 draws however it is coded), the resampled
mean of a boot's iterations is drawn from its normal limit (mean, cov/n) -
the central limit theorem at n in the hundreds or thousands; the method
string says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

EXACT_BUDGET = 40_000_000  # uniforms per arm above which the normal limit is used
TOTAL_EXACT_BUDGET = 150_000_000  # uniforms per analysis (~3 s); analyze switches to the normal limit above
CHUNK_ELEMS = 200_000  # per-chunk temporaries stay small enough to reuse memory (no page faults)


@dataclass
class Arm:
    """One arm's data: flat per-iteration numerators (and denominators) by boot."""

    num: np.ndarray
    offsets: np.ndarray  # len n_boots + 1, boot k = num[offsets[k]:offsets[k+1]]
    den: np.ndarray | None = None  # None: plain metric (den = 1)
    scale: float = 1.0

    @classmethod
    def from_groups(cls, groups: list[np.ndarray], dens: list[np.ndarray] | None = None, scale: float = 1.0) -> Arm:
        sizes = [len(g) for g in groups]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        num = np.concatenate([np.asarray(g, float) for g in groups]) if groups else np.zeros(0)
        den = np.concatenate([np.asarray(d, float) for d in dens]) if dens is not None else None
        return cls(num, offsets, den, scale)

    @property
    def sizes(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def n_boots(self) -> int:
        return len(self.offsets) - 1

    def boot_stats(self) -> np.ndarray:
        """Per-boot statistic: scale * sum(num)/sum(den) (den = count if None)."""
        sums = np.add.reduceat(self.num, self.offsets[:-1])
        dens = np.add.reduceat(self.den, self.offsets[:-1]) if self.den is not None else self.sizes
        return self.scale * sums / dens

    def estimate(self) -> float:
        return float(self.boot_stats().mean())


@dataclass
class BootstrapResult:
    ratio: float  # observed candidate/baseline
    low: float  # interval of the ratio
    high: float
    level: float  # requested confidence
    level_used: float  # after small-sample expansion
    resamples: int
    method: str
    warnings: list[str] = field(default_factory=list)

    @property
    def change_pct(self) -> float:
        return (self.ratio - 1.0) * 100.0

    @property
    def ci_pct(self) -> tuple[float, float]:
        return ((self.low - 1.0) * 100.0, (self.high - 1.0) * 100.0)


def percentile_indices(b: int, level: float) -> tuple[int, int]:
    """K&J / libkalibera _confidence_slice_indicies: (lower, upper_exclusive)."""
    lvl = Fraction(str(level)) if not isinstance(level, Fraction) else level
    exclude = (1 - lvl) / 2
    lower = math.floor(exclude * b)
    upper = math.ceil((1 - exclude) * b)
    return lower, max(upper, lower + 1)


def percentile_interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    s = np.sort(samples)
    lo, hi = percentile_indices(len(s), level)
    return float(s[lo]), float(s[hi - 1])


def expanded_level(level: float, n_a: int, n_b: int, welch_df: float) -> float:
    """Hesterberg's expanded percentile level for few boots (see module doc)."""
    if min(n_a, n_b) < 2 or not np.isfinite(welch_df) or welch_df <= 0:
        return level
    from scipy import special  # stdtrit and ndtr are what scipy.stats' t.ppf and norm.cdf call

    n_h = 2.0 / (1.0 / n_a + 1.0 / n_b)
    z = math.sqrt(n_h / (n_h - 1.0)) * special.stdtrit(welch_df, (1 + level) / 2)
    lvl = 2 * special.ndtr(z) - 1
    # Round to 6 decimals so Fraction(str()) stays exact and runs are reproducible.
    return min(round(float(lvl), 6), 0.999999)


def _uniforms_per_resample(arm: Arm) -> int:
    return arm.n_boots + arm.n_boots * int(arm.sizes.max())


def _balanced(arm: Arm) -> bool:
    s = arm.sizes
    return bool((s == s[0]).all())


def _exact_chunk(arm: Arm, boot_rng: np.random.Generator, it_rng: np.random.Generator, b: int) -> np.ndarray:
    """Statistics of b resamples. Boot draws come from boot_rng, iteration draws
    from it_rng, so a chunk consumes each stream exactly as b loop passes would.

    Balanced boots: bounded integers. Unequal boots: floor(u * n_k) with u
    uniform in [0, 1) (float64 u * n < n always holds), padded to the largest
    boot and masked.
    """
    sizes = arm.sizes
    nb = arm.n_boots
    maxn = int(sizes.max())
    k = boot_rng.integers(0, nb, size=(b, nb))  # drawn boots
    balanced = _balanced(arm)
    if balanced:
        idx = it_rng.integers(0, maxn, size=(b, nb, maxn))
    else:
        nk = sizes[k]
        idx = (it_rng.random((b, nb, maxn)) * nk[..., None]).astype(np.int64)
    idx += arm.offsets[:-1][k][..., None]
    vals = arm.num.take(idx)
    if not balanced:
        mask = np.arange(maxn) < nk[..., None]
        vals *= mask
    sums = vals.sum(axis=-1)
    if arm.den is None:
        dens = float(maxn) if balanced else nk.astype(float)
    else:
        dv = arm.den.take(idx)
        if not balanced:
            dv *= mask
        dens = dv.sum(axis=-1)
    means: np.ndarray = (arm.scale * sums / dens).mean(axis=-1)
    return means


def _normal_limit(arm: Arm, rng: np.random.Generator, b: int) -> np.ndarray:
    """Resampled per-boot means from their normal limit (large boots)."""
    nb = arm.n_boots
    sizes = arm.sizes.astype(float)
    starts = arm.offsets[:-1]
    mu_n = np.add.reduceat(arm.num, starts) / sizes
    var_n = np.add.reduceat(arm.num**2, starts) / sizes - mu_n**2
    if arm.den is None:
        mu_d = np.ones(nb)
        cov = np.zeros(nb)
        var_d = np.zeros(nb)
    else:
        mu_d = np.add.reduceat(arm.den, starts) / sizes
        var_d = np.add.reduceat(arm.den**2, starts) / sizes - mu_d**2
        cov = np.add.reduceat(arm.num * arm.den, starts) / sizes - mu_n * mu_d
    var_n, var_d = np.maximum(var_n, 0) / sizes, np.maximum(var_d, 0) / sizes
    cov = cov / sizes
    # Cholesky of [[var_d, cov], [cov, var_n]] per boot.
    a = np.sqrt(var_d)
    c = np.where(a > 0, cov / np.where(a > 0, a, 1), 0.0)
    d = np.sqrt(np.maximum(var_n - c**2, 0))
    out = np.empty(b)
    step = max(1, CHUNK_ELEMS // max(nb, 1))
    for s in range(0, b, step):
        m = min(step, b - s)
        k = rng.integers(0, nb, size=(m, nb))
        z1 = rng.standard_normal((m, nb))
        z2 = rng.standard_normal((m, nb))
        den = mu_d[k] + a[k] * z1
        num = mu_n[k] + c[k] * z1 + d[k] * z2
        out[s : s + m] = (arm.scale * num / den).mean(axis=-1)
    return out


def exact_work(arm: Arm, b: int) -> int:
    """Uniform draws the exact path needs for b resamples of this arm."""
    return _uniforms_per_resample(arm) * b


def resample_arm(arm: Arm, rng: np.random.Generator, b: int, exact: bool | None = None) -> tuple[np.ndarray, bool]:
    """B bootstrap statistics of one arm; second value: exact (True) or normal limit.

    exact=None decides by EXACT_BUDGET; False forces the normal limit (used by
    analyze when the whole table would exceed TOTAL_EXACT_BUDGET).
    """
    per = _uniforms_per_resample(arm)
    if exact is False or (exact is None and per * b > EXACT_BUDGET):
        return _normal_limit(arm, rng, b), False
    boot_rng, it_rng = _streams(rng)
    out = np.empty(b)
    step = max(1, CHUNK_ELEMS // per)
    for s in range(0, b, step):
        m = min(step, b - s)
        out[s : s + m] = _exact_chunk(arm, boot_rng, it_rng, m)
    return out, True


def _streams(rng: np.random.Generator) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent boot-level and iteration-level streams derived from rng."""
    seeds = rng.integers(0, 2**63, size=2)
    return np.random.default_rng(int(seeds[0])), np.random.default_rng(int(seeds[1]))


def reference_loop(arm: Arm, rng: np.random.Generator, b: int) -> np.ndarray:
    """The straightforward loop: libkalibera's bootstrap, one resample, one
    boot and one value at a time, one generator call per draw. Kept for the
    tests and tests/perf/bootstrap_speed.py.

    It calls the same two streams in the same order as resample_arm's exact
    path (iteration draws padded to the largest boot when boots differ in
    size), so given the same generator it returns the same statistics.
    """
    boot_rng, it_rng = _streams(rng)
    nb = arm.n_boots
    sizes = [int(x) for x in arm.sizes]
    maxn = max(sizes)
    balanced = _balanced(arm)
    starts = [int(x) for x in arm.offsets[:-1]]
    out = []
    for _ in range(b):
        stats = []
        for _slot in range(nb):
            k = int(boot_rng.integers(0, nb))
            n = sizes[k]
            s_num = 0.0
            s_den = 0.0
            for j in range(maxn):
                d = int(it_rng.integers(0, maxn)) if balanced else int(it_rng.random() * n)
                if j >= n:
                    continue
                i = starts[k] + d
                s_num += float(arm.num[i])
                s_den += float(arm.den[i]) if arm.den is not None else 1.0
            stats.append(arm.scale * s_num / s_den)
        out.append(sum(stats) / nb)
    return np.array(out)


def welch_df(a: np.ndarray, b: np.ndarray) -> float:
    """Welch-Satterthwaite degrees of freedom of two samples (nan if undefined)."""
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return math.nan
    va, vb = np.var(a, ddof=1) / na, np.var(b, ddof=1) / nb
    if va + vb == 0:
        return float(na + nb - 2)
    return float((va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1)))


def bootstrap_ratio(
    baseline: Arm,
    candidate: Arm,
    *,
    resamples: int = 10_000,
    level: float = 0.95,
    seed_seq: np.random.SeedSequence | None = None,
    expand: bool = True,
    exact: bool | None = None,
) -> BootstrapResult:
    """Interval of candidate/baseline by the hierarchical bootstrap (module doc)."""
    seed_seq = seed_seq if seed_seq is not None else np.random.SeedSequence(0)
    ss_b, ss_c = seed_seq.spawn(2)
    rb, exact_b = resample_arm(baseline, np.random.default_rng(ss_b), resamples, exact)
    rc, exact_c = resample_arm(candidate, np.random.default_rng(ss_c), resamples, exact)
    warnings: list[str] = []
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = rc / rb
    bad = ~np.isfinite(ratios)
    if bad.any():
        ratios = np.where(bad, np.inf, ratios)
        warnings.append(f"{int(bad.sum())} resamples had a zero baseline; counted as +inf")
    mb, mc = baseline.boot_stats(), candidate.boot_stats()
    level_used = level
    if expand:
        level_used = expanded_level(level, len(mb), len(mc), welch_df(mb, mc))
    lo, hi = percentile_interval(ratios, level_used)
    base_est = float(mb.mean())
    ratio = float(mc.mean()) / base_est if base_est != 0 else math.inf
    method = "hierarchical bootstrap (boots, then iterations; K&J percentile"
    method += f", level {level_used:g} expanded for few boots)" if level_used != level else ")"
    if not (exact_b and exact_c):
        method += "; within-boot means drawn from their normal limit (large boots)"
    return BootstrapResult(ratio, lo, hi, level, level_used, resamples, method, warnings)


def t_interval_ratio(base_means: np.ndarray, cand_means: np.ndarray, level: float) -> tuple[float, float] | None:
    """Welch t interval of the ratio of arm means, on the log scale (delta method).

    log(mean_c / mean_b) +- t_{(1+level)/2, nu} * sqrt(s_c^2/(n_c m_c^2) + s_b^2/(n_b m_b^2)).
    With few boots a percentile bootstrap cannot reach beyond the boots it
    has seen while the t interval can, so analyze reports the hull of both
    (tests/support/calibration.py: coverage at 3 boots per arm).
    """
    from scipy import special  # stdtrit: scipy.stats' t.ppf

    a, b = np.asarray(base_means, float), np.asarray(cand_means, float)
    if len(a) < 2 or len(b) < 2 or a.mean() <= 0 or b.mean() <= 0:
        return None
    va = a.var(ddof=1) / (len(a) * a.mean() ** 2)
    vb = b.var(ddof=1) / (len(b) * b.mean() ** 2)
    se = math.sqrt(va + vb)
    if se == 0:
        r = b.mean() / a.mean()
        return r, r
    nu = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    centre = math.log(b.mean() / a.mean())
    half = special.stdtrit(nu, (1 + level) / 2) * se
    return math.exp(centre - half), math.exp(centre + half)
