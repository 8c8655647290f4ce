"""Joint uncertainty: draw every uncertain figure together, summarise, and rank what matters.

Every figure with a distribution (published with a range, measured with an
error, or assumed) is drawn independently, `n` times, and the model runs once
on all draws at once (numpy arrays). A prediction is then the weighted median
and the 5th..95th weighted percentiles of the draws (weights are 1 without a
calibration; with one they are the likelihood of the tlb-probe measurements,
benchctl.model.calibrate). Variance shares are first-order Sobol indices,
Var(E[Y | X_i]) / Var(Y), estimated by averaging Y within 20 quantile bins of
X_i (Saltelli et al., Global Sensitivity Analysis: The Primer, Wiley 2008,
ch. 4; the binned estimator is its "scatterplot smoothing" form).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchctl.model.profiles import Figure

BINS = 20


def draw(figures: dict[str, Figure], n: int, seed: int) -> dict[str, np.ndarray]:
    """n joint draws of every numeric figure; one generator stream per figure name, so adding a figure
    does not change the draws of the others."""
    out = {}
    for name, fig in sorted(figures.items()):
        if isinstance(fig.value, (int, float)) and not isinstance(fig.value, bool):
            stream = np.random.default_rng([seed, *name.encode()])
            out[name] = fig.sample(n, stream)
    return out


def weighted_quantile(x: np.ndarray, q: float | list[float], w: np.ndarray | None = None) -> np.ndarray:
    """Quantiles of x under weights w (the inverse of the weighted empirical CDF, midpoint rule)."""
    x = np.asarray(x, float)
    qs = np.atleast_1d(np.asarray(q, float))
    if w is None:
        return np.quantile(x, qs)
    order = np.argsort(x)
    xs, ws = x[order], np.asarray(w, float)[order]
    cdf = (np.cumsum(ws) - 0.5 * ws) / ws.sum()
    return np.interp(qs, cdf, xs)


def summary(x: np.ndarray, w: np.ndarray | None = None) -> dict[str, float]:
    p5, p50, p95 = weighted_quantile(x, [0.05, 0.5, 0.95], w)
    return {"median": float(p50), "p5": float(p5), "p95": float(p95)}


def variance_shares(y: np.ndarray, inputs: dict[str, np.ndarray], w: np.ndarray | None = None) -> dict[str, float]:
    """First-order share of Var(y) due to each input (inputs that do not vary are left out)."""
    y = np.asarray(y, float)
    w = np.ones_like(y) if w is None else np.asarray(w, float)
    w = w / w.sum()
    mean = float((w * y).sum())
    var = float((w * (y - mean) ** 2).sum())
    if var <= 0 or not np.isfinite(var):
        return {}
    out = {}
    for name, x in inputs.items():
        if np.ptp(x) == 0:
            continue
        edges = np.quantile(x, np.linspace(0, 1, BINS + 1)[1:-1])
        idx = np.searchsorted(edges, x, side="right")
        wb = np.bincount(idx, weights=w, minlength=BINS)
        mb = np.bincount(idx, weights=w * y, minlength=BINS) / np.where(wb > 0, wb, 1.0)
        share = float((wb * (mb - mean) ** 2).sum() / var)
        # a constant y within bins still leaves sampling noise of about 1/(n/BINS) of the variance
        out[name] = max(0.0, share - BINS / len(y))
    return out


def in_chunks(n: int, chunk: int, fn: Callable[[slice], None], progress: Callable[[int, int], None] | None) -> None:
    """Run fn over slices of range(n), reporting (done, total) after each."""
    done = 0
    while done < n:
        s = slice(done, min(n, done + chunk))
        fn(s)
        done = s.stop
        if progress:
            progress(done, n)
