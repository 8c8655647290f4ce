"""Simulated run folders, so analyze, plots and the report can be tried without hardware.

Every file says it is simulated: run.json (status "simulated", simulated
true), both fingerprints ("simulated": true, a SIMULATED warning and
verdict) and every record ("simulated": true). The values and the noise
that makes boots differ are simvalues.py's: boot to boot where real boots
differ, none in MemTotal, which is exact for a kernel. Raw counters
(dtlb_walk_k, itlb_walk_k, inst_retired_k, cycles_k) are written so analyze
can rebuild MPKI as a ratio of sums and calibrate can fit the walk cost
back. Simulated folders have no raw outputs: analyze sees that their boots
are distinct through MemFree, which differs between them.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchctl.errors import UsageError
from benchctl.human import fmt_size
from benchctl.model.arms import Model
from benchctl.model.pagetables import GiB, compare
from benchctl.model.profiles import load_cpu, load_machine, load_workloads
from benchctl.model.simvalues import MEMORY_NOISE, Noise, arm_metrics, nominal
from benchctl.model.targets import load_targets
from benchctl.results.metrics import info
from benchctl.results.store import RunFolder

DEFAULT_NAMES = {"memcached": "memcached", "dmcrypt": "fio-dmcrypt", "seqread": "seqread-xfs", "boot": "boot-memory"}


def _workload_names(claims_file) -> dict[str, str]:
    """Model kind -> workload name as the claims file spells it (so analyze can match)."""
    names = dict(DEFAULT_NAMES)
    claims, _ = load_targets(claims_file)
    for c in claims:
        if c.kind:
            names[c.kind] = c.workload
    return names


def fingerprint(
    model: Model, arm: str, boot_id: str, host: str, taken_at: str, kind: str, mem: dict[str, float]
) -> dict[str, Any]:
    """A benchctl-env/1 fingerprint marked simulated, for one arm and boot (mem: that boot's MemTotal/MemFree)."""
    state = model.mapping(arm)
    allowed = model.blocks_in_candidate
    c = compare(model.ram, 4096, kfence_pool=int(model.figures["machine.kfence_pool"].value), block_allowed=allowed)
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


def _setup(cpu: str, arms: list[str], boots: int, iterations: int, boot_cv: float, iter_cv: float, **files) -> Model:
    """The model, after the arguments were checked (UsageError names the bad one)."""
    for a in arms:
        if a not in ("pte", "block"):
            raise UsageError(f"unknown arm {a!r}; use pte and/or block")
    if len(set(arms)) != len(arms):
        raise UsageError(f"--arms {','.join(arms)}: an arm named twice would write the same runs twice")
    if boots < 1 or iterations < 1:
        raise UsageError("--boots and --iterations must be at least 1")
    if boot_cv < 0 or iter_cv < 0:
        raise UsageError("noise must not be negative")
    return Model(
        load_cpu(cpu, files["cpu_file"]),
        load_workloads(files["workload_file"]),
        load_machine(files["machine_file"]),
        ram=files["ram"],
        overrides=list(files["overrides"] or []),
    )


def _kinds(model: Model, names: dict[str, str], workloads: list[str] | None) -> list[str]:
    """Model kinds to write: boot memory and every workload, or the ones asked for."""
    kinds = ["boot", *model.workloads]
    if not workloads:
        return kinds
    wanted = {w.lower() for w in workloads}
    kinds = [k for k in kinds if k in wanted or names.get(k, "").lower() in wanted]
    if not kinds:
        raise UsageError(f"no known workload in {', '.join(workloads)}; known: {', '.join(names[k] for k in names)}")
    return kinds


def _fits(base: dict, v: dict, arms: list[str], ram: int) -> None:
    """Refuse a RAM size the machine figures leave no free memory in (they describe a large server)."""
    sd = float(v[MEMORY_NOISE][0]) / 1024
    used = float(v["machine.used_after_boot"][0])
    if any(base[("boot", a)]["mem_free_kb"] - 5 * sd <= 0 for a in arms):
        raise UsageError(
            f"--ram {fmt_size(ram)}: the machine figures put {fmt_size(int(used))} in use after boot "
            f"(machine.used_after_boot), leaving no free memory; for a small machine give e.g. "
            "--set machine.used_after_boot=100M --set machine.boot_noise_sd=2M"
        )


def _write(
    out: Path,
    run: dict[str, Any],
    fp: dict[str, Any],
    values: dict[str, float],
    noise: Noise,
    iterations: int,
    boot: bool,
) -> Path:
    """One simulated run folder: manifest, fingerprints, records (boot memory: one reading, its boot's values)."""
    folder = RunFolder.create(out, **run)
    folder.write_fingerprint("before", fp)
    factors = noise.boot_factors(values)  # drawn for boot memory too, so each workload keeps its stream
    for it in range(1 if boot else iterations):
        for metric, value in values.items():
            x = value if boot else noise.iteration(value, factors[metric])
            folder.record(it, metric, x, info(metric).unit or "count", note={"simulated": True})
    folder.write_fingerprint("after", fp)
    folder.update(status="simulated", finished=fp["taken_at"], iterations_done=1 if boot else iterations)
    return folder.path


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
    model = _setup(
        cpu,
        arms,
        boots,
        iterations,
        boot_cv,
        iter_cv,
        cpu_file=cpu_file,
        workload_file=workload_file,
        machine_file=machine_file,
        ram=ram,
        overrides=overrides,
    )
    names = _workload_names(claims_file)
    kinds = _kinds(model, names, workloads)
    v = nominal(model)
    noise = Noise(seed, boot_cv, iter_cv, float(v[MEMORY_NOISE][0]))
    ids = random.Random(seed)
    host = f"sim-{model.cpu.key}"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    base = {(k, a): arm_metrics(model, k, a, v) for k in [*kinds, "boot"] for a in arms}
    _fits(base, v, arms, ram)
    spec = {"model": "benchctl model simulate", "cpu": model.cpu.key, "ram_bytes": ram, "seed": seed}
    spec.update(boot_cv=boot_cv, iter_cv=iter_cv, memory_noise_sd_bytes=float(v[MEMORY_NOISE][0]))
    paths = []
    for boot in range(boots):
        for arm in arms:  # arms alternate within each boot round: ABAB order
            boot_id = str(uuid.UUID(int=ids.getrandbits(128), version=4))
            mem = noise.boot_memory(base[("boot", arm)])
            for kind in kinds:
                name = names.get(kind, kind)
                run = {
                    "host": host,
                    "workload": name,
                    "arm": arm,
                    "run_id": f"sim-{name}-{arm}-b{boot:02d}-{ids.getrandbits(24):06x}",
                    "boot_id": boot_id,
                    "kernel_release": "6.18.0-simulated",
                    "preset": "simulated",
                    "simulated": True,
                    "iterations_requested": iterations,
                    "warmup": 0,
                    "overrides": list(overrides or []),
                    "spec": dict(spec, boot=boot),
                    "tool_versions": {},
                    "warnings": ["SIMULATED: values come from the cost model, not a measurement"],
                }
                fp = fingerprint(model, arm, boot_id, host, now, name, mem)
                values = mem if kind == "boot" else base[(kind, arm)]
                paths.append(_write(out, run, fp, values, noise, iterations, kind == "boot"))
    return paths
