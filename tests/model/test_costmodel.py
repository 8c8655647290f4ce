"""The analytic mechanisms against the obviously-right reference simulator and against hand arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from benchctl.model import costmodel
from benchctl.model.arms import Model
from benchctl.model.profiles import load_cpu, load_machine, load_workloads
from benchctl.model.simulate import nominal
from benchctl.model.tlbsim import TLBLevel, simulate_reference
from benchctl.model.traces import leaf_lines, stage_trace


@pytest.fixture(scope="module")
def model():
    return Model(load_cpu("ampereone"), load_workloads(), load_machine())


def test_zipf_bins_hold_all_the_mass():
    counts, prob = costmodel.zipf_bins(np.array([1000.0, 1e6, 5.0]), np.array([0.0, 0.9, 1.0]))
    assert (counts * prob).sum(axis=1) == pytest.approx([1.0, 1.0, 1.0])
    assert counts.sum(axis=1) == pytest.approx([1000.0, 1e6, 5.0])
    assert prob[1, 0] > prob[1, -1]  # hot ranks first
    assert np.allclose(prob[0][counts[0] > 0], 1 / 1000)  # uniform


def test_che_time_solves_its_equation():
    counts = np.array([[100.0, 900.0]])
    rates = np.array([[0.5, 0.01]])
    stream = np.array([2.0])
    t = costmodel.che_time(counts, rates, stream, np.array([256.0]))
    lhs = (counts * (1 - np.exp(-rates * t[:, None]))).sum() + stream * t
    assert lhs == pytest.approx(256.0, rel=1e-6)
    assert np.isinf(costmodel.che_time(counts, rates, np.array([0.0]), np.array([2000.0])))[0]  # all fits


def _levels(model, v):
    return [
        TLBLevel(
            lv.name, int(v[f"cpu.tlb.{lv.name}.entries"][0]), int(v[f"cpu.tlb.{lv.name}.entries"][0]), lv.page_sizes
        )
        for lv in model.cpu.tlb
    ]


@pytest.mark.parametrize(
    "workload,stage", [("memcached", "server"), ("seqread", "read"), ("dmcrypt", "submit"), ("dmcrypt", "writeback")]
)
def test_walks_per_op_agree_with_the_reference_simulator(model, workload, stage):
    v = nominal(model)
    st = next(s for s in model.workloads[workload].stages if s.name == stage)
    base = f"workload.{workload}.{stage}"
    shares = costmodel.block_shares(model.ram, v["machine.perm_changes"], int(v["machine.kfence_pool"][0]))
    walks = {}
    for arm in ("pte", "block"):
        refs = costmodel.references(st, v, base, arm, model.ram, shares)
        pw = costmodel.walk_probability(refs, model.cpu, v)
        analytic = sum(float(g.count[0] * g.rate[0] * p[0]) for g, p in zip(refs.groups, pw, strict=True)) + sum(
            float(s[0]) for s in refs.streams.values()
        )
        scalar = {k: float(a[0]) for k, a in v.items()}
        n_ops = 6000
        addrs, sizes, _ = stage_trace(st, scalar, base, ram=model.ram, arm=arm, n_ops=n_ops, seed=3)
        per_op = len(addrs) // n_ops
        warm_ops = n_ops // 3
        ref = simulate_reference(addrs, sizes, _levels(model, v), warmup=warm_ops * per_op).walks / (n_ops - warm_ops)
        walks[arm] = (analytic, ref)
    a, r = walks["pte"]
    assert a == pytest.approx(r, rel=0.1)
    # the block arm walks little; the analytic form (mean rate per block entry) is checked in absolute terms
    assert abs(walks["block"][0] - walks["block"][1]) < 0.1 * r + 0.05


def test_a_stream_finds_a_new_leaf_line_once_per_8_pages(model):
    v = {k: float(a[0]) for k, a in nominal(model).items()}
    st = model.workloads["seqread"].stages[0]
    v["workload.seqread.read.regions.pagecache.folio"] = 2 << 20
    addrs, _, region = stage_trace(st, v, "workload.seqread.read", ram=model.ram, arm="pte", n_ops=4096, seed=1)
    lines = leaf_lines(addrs[region == 0])
    new = np.count_nonzero(np.diff(lines)) + 1
    assert new / len(lines) == pytest.approx(1 / 8, rel=0.02)


def test_restarts_only_where_translations_change(model):
    v = nominal(model)
    stream_pte, lost_pte = costmodel.data_time("copy", "stream", True, np.array([64.0]), v)
    stream_blk, lost_blk = costmodel.data_time("copy", "stream", False, np.array([64.0]), v)
    rand_pte, _ = costmodel.data_time("copy", "random", True, None, v)
    rand_blk, _ = costmodel.data_time("copy", "random", False, None, v)
    assert rand_pte == pytest.approx(rand_blk)  # a random page restarts in both arms
    assert stream_pte - stream_blk == pytest.approx(lost_pte)  # what the PTE arm loses, and only it
    assert lost_blk == 0 and lost_pte > 0
    # prefetch that never crosses 4 KiB in either arm: the PTE arm loses only the folio-boundary share less
    v0 = dict(v, **{"cpu.prefetch_boundary": np.array([0.0])})
    assert costmodel.data_time("copy", "stream", True, np.array([64.0]), v0)[1] == pytest.approx(0.0, abs=1e-9)


def test_walk_penalty_follows_residency():
    c = costmodel.Caches(
        np.array([100.0]), np.array([10000.0]), np.array([4.0]), np.array([40.0]), np.array([120.0]), np.array([5.0])
    )
    assert c.penalty(np.array([np.inf]))[0] == pytest.approx(9.0)  # always near: fixed + L2
    assert c.penalty(np.array([0.0]))[0] == pytest.approx(125.0)  # never seen: DRAM
    mid = c.penalty(np.array([1e-3]))[0]  # in the SLC mostly
    assert 9.0 < mid < 125.0
