"""The two arms of the modelled machine, evaluated on joint draws of every uncertain figure.

Which mapping each arm gets is derived, not declared: the baseline is the
kernel without the series (v6.17, rodata=full: PTEs), the candidate the
kernel with it (v6.18, default rodata): benchctl.env.arm64.expected decides
from the profile's MIDR through the BBML2_NOABORT allow-list
(benchctl.env.arm64.midr). A CPU off the list gets PTEs in both arms, so both
arms are the same computation on the same draws and every change is exactly
zero. `Model` holds the figures (data/cpus.toml, workloads.toml,
machine.toml, with overrides), draws them jointly (montecarlo.draw), and
evaluates boot memory (exact page-table arithmetic, interpolated) and each
workload's mechanisms (costmodel) for both arms on the same draws; predict
and simulate read it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchctl.model import costmodel, montecarlo
from benchctl.model.pagetables import STRUCT_PAGE, GiB, KiB, compare
from benchctl.model.profiles import CpuProfile, Figure, WorkloadProfile, apply_overrides

BASELINE_KERNEL = "6.17.0"  # the series reverted: rodata=full maps the linear map with PTEs
CANDIDATE_KERNEL = "6.18.0"  # the series: blocks on an allow-listed CPU


@dataclass
class ArmMapping:
    state: str  # "block" or "pte"
    reason: str


def derived_mapping(cpu: CpuProfile, kernel: str) -> ArmMapping:
    """What the kernel does with this CPU's linear map (allow-list + force_pte_mapping rules)."""
    from benchctl.env.arm64.expected import expected_linear_map, parse_release, rodata
    from benchctl.env.arm64.midr import Midr, is_bbml2_noabort

    rel = parse_release(kernel)
    bbml2 = is_bbml2_noabort(Midr(cpu.midr_value))
    ro = rodata(rel, {}, {"CONFIG_RODATA_FULL_DEFAULT_ENABLED": "y"})
    exp = expected_linear_map(
        rel=rel, bbml2=bbml2, rodata_effective=ro.effective, kfence_late=False, debug_pagealloc_on=False
    )
    return ArmMapping(exp.state, exp.reason)


@dataclass
class Model:
    """A CPU profile, workload profiles and machine figures, with their joint draws."""

    cpu: CpuProfile
    workloads: dict[str, WorkloadProfile]
    machine: dict[str, Figure]
    ram: int = 256 * GiB
    overrides: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        figs: dict[str, Figure] = dict(self.machine)
        figs.update(self.cpu.figures)
        for w in self.workloads.values():
            figs.update(w.figures)
        self.figures = apply_overrides(figs, self.overrides)
        self.arms = {
            "pte": derived_mapping(self.cpu, BASELINE_KERNEL),
            "block": derived_mapping(self.cpu, CANDIDATE_KERNEL),
        }

    @property
    def blocks_in_candidate(self) -> bool:
        return self.arms["block"].state == "block"

    def mapping(self, arm: str) -> str:
        return self.arms[arm].state

    def draws(self, n: int, seed: int) -> dict[str, np.ndarray]:
        return montecarlo.draw(self.figures, n, seed)

    # -- boot memory -------------------------------------------------------------------------------------------
    def boot(self, v: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """MemTotal and MemFree per arm (bytes, without noise) and the changes, per draw.

        The exact arithmetic is done on grids (mapped RAM in 2 MiB steps over the
        assumption's range, permission changes on a logarithmic grid) and
        interpolated: the table bytes are piecewise linear in both.
        """
        kfence = int(self.figures["machine.kfence_pool"].value)
        kimg = int(self.figures["machine.kernel_image"].quantile(0.5))
        lo_m, hi_m = (
            int(mapped_ram(self.figures, self.ram, self.figures["machine.reserved_in_map"].quantile(q))) for q in (0, 1)
        )
        mapped = np.floor(mapped_ram(self.figures, self.ram, v["machine.reserved_in_map"]) / (2 << 20)) * (2 << 20)
        pf = self.figures["machine.perm_changes"]
        top = float(max(2.0, pf.quantile(1.0) if pf.uncertain else float(np.max(v["machine.perm_changes"]))))
        grid, tables, perm_grid, split = _boot_tables(lo_m, hi_m, kimg, kfence, self.blocks_in_candidate, top)
        pte_tables = np.interp(mapped, grid, tables[:, 0])
        block_tables = np.interp(mapped, grid, tables[:, 1])
        splits = np.interp(v["machine.perm_changes"], perm_grid, split)
        memmap = mapped / (4 * KiB) * STRUCT_PAGE
        total = {
            "pte": mapped - memmap - v["machine.reserved_in_map"] - pte_tables,
            "block": mapped - memmap - v["machine.reserved_in_map"] - block_tables,
        }
        free = {
            "pte": total["pte"] - v["machine.used_after_boot"],
            "block": total["block"] - v["machine.used_after_boot"] - splits,
        }
        return {
            "mapped": mapped,
            "pte_tables": pte_tables,
            "block_tables": block_tables,
            "splits": splits,
            "total_pte": total["pte"],
            "total_block": total["block"],
            "free_pte": free["pte"],
            "free_block": free["block"],
        }

    # -- workloads ---------------------------------------------------------------------------------------------
    def workload(self, key: str, v: dict[str, np.ndarray]) -> dict[str, costmodel.ArmCost]:
        wl = self.workloads[key]
        shares = costmodel.block_shares(
            self.ram, v["machine.perm_changes"], int(self.figures["machine.kfence_pool"].value)
        )
        pte = costmodel.workload_cost(self.cpu, wl, v, "pte", self.ram, shares)
        if self.blocks_in_candidate:
            block = costmodel.workload_cost(self.cpu, wl, v, "block", self.ram, shares)
        else:
            block = pte  # off the allow-list: the candidate kernel maps with PTEs too
        return {"pte": pte, "block": block}


def mapped_ram(figures: dict[str, Figure], installed: int, reserved: Any) -> Any:
    """RAM in the linear map: the installed RAM less the gap (machine.gap_fraction), plus 64/63 of the
    reservations inside the map (MemTotal = mapped x 63/64 - reservations, so what the gap does not
    hold inside the map lies outside it). Never more than the installed RAM."""
    gap = float(figures["machine.gap_fraction"].value)
    return np.minimum(installed, installed * (1.0 - gap) + np.asarray(reserved, float) * 64.0 / 63.0)


@functools.lru_cache(maxsize=16)
def _boot_tables(
    lo_m: int, hi_m: int, kimg: int, kfence: int, allowed: bool, top: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    step = 2 << 20
    lo_m, hi_m = lo_m // step * step, max(lo_m, hi_m) // step * step
    grid = np.unique(np.linspace(lo_m, hi_m, 9) // step * step).astype(np.int64)
    tables = np.array(
        [
            [
                compare(int(g), 4 * KiB, kernel_image=kimg, kfence_pool=kfence, block_allowed=allowed)[k]
                for k in ("pte_arm_bytes", "block_arm_bytes")
            ]
            for g in grid
        ],
        float,
    )
    perm_grid = np.unique(np.concatenate([[0.0], np.round(np.geomspace(1, top, 10))]))
    mid = int(grid[len(grid) // 2])
    base = compare(mid, 4 * KiB, kernel_image=kimg, kfence_pool=kfence, block_allowed=allowed)["block_arm_bytes"]
    split = np.array(
        [
            compare(mid, 4 * KiB, kernel_image=kimg, kfence_pool=kfence, perm_changes=int(p), block_allowed=allowed)[
                "block_arm_bytes"
            ]
            - base
            for p in perm_grid
        ],
        float,
    )
    return grid, tables, perm_grid, split


def evaluate(model: Model, kinds: set[str], v: dict[str, np.ndarray]) -> dict[str, Any]:
    """Each needed workload (and boot memory) once for these draws."""
    out: dict[str, Any] = {}
    for kind in sorted(kinds):
        if kind == "boot":
            out[kind] = model.boot(v)
        elif kind in model.workloads:
            out[kind] = {"arms": model.workload(kind, v)}
    return out


def merge_details(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Details of all chunks as one: arrays concatenated, arm costs merged field by field."""
    if not chunks:
        return {}
    first = chunks[0]
    out: dict[str, Any] = {}
    for k, val in first.items():
        if isinstance(val, np.ndarray):
            out[k] = np.concatenate([c[k] for c in chunks])
        elif k == "arms":
            out[k] = {arm: _merge_arm([c[k][arm] for c in chunks]) for arm in val}
    return out


def _merge_arm(parts: list[costmodel.ArmCost]) -> costmodel.ArmCost:
    def cat(xs: list) -> np.ndarray | None:
        return None if xs[0] is None else np.concatenate(xs)

    stages = {}
    for name in parts[0].stages:
        sc = [p.stages[name] for p in parts]
        stages[name] = costmodel.StageCost(
            *(
                np.concatenate([getattr(s, f) for s in sc])
                for f in ("time_ns", "walks", "linear_walks", "walk_ns", "restart_ns")
            )
        )
    return costmodel.ArmCost(
        stages,
        np.concatenate([p.throughput for p in parts]),
        [s for p in parts for s in p.bottleneck],
        cat([p.mpki for p in parts]),
        cat([p.time_ns for p in parts]),
    )
