"""Speed of the hierarchical bootstrap: vectorised vs a straightforward loop.

Run: .venv/bin/python tests/perf/bootstrap_speed.py
Prints both timings, checks both give the same interval (they consume the
same random numbers), prints the ratio; exits 1 if it is below 20x.
Then times a one-million-row tidy CSV analysed with 10,000 resamples
(load + analyze, all metrics); exits 1 if that takes 10 s or more.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchctl.analyze.stats import bootstrap as bs  # noqa: E402

B = 10_000


def arms(rng, boots=10, iters=20):
    out = []
    for mean in (100.0, 103.0):
        out.append(bs.Arm.from_groups([mean + rng.normal(0, 2) + rng.normal(0, 1, iters) for _ in range(boots)]))
    return out


def interval(base_stats, cand_stats):
    return bs.percentile_interval(cand_stats / base_stats, 0.95)


def best_of(n, fn):
    """Fastest of n runs (both sides get the same treatment: warm caches, no first-call faults)."""
    best, out = float("inf"), None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def loop_vs_vectorised() -> float:
    base, cand = arms(np.random.default_rng(0))

    def fast():
        fb, _ = bs.resample_arm(base, np.random.default_rng(1), B)
        fc, _ = bs.resample_arm(cand, np.random.default_rng(2), B)
        return interval(fb, fc)

    def slow():
        sb = bs.reference_loop(base, np.random.default_rng(1), B)
        sc = bs.reference_loop(cand, np.random.default_rng(2), B)
        return interval(sb, sc)

    t_fast, fast_iv = best_of(3, fast)
    t_slow, slow_iv = best_of(1, slow)   # long enough that one run is steady
    same = np.allclose(fast_iv, slow_iv, rtol=1e-12)
    print(f"data: 2 arms x 10 boots x 20 iterations, {B} resamples (vectorised: best of 3 runs)")
    print(f"vectorised: {t_fast:.3f} s  interval {fast_iv[0]:.5f} .. {fast_iv[1]:.5f}")
    print(f"loop:       {t_slow:.3f} s  interval {slow_iv[0]:.5f} .. {slow_iv[1]:.5f}")
    print(f"same interval: {same}; speed-up {t_slow / t_fast:.1f}x (required >= 20x)")
    return t_slow / t_fast if same else 0.0


def million_rows() -> float:
    import pandas as pd

    from benchctl.analyze.result import analyze
    from benchctl.results.loader import load_csv
    rng = np.random.default_rng(0)
    metrics, boots, iters = 20, 10, 2500          # 20 x 2 arms x 10 x 2500 = 1,000,000 rows
    n_per = boots * iters
    frames = []
    for m in range(metrics):
        for k, arm in enumerate(("pte", "block")):
            boot_eff = np.repeat(rng.normal(0, 2, boots), iters)
            frames.append(pd.DataFrame({
                "arm": arm, "host": "h1", "boot": np.repeat([f"{arm}-{b}" for b in range(boots)], iters),
                "run": np.repeat([f"r-{arm}-{b}-{m}" for b in range(boots)], iters), "workload": "w",
                "iteration": np.tile(np.arange(iters), boots), "metric": f"m{m}",
                "value": 100 + 3 * k + boot_eff + rng.normal(0, 1, n_per), "unit": "u"}))
    df = pd.concat(frames, ignore_index=True)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "million.csv"
        df.to_csv(p, index=False)
        t0 = time.perf_counter()
        tidy = load_csv([p])
        t_load = time.perf_counter() - t0
        res = analyze(tidy, "pte", "block", None, resamples=B, seed=1)
        total = time.perf_counter() - t0
    print(f"{len(tidy.df):,} rows, {len(res['comparisons'])} comparisons, {B} resamples: "
          f"load {t_load:.2f} s, load + analyze {total:.2f} s (required < 10 s)")
    print(f"method: {res['comparisons'][0]['method']}")
    return total


def main() -> int:
    ratio = loop_vs_vectorised()
    total = million_rows()
    ok = ratio >= 20 and total < 10
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
