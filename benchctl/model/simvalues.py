"""The numbers of a simulated campaign: the model's values per arm, and how boots differ.

`model simulate` evaluates the predict model once, at the median of every
figure (`nominal`), turns that into metric values in plausible absolute
units per arm (`arm_metrics`), and gives each boot and iteration the noise
real ones have, and none where real ones have none:

- workload metrics: multiplicative, one draw per (arm, boot, workload,
  metric) with sd `boot_cv` and one per iteration with sd `iter_cv`
  (`--boot-noise`, `--iteration-noise`);
- MemFree: the memory in use right after boot differs from boot to boot,
  sd `machine.boot_noise_sd` (data/machine.toml; docs/model.md cites it),
  one draw per boot; boot-memory takes one reading per boot;
- MemTotal: none. It is exact for one kernel, command line, machine and
  boot method (results/metrics.py, MEMTOTAL_EXACT): real kexec boots of
  Debian's arm64 6.1 gave 2030456 kB on both rodata=full boots and
  2034508 kB on both rodata=on boots, while MemFree moved by 20 kB to
  5.3 MB (shared/reference/arm64-kexec.md; the issue-12 campaign).
Values in kB are whole numbers, as /proc/meminfo prints them.
"""

from __future__ import annotations

import numpy as np

from benchctl.model.arms import Model

WINDOW_S = 10.0  # measurement window one iteration's counters cover
SERVER_THREADS = 4  # memcached worker threads the simulated throughput is summed over
ITLB_SHARE = 0.3  # share of the non-linear-map walks that are instruction-side
MEMORY_NOISE = "machine.boot_noise_sd"  # bytes: sd of the memory in use after boot, boot to boot
MEMORY_SEED_TAG = 11  # the memory noise has its own random stream: the other workloads' values do not move


def nominal(model: Model) -> dict[str, np.ndarray]:
    """One draw: every figure at its median."""
    return {
        k: np.array([f.quantile(0.5)])
        for k, f in model.figures.items()
        if isinstance(f.value, (int, float)) and not isinstance(f.value, bool)
    }


def sc_name(wl) -> str:
    return wl.stages[0].name


def _request(model: Model, kind: str, arm: str, v: dict[str, np.ndarray]) -> tuple[dict[str, float], tuple]:
    """memcached-like: throughput, P99 through the M/M/1 queue, and what the counters need."""
    wl = model.workloads[kind]
    arms = model.workload(kind, v)
    a, pte = arms[arm], arms["pte"]
    sc = next(iter(a.stages.values()))
    assert a.time_ns is not None and a.mpki is not None  # a request workload has both
    t_op = float(a.time_ns[0]) * 1e-9
    rate = SERVER_THREADS / t_op
    u = float(v[f"workload.{kind}.utilization"][0])
    rho = u * float(a.time_ns[0]) / float(pte.time_ns[0] if pte.time_ns is not None else a.time_ns[0])
    out = {"ops_per_sec": rate, "p99_latency_us": t_op * 1e6 / (1 - rho) * np.log(100.0)}
    kinst = float(v[f"workload.{kind}.kernel_instructions_per_op"][0])
    other = float(v[f"workload.{kind}.other_kernel_walks_pki"][0]) * kinst / 1000.0
    walks = float(sc.walks[0])
    f = float(v["cpu.freq_ghz"][0])
    kcycles = float(v[f"workload.{kind}.{sc_name(wl)}.cycles_per_op"][0]) + float(sc.walk_ns[0]) * f
    return out, (rate, kinst, other, walks, kcycles)


def _pipeline(model: Model, kind: str, arm: str, v: dict[str, np.ndarray]) -> tuple[dict[str, float], tuple]:
    """Storage paths: throughput of the slowest stage, and what the counters need."""
    wl = model.workloads[kind]
    a = model.workload(kind, v)[arm]
    rate = float(a.throughput[0]) * 1e9
    if kind == "dmcrypt":
        out = {"iops": rate, "bandwidth_kib_s": rate * 4, "clat_mean_us": 1e6 / rate}
    else:
        out = {"bandwidth_bytes_s": rate * 4096}
    kinst = sum(float(v[f"workload.{kind}.{st.name}.cycles_per_op"][0]) for st in wl.stages)
    walks = sum(float(sc.walks[0]) for sc in a.stages.values())
    kcycles = kinst + sum(float(sc.walk_ns[0]) for sc in a.stages.values()) * float(v["cpu.freq_ghz"][0])
    return out, (rate, kinst, 0.0, walks, kcycles)


def arm_metrics(model: Model, kind: str, arm: str, v: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """Noise-free simulated metric values for one workload and arm (per iteration)."""
    v = v or nominal(model)
    if kind == "boot":
        b = model.boot(v)
        return {
            "mem_total_kb": float(round(float(b[f"total_{arm}"][0]) / 1024)),
            "mem_free_kb": float(round(float(b[f"free_{arm}"][0]) / 1024)),
        }
    build = _request if model.workloads[kind].kind == "request" else _pipeline
    out, (rate, kinst, other, walks, kcycles) = build(model, kind, arm, v)
    ops = rate * WINDOW_S
    out["inst_retired_k"] = ops * kinst
    out["dtlb_walk_k"] = ops * (walks + other * (1 - ITLB_SHARE))
    out["itlb_walk_k"] = ops * other * ITLB_SHARE
    out["cycles_k"] = ops * kcycles
    return out


class Noise:
    """The draws that make simulated boots and iterations differ (module doc), from one seed."""

    def __init__(self, seed: int, boot_cv: float, iter_cv: float, memory_sd_bytes: float) -> None:
        self.rng = np.random.default_rng(seed)
        self.memory_rng = np.random.default_rng([seed, MEMORY_SEED_TAG])
        self.boot_cv, self.iter_cv = boot_cv, iter_cv
        self.memory_sd_kb = memory_sd_bytes / 1024

    def boot_memory(self, base: dict[str, float]) -> dict[str, float]:
        """One boot's MemTotal (exact) and MemFree (less the boot's extra memory in use)."""
        used = self.memory_rng.normal(0.0, self.memory_sd_kb) if self.memory_sd_kb > 0 else 0.0
        return {"mem_total_kb": base["mem_total_kb"], "mem_free_kb": float(round(base["mem_free_kb"] - used))}

    def boot_factors(self, metrics) -> dict[str, float]:
        """One multiplicative boot effect per metric."""
        return {m: self.rng.normal(1.0, self.boot_cv) for m in metrics}

    def iteration(self, value: float, factor: float) -> float:
        return max(value * factor * self.rng.normal(1.0, self.iter_cv), 0.0)
