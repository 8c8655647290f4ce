"""Simulated run folders, so analyze, plots and the report can be tried without hardware.

Every file says it is simulated: run.json (status "simulated", simulated
true), both fingerprints ("simulated": true, a SIMULATED warning and
verdict) and every record ("simulated": true). The values come from the
predict model evaluated at the median of every figure (one "nominal" draw),
scaled to plausible absolute units, with multiplicative noise: one draw per
(arm, boot, workload) for boot-to-boot variation and one per iteration and
metric within a boot. Raw counters (dtlb_walk_k, itlb_walk_k,
inst_retired_k, cycles_k) are written so analyze can rebuild MPKI as a ratio
of sums and calibrate can fit the walk cost back.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from benchctl.errors import UsageError
from benchctl.model.pagetables import GiB, compare
from benchctl.model.predict import Model
from benchctl.model.profiles import load_cpu, load_machine, load_workloads
from benchctl.model.targets import load_claims
from benchctl.results.metrics import info
from benchctl.results.store import RunFolder

WINDOW_S = 10.0  # measurement window one iteration's counters cover
SERVER_THREADS = 4  # memcached worker threads the simulated throughput is summed over
ITLB_SHARE = 0.3  # share of the non-linear-map walks that are instruction-side
DEFAULT_NAMES = {"memcached": "memcached", "dmcrypt": "fio-dmcrypt", "seqread": "seqread-xfs", "boot": "boot-memory"}


def _workload_names(claims_file) -> dict[str, str]:
    """Model kind -> workload name as the claims file spells it (so analyze can match)."""
    names = dict(DEFAULT_NAMES)
    claims, _ = load_claims(claims_file)
    for c in claims:
        if c.kind:
            names[c.kind] = c.workload
    return names


def nominal(model: Model) -> dict[str, np.ndarray]:
    """One draw: every figure at its median."""
    return {
        k: np.array([f.quantile(0.5)])
        for k, f in model.figures.items()
        if isinstance(f.value, (int, float)) and not isinstance(f.value, bool)
    }


def arm_metrics(model: Model, kind: str, arm: str, v: dict[str, np.ndarray] | None = None) -> dict[str, float]:
    """Noise-free simulated metric values for one workload and arm (per iteration)."""
    v = v or nominal(model)
    if kind == "boot":
        b = model.boot(v)
        return {"mem_total_kb": float(b[f"total_{arm}"][0]) / 1024, "mem_free_kb": float(b[f"free_{arm}"][0]) / 1024}
    wl = model.workloads[kind]
    a = model.workload(kind, v)[arm]
    out: dict[str, float] = {}
    f = float(v["cpu.freq_ghz"][0])
    if wl.kind == "request":
        sc = next(iter(a.stages.values()))
        assert a.time_ns is not None and a.mpki is not None  # a request workload has both
        t_op = float(a.time_ns[0]) * 1e-9
        rate = SERVER_THREADS / t_op
        u = float(v[f"workload.{kind}.utilization"][0])
        pte = model.workload(kind, v)["pte"]
        rho = u * float(a.time_ns[0]) / float(pte.time_ns[0] if pte.time_ns is not None else a.time_ns[0])
        out["ops_per_sec"] = rate
        out["p99_latency_us"] = t_op * 1e6 / (1 - rho) * np.log(100.0)
        kinst = float(v[f"workload.{kind}.kernel_instructions_per_op"][0])
        other = float(v[f"workload.{kind}.other_kernel_walks_pki"][0]) * kinst / 1000.0
        walks = float(sc.walks[0])
        kcycles = float(v[f"workload.{kind}.{sc_name(wl)}.cycles_per_op"][0]) + float(sc.walk_ns[0]) * f
    else:
        rate = float(a.throughput[0]) * 1e9
        if kind == "dmcrypt":
            out["iops"] = rate
            out["bandwidth_kib_s"] = rate * 4
            out["clat_mean_us"] = 1e6 / rate
        else:
            out["bandwidth_bytes_s"] = rate * 4096
        kinst = sum(float(v[f"workload.{kind}.{st.name}.cycles_per_op"][0]) for st in wl.stages)
        other = 0.0
        walks = sum(float(sc.walks[0]) for sc in a.stages.values())
        kcycles = kinst + sum(float(sc.walk_ns[0]) for sc in a.stages.values()) * f
    ops = rate * WINDOW_S
    out["inst_retired_k"] = ops * kinst
    out["dtlb_walk_k"] = ops * (walks + other * (1 - ITLB_SHARE))
    out["itlb_walk_k"] = ops * other * ITLB_SHARE
    out["cycles_k"] = ops * kcycles
    return out


def sc_name(wl) -> str:
    return wl.stages[0].name


def fingerprint(model: Model, arm: str, boot_id: str, host: str, taken_at: str, kind: str) -> dict[str, Any]:
    """A benchctl-env/1 fingerprint marked simulated, for one arm and boot."""
    state = model.mapping(arm)
    allowed = model.blocks_in_candidate
    c = compare(model.ram, 4096, kfence_pool=int(model.figures["machine.kfence_pool"].value), block_allowed=allowed)
    mem = arm_metrics(model, "boot", arm)
    return {
        "format": "benchctl-env/1",
        "taken_at": taken_at,
        "root": "/",
        "simulated": True,
        "host": {"name": host, "arch": "aarch64"},
        "cpu": {
            "model": model.cpu.name,
            "count": 192,
            "midr": [{"value": model.cpu.midr.value, "cpus": [0]}],
            "bbml2_noabort": allowed,
            "bbml2_dmesg": allowed and arm == "block",
        },
        "kernel": {
            "release": "6.18.0-simulated",
            "version": "#1 SMP SIMULATED",
            "cmdline": "rodata=on",
            "config": {},
            "page_size": 4096,
        },
        "rodata": {"requested": "on", "effective": "full"},
        "linear_map": {
            "state": state,
            "source": "simulated (benchctl model)",
            "bytes": dict(c["mapped_bytes"]["block" if state == "block" else "pte"], invalid=0),
            "expected": state,
        },
        "memory": {
            "total_kb": int(mem["mem_total_kb"]),
            "free_kb": int(mem["mem_free_kb"]),
            "available_kb": int(mem["mem_free_kb"]),
            "page_tables_kb": None,
            "directmap": {},
        },
        "boot": {"id": boot_id, "uptime_s": 120.0},
        "tuning": {
            "governor": {"policy0": "performance"},
            "thp_enabled": "madvise",
            "thp_defrag": "madvise",
            "smt": None,
            "numa_nodes": 1,
            "perf_event_paranoid": -1,
            "kaslr": True,
        },
        "tools": {},
        "sources": {"*": "benchctl model simulate"},
        "missing": {},
        "warnings": ["SIMULATED: produced by `benchctl model simulate`, not measured on a machine"],
        "verdict": f"SIMULATED {model.cpu.name}, {state}-mapped linear map ({kind})",
    }


def simulate(
    cpu: str,
    out: Path,
    *,
    arms: list[str],
    boots: int,
    iterations: int,
    seed: int = 1,
    ram: int = 256 * GiB,
    workloads: list[str] | None = None,
    boot_cv: float = 0.01,
    iter_cv: float = 0.005,
    overrides: list[str] | None = None,
    cpu_file=None,
    workload_file=None,
    machine_file=None,
    claims_file=None,
) -> list[Path]:
    """Write one run folder per (arm, boot, workload); return their paths."""
    for a in arms:
        if a not in ("pte", "block"):
            raise UsageError(f"unknown arm {a!r}; use pte and/or block")
    if boots < 1 or iterations < 1:
        raise UsageError("--boots and --iterations must be at least 1")
    if boot_cv < 0 or iter_cv < 0:
        raise UsageError("noise must not be negative")
    model = Model(
        load_cpu(cpu, cpu_file),
        load_workloads(workload_file),
        load_machine(machine_file),
        ram=ram,
        overrides=list(overrides or []),
    )
    names = _workload_names(claims_file)
    kinds = ["boot", *model.workloads]
    if workloads:
        wanted = {w.lower() for w in workloads}
        kinds = [k for k in kinds if k in wanted or names.get(k, "").lower() in wanted]
        if not kinds:
            raise UsageError(
                f"no known workload in {', '.join(workloads)}; known: {', '.join(names[k] for k in names)}"
            )
    rng = np.random.default_rng(seed)
    ids = random.Random(seed)
    host = f"sim-{model.cpu.key}"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    v = nominal(model)
    base = {(k, a): arm_metrics(model, k, a, v) for k in kinds for a in arms}
    paths = []
    for boot in range(boots):
        for arm in arms:  # arms alternate within each boot round: ABAB order
            boot_id = str(uuid.UUID(int=ids.getrandbits(128), version=4))
            for kind in kinds:
                name = names.get(kind, kind)
                run_id = f"sim-{name}-{arm}-b{boot:02d}-{ids.getrandbits(24):06x}"
                folder = RunFolder.create(
                    out,
                    host=host,
                    workload=name,
                    arm=arm,
                    run_id=run_id,
                    boot_id=boot_id,
                    kernel_release="6.18.0-simulated",
                    preset="simulated",
                    simulated=True,
                    iterations_requested=iterations,
                    warmup=0,
                    overrides=list(overrides or []),
                    spec={
                        "model": "benchctl model simulate",
                        "cpu": model.cpu.key,
                        "ram_bytes": ram,
                        "seed": seed,
                        "boot_cv": boot_cv,
                        "iter_cv": iter_cv,
                        "boot": boot,
                    },
                    tool_versions={},
                    warnings=["SIMULATED: values come from the cost model, not a measurement"],
                )
                fp = fingerprint(model, arm, boot_id, host, now, name)
                folder.write_fingerprint("before", fp)
                boot_factor = {m: rng.normal(1.0, boot_cv) for m in base[(kind, arm)]}
                for it in range(iterations if kind != "boot" else 1):
                    for metric, value in base[(kind, arm)].items():
                        if kind == "boot":
                            x = value  # boot memory is exact arithmetic: no noise
                        else:
                            x = value * boot_factor[metric] * rng.normal(1.0, iter_cv)
                        folder.record(it, metric, max(x, 0.0), info(metric).unit or "count", note={"simulated": True})
                folder.write_fingerprint("after", fp)
                folder.update(status="simulated", finished=now, iterations_done=iterations if kind != "boot" else 1)
                paths.append(folder.path)
    return paths
