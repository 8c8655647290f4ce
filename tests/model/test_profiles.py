"""CPU, workload and machine profiles: the shipped data is complete and honest; bad files fail clearly."""

from __future__ import annotations

import numpy as np
import pytest

from benchctl.errors import InputError, UsageError
from benchctl.model.arms import derived_mapping
from benchctl.model.profiles import Figure, apply_overrides, cpu_names, load_cpu, load_machine, load_workloads
from benchctl.model.targets import load_targets, model_kind

PROFILES = ["neoverse-n1", "neoverse-v1", "neoverse-v2", "neoverse-v3", "ampereone", "cortex-x4", "generic"]
# domain.md "Which CPUs get block mappings": (implementer, part, on the allow-list)
ALLOW = {
    "neoverse-n1": (0x41, 0xD0C, False),
    "neoverse-v1": (0x41, 0xD40, False),
    "neoverse-v2": (0x41, 0xD4F, False),
    "neoverse-v3": (0x41, 0xD84, True),
    "ampereone": (0xC0, 0xAC3, True),
    "cortex-x4": (0x41, 0xD82, True),
}


def test_all_profiles_ship():
    assert sorted(cpu_names()) == sorted(PROFILES)


@pytest.mark.parametrize("key", sorted(ALLOW))
def test_block_mapping_is_derived_from_the_midr(key):
    p = load_cpu(key)
    impl, part, listed = ALLOW[key]
    assert (p.midr_value >> 24, (p.midr_value >> 4) & 0xFFF) == (impl, part)
    assert (derived_mapping(p, "6.18.0").state == "block") is listed
    assert derived_mapping(p, "6.17.0").state == "pte"  # rodata=full without the series: PTEs everywhere


def test_n1_published_geometry():
    p = load_cpu("neoverse-n1")
    f = p.figures
    assert f["cpu.tlb.L1D.entries"].value == 48 and f["cpu.tlb.L1D.entries"].status == "published"
    assert f["cpu.tlb.L2.entries"].value == 1280 and f["cpu.l2_cycles"].value == 11
    assert (1 << 30) not in p.tlb[0].page_sizes and (1 << 30) in p.tlb[1].page_sizes


@pytest.mark.parametrize("key", PROFILES)
def test_every_number_is_published_measured_or_a_distribution(key):
    p = load_cpu(key)
    for name, fig in p.figures.items():
        assert fig.status in ("published", "measured", "assumed") and fig.source, name
        if fig.status == "assumed" and isinstance(fig.value, (int, float)) and not name.endswith("ways_note"):
            assert fig.uncertain, name
    # no official page-walk latency exists for any core (kernel.md section 5)
    assert p.figures["cpu.walk_fixed_ns"].status == "assumed"


def test_workload_and_machine_figures_are_all_sourced():
    figs = {k: f for w in load_workloads().values() for k, f in w.figures.items()}
    figs.update(load_machine())
    for name, fig in figs.items():
        assert fig.source, name
        if fig.status == "assumed":
            assert fig.uncertain, name


def test_distributions():
    rng = np.random.default_rng(1)
    u = Figure(2.0, "assumed", "s", 1.0, 4.0, "loguniform")
    x = u.sample(20000, rng)
    assert x.min() >= 1.0 and x.max() <= 4.0 and np.median(x) == pytest.approx(2.0, rel=0.03)
    assert u.quantile(0.5) == pytest.approx(2.0)
    t = Figure(3.0, "assumed", "s", 1.0, 4.0, "triangular")
    assert np.median(t.sample(20000, rng)) == pytest.approx(t.quantile(0.5), rel=0.02)
    n = Figure(10.0, "measured", "s", 0.0, None, "normal", 2.0)
    assert n.sample(20000, rng).std() == pytest.approx(2.0, rel=0.05)
    assert Figure(5, "published", "s").sample(3, rng).tolist() == [5.0, 5.0, 5.0]


def write(tmp_path, text):
    f = tmp_path / "p.toml"
    f.write_text(text)
    return f


GOOD = """
[x]
name = "X"
midr = { value = "0x410FD0C0", status = "published", source = "s" }
freq_ghz = { value = 3.0, low = 2, high = 4, dist = "uniform", status = "assumed", source = "s" }
l2_kib = { value = 1024, status = "published", source = "s" }
slc_mib = { value = 32, status = "published", source = "s" }
l2_cycles = { value = 11, status = "published", source = "s" }
slc_ns = { value = 30, low = 20, high = 40, dist = "uniform", status = "assumed", source = "s" }
dram_ns = { value = 90, low = 80, high = 100, dist = "uniform", status = "assumed", source = "s" }
walk_fixed_ns = { value = 6, low = 3, high = 15, dist = "loguniform", status = "assumed", source = "s" }
copy_walk_fraction = { value = 0.8, low = 0.5, high = 1, dist = "uniform", status = "assumed", source = "s" }
mlp = { value = 16, low = 8, high = 24, dist = "uniform", status = "assumed", source = "s" }
seq_copy_gbs = { value = 20, low = 10, high = 30, dist = "uniform", status = "assumed", source = "s" }
prefetch_boundary = { value = 0.5, low = 0, high = 1, dist = "uniform", status = "assumed", source = "s" }
[[x.tlb]]
name = "L1D"
entries = { value = 8, status = "published", source = "s" }
ways = { value = "full", status = "assumed", source = "s" }
page_sizes = { value = ["4K"], status = "assumed", source = "s" }
"""


def test_custom_profile_file(tmp_path):
    p = load_cpu("x", write(tmp_path, GOOD))
    assert p.figures["cpu.dram_ns"].uncertain and p.tlb[0].fully_associative


def test_unknown_profile_lists_known():
    with pytest.raises(InputError, match="unknown CPU profile 'm1'.*ampereone"):
        load_cpu("m1")


@pytest.mark.parametrize(
    "edit,match",
    [
        (
            lambda s: s.replace('l2_kib = { value = 1024, status = "published", source = "s" }\n', ""),
            "missing field.*l2_kib",
        ),
        (
            lambda s: s.replace('entries = { value = 8, status = "published", source = "s" }\n', ""),
            "missing field.*entries",
        ),
        (lambda s: s.replace('status = "published"', 'status = "guessed"'), "status must be"),
        (
            lambda s: s.replace(
                'l2_cycles = { value = 11, status = "published", source = "s" }',
                'l2_cycles = { value = 11, status = "published" }',
            ),
            "source note",
        ),
        (
            lambda s: s.replace(
                'slc_ns = { value = 30, low = 20, high = 40, dist = "uniform",', "slc_ns = { value = 30,"
            ),
            "needs a distribution",
        ),
        (lambda s: s.replace("value = 90, low = 80, high = 100", "value = 900, low = 80, high = 100"), "low <= value"),
        (lambda s: s.replace('dist = "loguniform"', 'dist = "cauchy"'), "dist must be"),
        (lambda s: s.replace('value = "0x410FD0C0"', 'value = "N1"'), "hexadecimal"),
        (lambda s: s.replace("[[x.tlb]]", "[[x.tlb]\n"), "not valid TOML"),
    ],
)
def test_bad_profile_files(tmp_path, edit, match):
    f = write(tmp_path, edit(GOOD))
    with pytest.raises(InputError, match=match) as e:
        load_cpu("x", f)
    assert str(f) in str(e.value) and "\n" not in str(e.value)


def test_workloads_ship_with_stages_and_regions():
    w = load_workloads()
    assert set(w) == {"memcached", "dmcrypt", "seqread"}
    assert [s.name for s in w["dmcrypt"].stages] == ["fio", "writeback", "encrypt", "submit"]
    assert w["memcached"].kind == "request" and w["seqread"].kind == "pipeline"
    assert w["seqread"].stages[0].regions[0].pattern == "stream"


def test_workload_missing_field(tmp_path):
    f = tmp_path / "w.toml"
    f.write_text('[a]\nkind = "request"\ndescription = "x"\nheadline = ["iops"]\n')
    with pytest.raises(InputError, match="missing field"):
        load_workloads(f)


def test_overrides_fix_a_figure():
    w = load_workloads()["memcached"]
    v = apply_overrides(
        w.figures, ["workload.memcached.server.regions.slab.footprint=2G", "workload.memcached.utilization=0.5"]
    )
    assert v["workload.memcached.server.regions.slab.footprint"].value == 2 << 30
    assert v["workload.memcached.utilization"].value == 0.5 and not v["workload.memcached.utilization"].uncertain
    with pytest.raises(UsageError, match="unknown model parameter"):
        apply_overrides(w.figures, ["nonsense=1"])
    with pytest.raises(UsageError, match="name=value"):
        apply_overrides(w.figures, ["workload.memcached.utilization"])
    with pytest.raises(UsageError, match=">= 0"):
        apply_overrides(w.figures, ["workload.memcached.utilization=-1"])


def test_model_reads_claims_through_the_one_claims_loader(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text(
        '[[claim]]\nid = "a"\nworkload = "memcached"\nmetric = "ops_per_sec"\ndirection = "increase"\nvalue = 3.5\n'
        '[[claim]]\nid = "b"\nworkload = "fio-dmcrypt"\nmetric = "iops"\ndirection = "increase"\nrange = [90, 150]\n'
    )
    claims, src = load_targets(f)
    assert [(c.id, c.kind, c.published) for c in claims] == [
        ("a", "memcached", (3.5, 3.5)),
        ("b", "dmcrypt", (90.0, 150.0)),
    ]
    assert model_kind("seqread-xfs") == "seqread" and model_kind("boot-memory") == "boot"
    bad = tmp_path / "bad.toml"
    bad.write_text('[[claim]]\nid = "a"\nworkload = "memcached"\nmetric = "ops_per_sec"\nvalue = 3.5\n')
    with pytest.raises(InputError, match="direction"):
        load_targets(bad)


def test_docs_list_every_number_with_its_source():
    from pathlib import Path

    from benchctl.model.profiles import number_table

    docs = (Path(__file__).resolve().parents[2] / "docs" / "model.md").read_text()
    assert number_table() in docs, "regenerate the number table in docs/model.md (number_table())"
