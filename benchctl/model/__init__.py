"""benchctl model: what the block-mapped linear map should do, without the hardware.

Everything here is a prediction, never a measurement: page-table bytes are
exact arithmetic over the documented table layout; TLB walks and throughput
are a parametric model whose assumed inputs are data (data/cpus.toml,
data/workloads.toml) and are listed next to every number it prints.
"""
