"""Sampled access traces with locality, to check the analytic model against the reference simulator.

costmodel computes walk rates analytically; this module builds the traces
those formulas describe, op by op, so that tlbsim.simulate_reference (an
obviously-right LRU simulator) can count what really happens:

- random regions: `pages_per_op` pages per op drawn from a Zipf popularity
  over the footprint, hot ranks scattered over the region;
- stream regions: consecutive 4 KiB pages of physically contiguous folios of
  `folio` bytes, each folio at a random place, `pages_per_op` pages per op
  (a sequential page-cache read or write);
- linear-map regions live at physical addresses inside the region's spread
  (machine.spread_fraction of RAM); 4 KiB entries in the PTE arm, and in the
  block arm the entry size of the block holding the address, each 1 GiB of
  RAM given one mapping kind by a hash so the byte shares match the exact
  page-table model;
- user, vmalloc and vmemmap regions keep their own mapping size in both arms.

`leaf_lines(addrs)` gives the cache line of each address's leaf descriptor
on 4 KiB PTEs (8 descriptors per 64-byte line), for the residency checks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchctl.model.costmodel import FIXED_SIZES, PAGE, block_shares, spread_bytes
from benchctl.model.pagetables import GiB
from benchctl.model.profiles import Stage

_M1 = 2654435761  # odd multipliers: multiplication by them modulo a power of two is a bijection
_M2 = 40503
SPACE_BASE = {"user": 1 << 46, "vmalloc": 1 << 45, "vmemmap": 1 << 44}


def zipf_ranks(rng: np.random.Generator, n: int, size: int, s: float) -> np.ndarray:
    """`size` ranks in [0, n) with P(rank k) ~ (k+1)^-s (continuous inverse CDF; s=0 uniform)."""
    u = rng.random(size)
    if s <= 0 or n <= 1:
        return np.minimum((u * n).astype(np.int64), n - 1)
    if abs(s - 1.0) < 1e-9:
        x = np.exp(u * np.log(n + 1.0))
    else:
        a = 1.0 - s
        x = (u * ((n + 1.0) ** a - 1.0) + 1.0) ** (1.0 / a)
    return np.clip(x.astype(np.int64) - 1, 0, n - 1)


def _scatter(idx: np.ndarray, n: int) -> np.ndarray:
    """A fixed pseudo-random permutation of range(n) applied to idx (hot ranks land far apart)."""
    return (idx * _M1 + 12345) % n if n > 1 else idx


def stage_trace(
    stage: Stage, v: dict[str, Any], base: str, *, ram: int, arm: str, n_ops: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(addresses, mapping sizes, region index) for n_ops ops of one stage, at one draw `v` (scalars)."""
    rng = np.random.default_rng(seed)
    cols: list[np.ndarray] = []
    regions: list[np.ndarray] = []
    for ri, r in enumerate(stage.regions):
        rb = f"{base}.regions.{r.name}"
        k = max(1, int(round(float(v[f"{rb}.pages_per_op"]))))
        F = float(v[f"{rb}.footprint"])
        if r.space == "linear":
            spread = float(
                spread_bytes(
                    np.array([F]), {"machine.spread_fraction": np.array([float(v["machine.spread_fraction"])])}, ram
                )[0]
            )
            frames = max(1, int(spread // PAGE))
            origin = (ri * 7919 * (1 << 21)) % max(PAGE, ram - int(spread) + PAGE) // PAGE * PAGE
        else:
            frames = max(1, int(F // PAGE))
            origin = SPACE_BASE[r.space] + (ri << 40)
        if r.pattern == "stream":
            fp = max(1, int(float(v[f"{rb}.folio"]) // PAGE))
            total = n_ops * k
            folios = -(-total // fp)
            starts = rng.integers(0, max(1, frames - fp), folios)
            pages = (starts[:, None] + np.arange(fp)[None, :]).ravel()[:total]
        else:
            npages = max(1, int(F // PAGE))
            ranks = zipf_ranks(rng, npages, n_ops * k, float(v[f"{rb}.zipf"]))
            page = _scatter(ranks, npages)
            pages = (page * frames) // npages if r.space == "linear" else page
        addr = origin + pages.astype(np.int64) * PAGE
        cols.append(addr.reshape(n_ops, k))
        regions.append(np.full((n_ops, k), ri, dtype=np.int16))
    addrs = np.concatenate(cols, axis=1).ravel()
    region = np.concatenate(regions, axis=1).ravel()
    size = np.empty_like(addrs)
    for ri, r in enumerate(stage.regions):
        m = region == ri
        if r.space != "linear":
            size[m] = FIXED_SIZES[r.space]
        elif arm == "pte":
            size[m] = PAGE
        else:
            kinds, share = block_shares(
                ram, np.array([float(v["machine.perm_changes"])]), int(float(v["machine.kfence_pool"]))
            )
            cum = np.cumsum(share[0])
            chunk = addrs[m] // GiB
            u = ((chunk * _M2) % 1_000_003) / 1_000_003.0
            size[m] = np.array(kinds)[np.searchsorted(cum / cum[-1], u, side="right").clip(0, len(kinds) - 1)]
    return addrs, size, region


def leaf_lines(addrs: np.ndarray) -> np.ndarray:
    """Index of the 64-byte line holding each address's 4 KiB leaf descriptor (8 per line)."""
    return np.asarray(addrs, np.int64) // (8 * PAGE)
