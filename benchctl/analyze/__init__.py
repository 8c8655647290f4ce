"""From the tidy table to verdicts: comparisons, claims judged, design checks, reports.

Per-metric comparisons (result, series, compare), claims and verdicts (judge), design checks
(checks), the `benchctl plan` boots x iterations design (design); statistics in analyze/stats/, reports and figures in
analyze/report/.
"""

# The public entry points: what a command, another package or a test may import from here.
__all__ = [
    "adaptive",
    "adaptive_design",
    "adaptive_sim",
    "arms",
    "checks",
    "claimdata",
    "compare",
    "emulation",
    "judge",
    "machine",
    "design",
    "predictions",
    "report",
    "result",
    "resulttypes",
    "series",
    "stats",
]
