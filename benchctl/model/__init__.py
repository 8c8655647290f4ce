"""benchctl model: what the block-mapped linear map should do, without the hardware.

Everything here is a prediction, never a measurement: page-table bytes are
exact arithmetic over the documented table layout; TLB walks and throughput
are a parametric model whose assumed inputs are data (data/cpus.toml,
data/workloads.toml) and are listed next to every number it prints.
"""

# The public entry points: what a command, another package or a test may import from here.
__all__ = [
    "arms",
    "calibrate",
    "costmodel",
    "datafiles",
    "explain",
    "montecarlo",
    "pagetables",
    "predict",
    "profiles",
    "ram",
    "releases",
    "render",
    "sensitivity",
    "simulate",
    "simvalues",
    "targets",
    "tlbsim",
    "traces",
]
