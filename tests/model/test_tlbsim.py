"""TLB simulator: the reference on hand-worked traces, the fast path against the reference."""

from __future__ import annotations

import numpy as np
import pytest

from benchctl.model.tlbsim import ReferenceTLB, TLBLevel, simulate_fast, simulate_reference

K, M, G = 4096, 1 << 20, 1 << 30


def test_fully_associative_lru_by_hand():
    # 2-entry fully associative: A B A C B -> miss miss hit miss(evicts B, the LRU) miss
    t = ReferenceTLB([TLBLevel("L1", 2, 2, (K,))])
    pages = [0, 1, 0, 2, 1]
    assert [t.access(p * K, K) for p in pages] == [1, 1, 0, 1, 1]


def test_set_associative_index_by_hand():
    # 4 entries, 2 ways -> 2 sets; pages 0,2,4 share set 0, page 1 is set 1
    t = ReferenceTLB([TLBLevel("L1", 4, 2, (K,))])
    seq = [0, 2, 1, 4, 0, 1, 2]
    # 0 m, 2 m, 1 m, 4 m (evicts 0), 0 m (evicts 2), 1 hit, 2 m
    assert [t.access(p * K, K) for p in seq] == [1, 1, 1, 1, 1, 0, 1]


def test_two_levels_fill_and_hit_in_l2():
    l1 = TLBLevel("L1", 1, 1, (K,))
    l2 = TLBLevel("L2", 4, 4, (K,))
    t = ReferenceTLB([l1, l2])
    # A walk, B walk (L1 now B), A hits L2 and refills L1, A hits L1
    assert [t.access(p * K, K) for p in [0, 1, 0, 0]] == [2, 2, 1, 0]


def test_page_sizes_and_splintering():
    # L1 holds 4K and 2M only: a 1G mapping is splintered into 2M entries;
    # L2 holds 1G, so two addresses 4 MiB apart in one 1G block hit L2.
    l1 = TLBLevel("L1", 1, 1, (K, 2 * M))
    l2 = TLBLevel("L2", 2, 2, (K, 2 * M, G))
    t = ReferenceTLB([l1, l2])
    assert t.access(0, G) == 2  # walk
    assert t.access(100 * K, G) == 0  # same 2M splinter in L1
    assert t.access(4 * M, G) == 1  # other 2M splinter: L1 miss, L2 (1G entry) hit
    assert t.access(4 * M + K, G) == 0
    # with 4K mappings every page is its own entry
    t = ReferenceTLB([l1, l2])
    assert [t.access(a, K) for a in (0, K, 0)] == [2, 2, 1]


def test_reference_result_counts():
    r = simulate_reference([0, K, 0, 2 * K, K], [K] * 5, [TLBLevel("L1", 2, 2, (K,))])
    assert r.accesses == 5 and r.walks == 4 and r.hits == [1.0] and r.miss_ratio == pytest.approx(0.8)


def test_level_validation():
    with pytest.raises(ValueError):
        TLBLevel("bad", 10, 3, (K,))


N1 = [TLBLevel("L1D", 48, 48, (K, 64 * 1024, 2 * M)), TLBLevel("L2", 1280, 5, (K, 64 * 1024, 2 * M, 32 * M, G))]
AMPERE_LIKE = [
    TLBLevel("L1D", 64, 64, (K, 64 * 1024, 2 * M, 32 * M, G)),
    TLBLevel("L2", 2048, 8, (K, 64 * 1024, 2 * M, 32 * M, G)),
]


def irm_trace(seed: int, n: int, npages: int, zipf: float, mapping: str):
    """Independent draws (the model's own trace kind) over pages scattered in 16 GiB."""
    rng = np.random.default_rng(seed)
    if zipf > 0:
        p = np.arange(1, npages + 1, dtype=float) ** -zipf
        idx = rng.choice(npages, n, p=p / p.sum())
    else:
        idx = rng.integers(0, npages, n)
    frames = rng.permutation(1 << 22)[:npages].astype(np.int64)
    addrs = frames[idx] * K
    sizes = {
        "4K": np.full(n, K),
        "1G": np.full(n, G),
        "2M": np.full(n, 2 * M),
        "mixed": np.where(addrs % G < G // 2, 2 * M, K),
    }[mapping]
    return addrs, sizes


TRACES = [
    (1, 60000, 20000, 0.9, "4K"),
    (2, 60000, 5000, 0.6, "4K"),
    (3, 60000, 200000, 0.0, "2M"),
    (4, 60000, 50000, 1.0, "mixed"),
    (5, 60000, 100000, 0.0, "1G"),
    (6, 60000, 3000, 0.0, "4K"),
]


@pytest.mark.parametrize("levels", [N1, AMPERE_LIKE], ids=["n1", "ampere-like"])
@pytest.mark.parametrize("trace", TRACES, ids=[f"t{t[0]}" for t in TRACES])
def test_fast_agrees_with_reference_within_2pct(levels, trace):
    a, s = irm_trace(*trace)
    ref = simulate_reference(a, s, levels)
    fast = simulate_fast(a, s, levels)
    assert abs(fast.miss_ratio - ref.miss_ratio) <= 0.02 * max(ref.miss_ratio, 1e-3), (ref.miss_ratio, fast.miss_ratio)


def test_fast_steady_state_has_no_compulsory_misses():
    a, s = irm_trace(7, 20000, 100, 0.0, "4K")
    assert simulate_fast(a, s, N1, cold=False).walks == pytest.approx(0.0, abs=1e-9)
    assert simulate_fast(a, s, N1, cold=True).walks == pytest.approx(100.0)


def test_warmup_counts_only_later_accesses():
    a, s = irm_trace(8, 120000, 3000, 0.5, "4K")
    ref = simulate_reference(a, s, N1, warmup=40000)
    fast = simulate_fast(a, s, N1, warmup=40000)
    assert ref.accesses == fast.accesses == 80000
    assert abs(fast.miss_ratio - ref.miss_ratio) <= 0.02 * ref.miss_ratio
    assert ref.walks < simulate_reference(a, s, N1).walks
