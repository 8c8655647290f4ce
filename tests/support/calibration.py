"""Calibration of analyze's verdicts on simulated hierarchical data.

Run: .venv/bin/python tests/support/calibration.py [--datasets N] [--seed S]

Model: value = mean_arm * (1 + boot effect + iteration noise), boot effect
~ N(0, 2 %) larger than iteration noise ~ N(0, 1 %), 5 boots x 10
iterations per arm (also 3 and 10 boots). Prints, per design:
- with no true difference: the share of datasets whose verdict on a claimed
  +3.5 % asserts an effect (confirmed / smaller / larger); must be <= 5 %;
- with a true +3.5 % change: how often the 95 % interval covers it (must be
  >= 93 %) and how often the claim is confirmed (power);
- the same for a pooled analysis that ignores boots (iid bootstrap over all
  iterations, Welch on iterations), which is what most tools do.
Exit status 1 if a bound is violated.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchctl.analyze.compare import compare  # noqa: E402
from benchctl.analyze.judge import judge  # noqa: E402
from benchctl.analyze.series import Series  # noqa: E402
from benchctl.analyze.stats import bootstrap  # noqa: E402
from benchctl.claims import EFFECT_VERDICTS, Claim  # noqa: E402

CLAIM = Claim("sim", "w", "m", "increase", 3.5, 3.5, 1.0)


def simulate(rng, true_pct: float, boots: int, iters: int, boot_sd=0.02, iter_sd=0.01):
    out = []
    for mean in (100.0, 100.0 * (1 + true_pct / 100)):
        groups = [mean * (1 + rng.normal(0, boot_sd) + rng.normal(0, iter_sd, iters)) for _ in range(boots)]
        out.append(groups)
    return out


def _series(groups) -> Series:
    arm = bootstrap.Arm.from_groups(groups)
    return Series(arm, [f"b{i}" for i in range(len(groups))], arm.num, set(), "u")


def boot_aware(base, cand, seed, resamples):
    comp = compare(
        "w",
        "m",
        _series(base),
        _series(cand),
        confidence=0.95,
        seed=seed,
        resamples=resamples,
        baseline="a",
        candidate="b",
        is_ratio=False,
    )
    v = judge([CLAIM], {("w", "m"): comp}, 0.95, 300, 10)[0]["verdict"]
    return comp["ci_pct"], v


def pooled(base, cand, seed, resamples):
    """Ignore boots: every iteration one independent sample (one pseudo-boot each)."""
    from scipy import stats

    a = np.concatenate(base)
    b = np.concatenate(cand)
    bs = bootstrap.bootstrap_ratio(
        bootstrap.Arm.from_groups([a]),
        bootstrap.Arm.from_groups([b]),
        resamples=resamples,
        seed_seq=np.random.SeedSequence(seed),
        expand=False,
    )
    p = stats.ttest_ind(b, a, equal_var=False).pvalue
    from benchctl.claims import verdict

    v = verdict(CLAIM, *bs.ci_pct)
    if v in EFFECT_VERDICTS and p >= 0.05:
        v = "inconclusive"
    return list(bs.ci_pct), v


def run(datasets: int, seed: int, boots: int, iters: int, resamples: int) -> dict:
    rng = np.random.default_rng(seed)
    res = {}
    for name in ("boot-aware", "pooled"):
        res[name] = {"false_effect": 0, "cover": 0, "confirmed": 0}
    for k in range(datasets):
        null = simulate(rng, 0.0, boots, iters)
        alt = simulate(rng, 3.5, boots, iters)
        for name, fn in (("boot-aware", boot_aware), ("pooled", pooled)):
            _, v0 = fn(*null, seed + k, resamples)
            ci, v1 = fn(*alt, seed + k, resamples)
            # True change of the arm means is 3.5 % by construction.
            r = res[name]
            r["false_effect"] += v0 in EFFECT_VERDICTS
            r["cover"] += ci[0] <= 3.5 <= ci[1]
            r["confirmed"] += v1 == "confirmed"
    for r in res.values():
        for k in list(r):
            r[k] /= datasets
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=20261126)
    ap.add_argument("--resamples", type=int, default=2000)
    a = ap.parse_args(argv)
    ok = True
    print(f"{a.datasets} datasets per design; boot sd 2 %, iteration sd 1 %; claim +3.5 % +-1 pp")
    print(f"{'design':>12} {'method':>11} {'false effect':>13} {'coverage':>9} {'confirmed':>10}")
    for boots, iters in ((3, 10), (5, 10), (10, 10)):
        res = run(a.datasets, a.seed + boots, boots, iters, a.resamples)
        for name, r in res.items():
            print(
                f"{boots:>3}x{iters:<3} boots {name:>11} {r['false_effect']:>12.1%} {r['cover']:>9.1%} "
                f"{r['confirmed']:>10.1%}"
            )
            if name == "boot-aware" and (r["false_effect"] > 0.05 or r["cover"] < 0.93):
                ok = False
    print("bounds (boot-aware): false effect <= 5 %, coverage >= 93 %:", "OK" if ok else "VIOLATED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
