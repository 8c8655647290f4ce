"""Speed of the fast TLB path against the reference simulator (issue 6: >= 20x).

Run: .venv/bin/python tests/perf/tlbsim_speed.py   (exit 1 if slower than 20x
or if the miss ratios disagree by more than 2 %). Times are best of 3.
"""

from __future__ import annotations

import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "model"))

from test_tlbsim import AMPERE_LIKE, N1, irm_trace  # noqa: E402

from benchctl.model.tlbsim import simulate_fast, simulate_reference  # noqa: E402


def best(fn, reps: int = 3) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    ok = True
    print(f"{'trace':<34} {'ref acc/s':>12} {'fast acc/s':>12} {'ratio':>7} {'miss ref':>9} {'miss fast':>9}")
    for name, levels in (("n1", N1), ("ampere-like", AMPERE_LIKE)):
        for args in [
            (11, 200000, 20000, 0.9, "4K"),
            (12, 200000, 200000, 0.0, "2M"),
            (13, 200000, 50000, 1.0, "mixed"),
        ]:
            a, s = irm_trace(*args)
            ref = simulate_reference(a, s, levels)
            fast = simulate_fast(a, s, levels)
            tr = best(partial(simulate_reference, a, s, levels), 1)
            tf = best(partial(simulate_fast, a, s, levels))
            ratio = tr / tf
            agree = abs(fast.miss_ratio - ref.miss_ratio) <= 0.02 * max(ref.miss_ratio, 1e-3)
            ok &= ratio >= 20 and agree
            label = f"{name} zipf={args[3]} pages={args[2]} {args[4]}"
            print(
                f"{label:<34} {len(a) / tr:>12,.0f} {len(a) / tf:>12,.0f} {ratio:>6.1f}x "
                f"{ref.miss_ratio:>9.4f} {fast.miss_ratio:>9.4f}"
            )
    print("PASS" if ok else "FAIL: fast path under 20x or more than 2 % off")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
