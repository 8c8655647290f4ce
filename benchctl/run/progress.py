"""What a run says after each warm-up pass and iteration: how long it took and about how long is left.

A claim-sized run is minutes of warm-up and iterations; the estimate is the
mean pass so far times the passes still to come (warm-up passes and
iterations cost about the same: the same workload, unrecorded or recorded).
"""

from __future__ import annotations

import time


class Passes:
    """Durations of a run's passes, and the line that reports one."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def done(self, t0: float, what: str, remaining: int, summary: str = "") -> str:
        """'benchctl: WHAT (12.3 s; about 40 s left): SUMMARY' for a pass that started at t0 (monotonic)."""
        self.seconds.append(time.monotonic() - t0)
        left = sum(self.seconds) / len(self.seconds) * max(remaining, 0)
        eta = f"; about {left:.0f} s left" if left >= 1 else ""
        return f"benchctl: {what} ({self.seconds[-1]:.1f} s{eta})" + (f": {summary}" if summary else "")
