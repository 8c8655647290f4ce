"""CPU and workload profiles: the shipped data is complete and honest; bad files fail clearly."""

from __future__ import annotations

import pytest

from benchctl.errors import InputError, UsageError
from benchctl.model.targets import load_claims, model_kind
from benchctl.model.profiles import apply_overrides, cpu_names, load_cpu, load_workloads

PROFILES = ["neoverse-n1", "neoverse-v1", "neoverse-v2", "neoverse-v3", "ampereone", "cortex-x4", "generic"]
# domain.md "Which CPUs get block mappings": (implementer, part, on the allow-list)
ALLOW = {"neoverse-n1": (0x41, 0xD0C, False), "neoverse-v1": (0x41, 0xD40, False), "neoverse-v2": (0x41, 0xD4F, False),
         "neoverse-v3": (0x41, 0xD84, True), "ampereone": (0xC0, 0xAC3, True), "cortex-x4": (0x41, 0xD82, True)}


def test_all_profiles_ship():
    assert sorted(cpu_names()) == sorted(PROFILES)


@pytest.mark.parametrize("key", sorted(ALLOW))
def test_midr_and_allow_list_match_domain(key):
    p = load_cpu(key)
    midr = int(p.midr.value, 16)
    impl, part, listed = ALLOW[key]
    assert (midr >> 24, (midr >> 4) & 0xFFF) == (impl, part)
    assert p.on_allow_list is listed
    assert p.bbml2_noabort.status == "published"


def test_n1_published_geometry():
    p = load_cpu("neoverse-n1")
    f = p.figures
    assert f["cpu.tlb.L1D.entries"].value == 48 and f["cpu.tlb.L1D.entries"].status == "published"
    assert f["cpu.tlb.L2.entries"].value == 1280 and f["cpu.tlb.L2.ways"].value == 5
    levels = p.tlb_levels({k: v.value for k, v in f.items()})
    assert levels[0].sets == 1 and levels[1].sets == 256
    assert (1 << 30) not in levels[0].page_sizes and (1 << 30) in levels[1].page_sizes


@pytest.mark.parametrize("key", PROFILES)
def test_every_figure_has_provenance_and_walk_cost_is_assumed(key):
    p = load_cpu(key)
    for name, fig in p.figures.items():
        assert fig.status in ("published", "assumed") and fig.source, name
    # no official page-walk latency exists for any core (kernel.md section 5)
    assert p.figures["cpu.walk_cycles"].status == "assumed"


def test_ampereone_geometry_is_assumed_except_page_sizes():
    p = load_cpu("ampereone")
    assert p.figures["cpu.tlb.L2.entries"].status == "assumed"
    assert p.page_sizes["L1D"].status == "published"


def write(tmp_path, text):
    f = tmp_path / "p.toml"
    f.write_text(text)
    return f


GOOD = """
[x]
name = "X"
midr = { value = "0x410FD0C0", status = "published", source = "s" }
bbml2_noabort = { value = true, status = "assumed", source = "s" }
freq_ghz = { value = 3.0, status = "assumed", source = "s" }
walk_cycles = { value = 30, low = 10, high = 50, status = "assumed", source = "s" }
mem_latency_ns = { value = 100, status = "assumed", source = "s" }
[[x.tlb]]
name = "L1D"
entries = { value = 8, status = "assumed", source = "s" }
ways = { value = "full", status = "assumed", source = "s" }
page_sizes = { value = ["4K"], status = "assumed", source = "s" }
"""


def test_custom_profile_file(tmp_path):
    p = load_cpu("x", write(tmp_path, GOOD))
    assert p.on_allow_list and p.figures["cpu.walk_cycles"].sweepable


def test_unknown_profile_lists_known():
    with pytest.raises(InputError, match="unknown CPU profile 'm1'.*ampereone"):
        load_cpu("m1")


@pytest.mark.parametrize("edit,match", [
    (lambda s: s.replace('freq_ghz = { value = 3.0, status = "assumed", source = "s" }\n', ""), "missing field.*freq_ghz"),
    (lambda s: s.replace('entries = { value = 8, status = "assumed", source = "s" }\n', ""), "missing field.*entries"),
    (lambda s: s.replace('status = "published"', 'status = "guessed"'), "status must be"),
    (lambda s: s.replace('walk_cycles = { value = 30, low = 10, high = 50, status = "assumed", source = "s" }',
                         'walk_cycles = { value = 30, status = "assumed" }'), "source note"),
    (lambda s: s.replace('walk_cycles = { value = 30, low = 10, high = 50,', 'walk_cycles = { value = 300, low = 10, high = 50,'), "outside"),
    (lambda s: s.replace('[[x.tlb]]', '[[x.tlb]\n'), "not valid TOML"),
])
def test_bad_profile_files(tmp_path, edit, match):
    f = write(tmp_path, edit(GOOD))
    with pytest.raises(InputError, match=match) as e:
        load_cpu("x", f)
    assert str(f) in str(e.value) and "\n" not in str(e.value)


def test_workloads_ship_and_describe_regions():
    w = load_workloads()
    assert set(w) == {"memcached", "dmcrypt", "seqread"}
    assert {r.name for r in w["dmcrypt"].regions} >= {"userbuf", "pagecache", "cryptbuf", "ramdisk"}
    assert [r.kind for r in w["seqread"].regions][0] == "linear"
    for wl in w.values():
        for name, fig in wl.figures.items():
            assert fig.status == "assumed" and fig.source, name  # nothing about these workloads is published


def test_workload_missing_field(tmp_path):
    f = tmp_path / "w.toml"
    f.write_text('[a]\ndescription = "x"\nheadline = ["iops"]\n')
    with pytest.raises(InputError, match="missing field"):
        load_workloads(f)


def test_overrides():
    w = load_workloads()["memcached"]
    v = apply_overrides(w.figures, ["workload.memcached.regions.slab.footprint=2G", "workload.memcached.utilization=0.5"])
    assert v["workload.memcached.regions.slab.footprint"] == 2 << 30 and v["workload.memcached.utilization"] == 0.5
    with pytest.raises(UsageError, match="unknown model parameter"):
        apply_overrides(w.figures, ["nonsense=1"])
    with pytest.raises(UsageError, match="name=value"):
        apply_overrides(w.figures, ["workload.memcached.utilization"])
    with pytest.raises(UsageError, match="negative"):
        apply_overrides(w.figures, ["workload.memcached.utilization=-1"])


def test_model_reads_claims_through_the_one_claims_loader(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text('[[claim]]\nid = "a"\nworkload = "memcached"\nmetric = "ops_per_sec"\ndirection = "increase"\nvalue = 3.5\n'
                 '[[claim]]\nid = "b"\nworkload = "fio-dmcrypt"\nmetric = "iops"\ndirection = "increase"\nrange = [90, 150]\n')
    claims, src = load_claims(f)
    assert [(c.id, c.kind, c.published) for c in claims] == [("a", "memcached", (3.5, 3.5)), ("b", "dmcrypt", (90.0, 150.0))]
    assert model_kind("seqread-xfs") == "seqread" and model_kind("boot-memory") == "boot"
    bad = tmp_path / "bad.toml"
    bad.write_text('[[claim]]\nid = "a"\nworkload = "memcached"\nmetric = "ops_per_sec"\nvalue = 3.5\n')
    with pytest.raises(InputError, match="direction"):
        load_claims(bad)
