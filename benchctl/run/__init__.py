"""One run of a workload on this boot, from its spec to a run folder.

specs -> engine -> drivers (run/drivers/) over storage stacks (run/storage/), with perf counters,
the kernel log, the resource ledger, the host lock and cleanup. Writes run folders through
results.store.
"""

# The public entry points: what a command, another package or a test may import from here.
__all__ = [
    "cleanup",
    "counters",
    "drivers",
    "engine",
    "hostlock",
    "hygiene",
    "kernel_log",
    "kinds",
    "ledger",
    "proctree",
    "quiesce",
    "resume",
    "specs",
    "state",
    "storage",
    "suite",
    "variance",
]
