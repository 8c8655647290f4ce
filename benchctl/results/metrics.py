"""The metric catalogue shared by run, export, analyze and model.

One place says what each metric is called, its unit, which direction is
better, and how ratio metrics are rebuilt from raw counters (analyze computes
MPKI as a ratio of sums per boot, never a mean of per-iteration ratios).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    name: str
    unit: str
    better: str  # "higher" | "lower" | "none"
    description: str


@dataclass(frozen=True)
class RatioMetric:
    """metric = scale * sum(numerators) / sum(denominator), per boot."""

    name: str
    numerators: tuple[str, ...]
    denominator: str
    scale: float


CATALOGUE: dict[str, MetricInfo] = {m.name: m for m in [
    MetricInfo("ops_per_sec", "ops/s", "higher", "memcached operations per second (load generator total)"),
    MetricInfo("p50_latency_us", "us", "lower", "memcached median request latency"),
    MetricInfo("p99_latency_us", "us", "lower", "memcached 99th percentile request latency"),
    MetricInfo("p999_latency_us", "us", "lower", "memcached 99.9th percentile request latency"),
    MetricInfo("mean_latency_us", "us", "lower", "memcached mean request latency"),
    MetricInfo("iops", "IOPS", "higher", "fio write IOPS"),
    MetricInfo("bandwidth_kib_s", "KiB/s", "higher", "fio write bandwidth"),
    MetricInfo("clat_mean_us", "us", "lower", "fio mean completion latency"),
    MetricInfo("clat_p50_us", "us", "lower", "fio median completion latency"),
    MetricInfo("clat_p99_us", "us", "lower", "fio 99th percentile completion latency"),
    MetricInfo("clat_p999_us", "us", "lower", "fio 99.9th percentile completion latency"),
    MetricInfo("bandwidth_bytes_s", "B/s", "higher", "xfs_io sequential page-cache read bandwidth"),
    MetricInfo("resident_fraction", "fraction", "higher", "share of the test file resident in the page cache"),
    MetricInfo("mem_total_kb", "kB", "higher", "MemTotal after boot"),
    MetricInfo("mem_free_kb", "kB", "higher", "MemFree after boot"),
    MetricInfo("mem_available_kb", "kB", "higher", "MemAvailable after boot"),
    MetricInfo("page_tables_kb", "kB", "lower", "PageTables from /proc/meminfo"),
    MetricInfo("kernel_dtlb_walk_mpki", "MPKI", "lower", "kernel data TLB walks per 1000 kernel instructions"),
    MetricInfo("kernel_tlb_walk_mpki", "MPKI", "lower", "kernel data+instruction TLB walks per 1000 kernel instructions"),
    MetricInfo("dtlb_walk_k", "count", "lower", "DTLB_WALK:k (or the x86 dTLB walk event) over the measured window"),
    MetricInfo("itlb_walk_k", "count", "lower", "ITLB_WALK:k over the measured window"),
    MetricInfo("inst_retired_k", "count", "none", "INST_RETIRED:k over the measured window"),
    MetricInfo("cycles_k", "count", "none", "CPU_CYCLES:k over the measured window"),
    MetricInfo("l1d_tlb_refill_k", "count", "lower", "L1D_TLB_REFILL:k"),
    MetricInfo("l2d_tlb_refill_k", "count", "lower", "L2D_TLB_REFILL:k"),
    MetricInfo("l1i_tlb_refill_k", "count", "lower", "L1I_TLB_REFILL:k"),
]}

RATIOS: dict[str, RatioMetric] = {r.name: r for r in [
    RatioMetric("kernel_dtlb_walk_mpki", ("dtlb_walk_k",), "inst_retired_k", 1000.0),
    RatioMetric("kernel_tlb_walk_mpki", ("dtlb_walk_k", "itlb_walk_k"), "inst_retired_k", 1000.0),
]}


def info(name: str) -> MetricInfo:
    """Catalogue entry, or a neutral one for metrics from other harnesses."""
    return CATALOGUE.get(name, MetricInfo(name, "", "none", "metric not in benchctl's catalogue"))
