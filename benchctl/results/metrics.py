"""The metric catalogue shared by run, export, analyze and model.

One place says what each metric is called, its unit, which direction is
better, which metrics are exact (one value for a given kernel, command line,
machine and boot method, so identical boots are expected rather than a sign
of copied data: analyze/sameness.py), and how ratio metrics are rebuilt from
raw counters (analyze computes MPKI as a ratio of sums per boot, never a mean
of per-iteration ratios).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from benchctl.human import parse_size


@dataclass(frozen=True)
class MetricInfo:
    name: str
    unit: str
    better: str  # "higher" | "lower" | "none"
    description: str
    # Why the metric takes one value on every boot of one kernel, command line, machine and
    # boot method, and what moves it; "" for a metric that varies by chance (almost all do).
    exact: str = ""
    moved_by: str = ""  # for an exact metric: what differs between two boots that disagree on it


@dataclass(frozen=True)
class RatioMetric:
    """metric = scale * sum(numerators) / sum(denominator), per boot."""

    name: str
    numerators: tuple[str, ...]
    denominator: str
    scale: float


# MemTotal is totalram_pages (fs/proc/meminfo.c via si_meminfo): the pages memblock_free_all()
# hands to the page allocator, so whatever memblock reserved first (kernel image, memmap, the
# linear map's page tables, the device tree, firmware regions) never counts. Measured: Debian's
# arm64 6.1 under qemu, 2030456 kB on both rodata=full kexec boots and 2034508 kB on both
# rodata=on ones, while MemFree moved by hundreds of kB (shared/reference/arm64-kexec.md;
# docs/analyze.md "Identical values").
MEMTOTAL_EXACT = (
    "MemTotal counts the pages memblock handed to the page allocator at boot, after the kernel "
    "image, memmap, the linear map's page tables and the device tree were reserved: one value "
    "for a given kernel, command line, machine and boot method"
)
MEMTOTAL_MOVES = "the kernel, its command line, the firmware or device tree, or the boot method (a cold boot vs kexec)"
# seqread-xfs reads the whole file into the page cache before every pass and mincore(2) counts
# the resident pages: 1.0 every time unless memory ran short (run/drivers/seqread_xfs.py).
RESIDENT_EXACT = (
    "the workload reads the whole file into the page cache before each pass, so mincore(2) "
    "finds all of it resident (1.0) every time"
)
RESIDENT_MOVES = "memory pressure during the run (passes below resident_threshold are marked not_cached)"

CATALOGUE: dict[str, MetricInfo] = {
    m.name: m
    for m in [
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
        MetricInfo(
            "resident_fraction",
            "fraction",
            "higher",
            "share of the test file resident in the page cache",
            exact=RESIDENT_EXACT,
            moved_by=RESIDENT_MOVES,
        ),
        MetricInfo(
            "mem_total_kb", "kB", "higher", "MemTotal after boot", exact=MEMTOTAL_EXACT, moved_by=MEMTOTAL_MOVES
        ),
        MetricInfo("mem_free_kb", "kB", "higher", "MemFree after boot"),
        MetricInfo("mem_available_kb", "kB", "higher", "MemAvailable after boot"),
        MetricInfo("page_tables_kb", "kB", "lower", "PageTables from /proc/meminfo"),
        MetricInfo("kernel_dtlb_walk_mpki", "MPKI", "lower", "kernel data TLB walks per 1000 kernel instructions"),
        MetricInfo(
            "kernel_tlb_walk_mpki", "MPKI", "lower", "kernel data+instruction TLB walks per 1000 kernel instructions"
        ),
        MetricInfo(
            "dtlb_walk_k", "count", "lower", "DTLB_WALK:k (or the x86 dTLB walk event) over the measured window"
        ),
        MetricInfo("itlb_walk_k", "count", "lower", "ITLB_WALK:k over the measured window"),
        MetricInfo("inst_retired_k", "count", "none", "INST_RETIRED:k over the measured window"),
        MetricInfo("cycles_k", "count", "none", "CPU_CYCLES:k over the measured window"),
        MetricInfo("l1d_tlb_refill_k", "count", "lower", "L1D_TLB_REFILL:k"),
        MetricInfo("l2d_tlb_refill_k", "count", "lower", "L2D_TLB_REFILL:k"),
        MetricInfo("l1i_tlb_refill_k", "count", "lower", "L1I_TLB_REFILL:k"),
    ]
}

RATIOS: dict[str, RatioMetric] = {
    r.name: r
    for r in [
        RatioMetric("kernel_dtlb_walk_mpki", ("dtlb_walk_k",), "inst_retired_k", 1000.0),
        RatioMetric("kernel_tlb_walk_mpki", ("dtlb_walk_k", "itlb_walk_k"), "inst_retired_k", 1000.0),
    ]
}


def info(name: str) -> MetricInfo:
    """Catalogue entry, or a neutral one for metrics from other harnesses."""
    return CATALOGUE.get(name, MetricInfo(name, "", "none", "metric not in benchctl's catalogue"))


# What a run measured and how it was set up, as record notes carry it. Two arms
# that differ in any of these measured different things (a pwrite vs a pread, fio
# on dm-crypt vs on the bare device). STRICT keys must be recorded on both sides
# to be compared: an import that cannot tell whether dm-crypt was in the I/O path
# is not compared with a run that had it. analyze/compare.py applies this;
# `benchctl import --set KEY=VALUE` fills what an output cannot show.
STRICT_SETUP = ("op", "crypt", "fs")
SETUP_KEYS = STRICT_SETUP + ("rw", "bs", "ioengine", "backing", "generator")
SETUP_ALIASES = {"direction": "op"}  # fio's parser says direction, xfs_io's op


def setup_items(note: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(key, value as recorded) of the setup keys in one record's note, aliases folded."""
    for k, v in note.items():
        k = SETUP_ALIASES.get(k, k)
        if k in SETUP_KEYS and v is not None:
            yield k, v


def setup_value(key: str, value: Any) -> str:
    """A setup value as compared, wherever setups are compared (analyze, a claim's setup, import):
    block sizes in bytes ("4k" and "4096" are one size), everything else as text."""
    if key == "bs":
        try:
            return str(parse_size(value, error=ValueError))
        except ValueError:
            return str(value)
    return str(value)
