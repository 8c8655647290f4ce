"""Synthetic kernel access traces from a workload profile, per arm.

A trace lists, op after op, the pages the kernel touches (one entry per
distinct page per op: repeated touches of a page within an op always hit
the TLB, so they change no walk count). Pages are drawn independently per op
(uniform or bounded Zipf over the region's footprint), which is the
independent reference model the fast simulator's approximation assumes.
Linear-map pages are scattered over all of RAM, as the page allocator does;
user and fixed pages keep their own mapping size in both arms.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchctl.model.pagetables import GiB, KiB, compare
from benchctl.model.profiles import WorkloadProfile

PAGE = 4 * KiB
_M1 = 2654435761   # primes larger than any page count used: multiplication by them
_M2 = 4294967291   # modulo n is a bijection, which scatters ranks over pages
USER_BASE = 1 << 46
FIXED_BASE = 1 << 45
KIND_SIZES = {  # bytes of one TLB entry per mapping kind, per granule
    4 * KiB: {"PUD": GiB, "CONT_PMD": 32 << 20, "PMD": 2 << 20, "CONT_PTE": 64 * KiB, "PTE": 4 * KiB},
    16 * KiB: {"CONT_PMD": GiB, "PMD": 32 << 20, "CONT_PTE": 2 << 20, "PTE": 16 * KiB},
    64 * KiB: {"CONT_PMD": 16 * GiB, "PMD": 512 << 20, "CONT_PTE": 2 << 20, "PTE": 64 * KiB},
}


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


def block_entry_sizes(ram: int, granule: int, values: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(entry size per kind, cumulative byte share) of the block arm after splits.

    The shares come from the exact page-table model (pagetables.compare) with
    the assumed number of permission changes and the KFENCE pool; each
    largest-block-sized chunk of RAM is then given one kind by a hash, so
    the byte shares match while every address keeps one entry size.
    """
    c = compare(ram, granule, kfence_pool=int(values["model.kfence_pool"]),
                perm_changes=int(values["model.perm_changes"]))
    mapped = c["mapped_bytes"]["block"]
    kinds = [k for k in KIND_SIZES[granule] if mapped.get(k)]
    sizes = np.array([KIND_SIZES[granule][k] for k in kinds], dtype=np.int64)
    share = np.cumsum([mapped[k] for k in kinds], dtype=float) / ram
    return sizes, share


def make_trace(wl: WorkloadProfile, values: dict[str, Any], *, ram: int, granule: int, arm: str,
               n_ops: int, seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(addresses, entry sizes, per-access region mask by region kind) for `n_ops` ops.

    The same seed gives the same pages in both arms: only entry sizes differ.
    """
    rng = np.random.default_rng(seed)
    nframes = ram // PAGE
    cols, kinds = [], []
    for ri, r in enumerate(wl.regions):
        base = f"workload.{wl.key}.regions.{r.name}"
        k = int(round(float(values[f"{base}.pages_per_op"])))
        if k <= 0:
            continue
        npages = max(1, int(values[f"{base}.footprint"]) // PAGE)
        ranks = zipf_ranks(rng, npages, n_ops * k, float(values[f"{base}.zipf"]))
        page = (ranks * _M1) % npages                       # hot ranks scattered over the footprint
        if r.kind == "linear":
            frame = (page * _M2 + ri * 7919) % nframes      # footprint scattered over RAM
            addr = frame * PAGE
        elif r.kind == "user":
            addr = USER_BASE + (ri << 40) + page * PAGE
        else:
            addr = FIXED_BASE + (ri << 40) + page * PAGE
        cols.append(addr.reshape(n_ops, k))
        kinds.append(np.full((n_ops, k), ri, dtype=np.int16))
    addrs = np.concatenate(cols, axis=1).ravel()
    region = np.concatenate(kinds, axis=1).ravel()
    sizes = np.empty_like(addrs)
    for ri, r in enumerate(wl.regions):
        m = region == ri
        if r.kind != "linear":
            sizes[m] = r.page_size
        elif arm == "pte":
            sizes[m] = granule
        else:
            ksz, share = block_entry_sizes(ram, granule, values)
            top = int(ksz.max())
            chunk = addrs[m] // top
            u = ((chunk * _M2) % 1_000_003) / 1_000_003.0
            sizes[m] = ksz[np.searchsorted(share, u, side="right").clip(0, len(ksz) - 1)]
    masks = {kind: np.isin(region, [i for i, r in enumerate(wl.regions) if r.kind == kind]) for kind in ("linear", "user", "fixed")}
    return addrs, sizes, masks
