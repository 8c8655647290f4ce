"""Claims files and verdicts."""

import warnings
from pathlib import Path

import numpy as np
import pytest

from benchctl.analyze.compare import compare
from benchctl.analyze.judge import judge
from benchctl.analyze.series import Series
from benchctl.analyze.stats import bootstrap
from benchctl.claims import Claim, load_claims, verdict
from benchctl.errors import InputError

REPO = Path(__file__).resolve().parents[2]


def test_bbml2_claims_file_loads_with_domain_ids():
    claims = {c.id: c for c in load_claims(REPO / "analysis/claims/bbml2.toml")}
    assert set(claims) == {
        "boot-memory",
        "boot-memory-total",
        "memcached-ops",
        "memcached-p99",
        "memcached-tlb",
        "dmcrypt-iops",
        "seqread-bw",
        "memcached-on-par",
        "boot-memory-scaling",
    }
    par, scaling = claims["memcached-on-par"], claims["boot-memory-scaling"]
    assert (par.kind, par.against, par.band) == ("equivalence", "noalias", (-1.0, 1.0))
    assert scaling.kind == "scaling" and scaling.unit == "kB/GiB RAM"
    assert scaling.lo == pytest.approx(516148 / 256, rel=1e-3)
    bm = claims["boot-memory"]
    assert bm.metric == "mem_free_kb" and bm.lo == pytest.approx(100 * (255410264 / 254821700 - 1), abs=5e-4)
    total = claims["boot-memory-total"]
    assert total.metric == "mem_total_kb" and total.lo == pytest.approx(100 * (259505132 / 258988984 - 1), abs=5e-4)
    assert bm.prediction == total.prediction == "pagetables"
    assert claims["memcached-p99"].lo == -9.6 and claims["memcached-p99"].direction == "decrease"
    assert (claims["dmcrypt-iops"].lo, claims["dmcrypt-iops"].hi) == (90.0, 150.0)
    assert claims["dmcrypt-iops"].workload == "fio-dmcrypt"
    assert claims["seqread-bw"].metric == "bandwidth_bytes_s"
    assert claims["memcached-tlb"].metric == "kernel_tlb_walk_mpki"


def write(tmp_path, body):
    p = tmp_path / "c.toml"
    p.write_text(body)
    return p


BASE = 'id = "x"\nworkload = "w"\nmetric = "m"\ndirection = "increase"\n'


@pytest.mark.parametrize(
    "body, words",
    [
        ("[[claim]]\n" + BASE + "value = 3\nspeed = 1\n", ["'speed'", "unknown key"]),
        ("[[claim]]\n" + BASE + 'value = "3"\n', ["value", "finite number"]),
        ("[[claim]]\n" + BASE + 'value = 3\ntolerance = "1"\n', ["tolerance"]),
        ("[[claim]]\n" + BASE + "value = -3\n", ["positive"]),
        ("[[claim]]\n" + BASE + "value = 3\nrange = [1, 2]\n", ["exactly one"]),
        ("[[claim]]\n" + BASE + "range = [1]\n", ["range"]),
        ('[[claim]]\nid = "x"\nworkload = "w"\ndirection = "increase"\nvalue = 1\n', ["missing key 'metric'"]),
        ("[[claim]]\n" + BASE.replace("increase", "up") + "value = 3\n", ["direction"]),
        ("colour = 1\n[[claim]]\n" + BASE + "value = 3\n", ["top-level", "'colour'"]),
        ("[[claim]]\n" + BASE + "value = 3\n[[claim]]\n" + BASE + "value = 4\n", ["duplicate"]),
        ("[[claim]\n", ["not valid TOML"]),
        ('format = "benchctl-claims/2"\n[[claim]]\n' + BASE + "value = 3\n", ["format"]),
    ],
)
def test_bad_claims_name_file_and_key(tmp_path, body, words):
    p = write(tmp_path, body)
    with pytest.raises(InputError) as e:
        load_claims(p)
    msg = str(e.value)
    assert str(p) in msg and "\n" not in msg
    for w in words:
        assert w in msg


def test_default_tolerance_is_quarter_of_magnitude(tmp_path):
    c = load_claims(write(tmp_path, "[[claim]]\n" + BASE + "range = [90, 150]\n"))[0]
    assert c.tolerance == 22.5 and c.band == (67.5, 172.5)


INC = Claim("c", "w", "m", "increase", 3.5, 3.5, 1.0)  # band [2.5, 4.5]
DEC = Claim("d", "w", "m", "decrease", -9.6, -9.6, 2.0)  # band [-11.6, -7.6]
RNG = Claim("r", "w", "m", "increase", 90, 150, 10)  # band [80, 160]


@pytest.mark.parametrize(
    "claim, lo, hi, expected",
    [
        (INC, 2.0, 5.0, "confirmed"),
        (INC, 0.5, 2.0, "smaller-than-claimed"),
        (INC, 5.0, 9.0, "larger-than-claimed"),
        (INC, -1.0, 2.0, "not-reproduced"),
        (INC, -3.0, -1.0, "reversed"),
        (INC, -1.0, 3.0, "inconclusive"),
        (DEC, -10.0, -8.0, "confirmed"),
        (DEC, -5.0, -1.0, "smaller-than-claimed"),
        (DEC, -20.0, -13.0, "larger-than-claimed"),
        (DEC, -5.0, 1.0, "not-reproduced"),
        (DEC, 1.0, 4.0, "reversed"),
        (DEC, -9.0, 0.5, "inconclusive"),
        (RNG, 40.0, 79.0, "smaller-than-claimed"),
        (RNG, 100.0, 120.0, "confirmed"),
        (RNG, 161.0, 200.0, "larger-than-claimed"),
    ],
)
def test_verdict_table(claim, lo, hi, expected):
    assert verdict(claim, lo, hi) == expected


def series(groups, notes=frozenset()):
    a = bootstrap.Arm.from_groups([np.asarray(g, float) for g in groups])
    return Series(a, [f"b{i}" for i in range(len(groups))], a.num, set(notes), "us")


def comp(base, cand, metric="p99_latency_us", evidence=None):
    return compare(
        "memcached",
        metric,
        base,
        cand,
        confidence=0.95,
        seed=0,
        resamples=2000,
        baseline="pte",
        candidate="block",
        is_ratio=False,
        evidence=evidence,
    )


def test_coarse_p99_is_not_judged():
    rng = np.random.default_rng(0)
    note = '{"latency_resolution": "coarse-pow2"}'
    base = series([128 + rng.normal(0, 1, 10) for _ in range(5)], {note})
    cand = series([100 + rng.normal(0, 1, 10) for _ in range(5)], {note})
    c = Claim("memcached-p99", "memcached", "p99_latency_us", "decrease", -9.6, -9.6, 2.4)
    row = judge([c], {("memcached", "p99_latency_us"): comp(base, cand)}, 0.95, 300, 10)[0]
    assert row["verdict"] == "not-judged"
    assert "coarse-pow2" in row["warnings"][0] and row["warnings"][0].startswith("not judged")


def test_holm_holds_back_a_marginal_effect():
    rng = np.random.default_rng(0)
    base = series([100 + rng.normal(0, 1, 10) for _ in range(6)])
    cand = series([103.5 + rng.normal(0, 1, 10) for _ in range(6)])
    c = comp(base, cand, "m")
    c["p_value"], c["ci_pct"] = 0.03, [0.5, 6.0]  # raw effect, but four claims in the family
    comps = {("memcached", "m"): c}
    claims = [Claim(f"c{i}", "memcached", "m", "increase", 3.5, 3.5, 1.0) for i in range(4)]
    rows = judge(claims, comps, 0.95, 300, 10)
    assert all(r["p_adjusted"] == pytest.approx(0.12) for r in rows)
    assert all(r["verdict"] == "inconclusive" for r in rows)
    assert "Holm" in rows[0]["warnings"][0] and "raw verdict: confirmed" in rows[0]["warnings"][0]
    assert rows[0]["decide"]["boots_per_arm"] >= 2


def test_one_boot_per_arm_gets_no_verdict_of_any_kind():
    """Iterations of one boot per arm: not confirmed, and not "not-reproduced" either (issue 13)."""
    rng = np.random.default_rng(0)
    for level in (110.0, 80.0, 100.0):  # effect, reversed, nothing: never a verdict
        base = series([100 + rng.normal(0, 1, 30)])
        cand = series([level + rng.normal(0, 1, 30)])
        c = comp(base, cand, "m")
        row = judge([Claim("x", "memcached", "m", "increase", 10, 10, 2)], {("memcached", "m"): c}, 0.95, 300, 10)[0]
        assert row["verdict"] == "not-judged"
        assert row["warnings"][0].startswith("not judged: one boot per arm")
        assert row["ci_pct"] is not None  # the numbers are still shown


def test_missing_data_claim_is_not_judged_with_reason():
    row = judge([INC], {}, 0.95, 300, 10)[0]
    assert row["verdict"] == "not-judged" and "no m data" in row["warnings"][0]


def test_interval_on_the_wrong_side_is_reversed_not_not_reproduced():
    rng = np.random.default_rng(2)
    base = series([100 + rng.normal(0, 0.5, 10) for _ in range(6)])
    cand = series([95 + rng.normal(0, 0.5, 10) for _ in range(6)])
    row = judge(
        [Claim("x", "memcached", "m", "increase", 3.5, 3.5, 0.9)],
        {("memcached", "m"): comp(base, cand, "m")},
        0.95,
        300,
        10,
    )[0]
    assert row["verdict"] == "reversed" and row["ci_pct"][1] < 0


def test_identical_boots_are_duplicate_data_never_a_confirmation():
    """The same value in every boot (one file imported three times) gives no verdict and no raw scipy warning."""
    base = series([[67493.3]] * 3)
    cand = series([[134986.6]] * 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a library warning leaking would fail here
        c = comp(base, cand, "iops")
    row = judge(
        [Claim("dmcrypt-iops", "memcached", "iops", "increase", 90, 150, 22.5)],
        {("memcached", "iops"): c},
        0.95,
        300,
        10,
    )[0]
    assert row["verdict"] == "not-judged"
    assert row["warnings"][0].startswith("not judged: duplicate data: all 3 boots of pte")


def test_claim_setup_must_match_what_the_data_measured():
    rng = np.random.default_rng(4)
    note = '{"crypt": "none", "op": "write"}'
    base = series([100 + rng.normal(0, 1, 5) for _ in range(4)], {note})
    cand = series([200 + rng.normal(0, 1, 5) for _ in range(4)], {note})
    c = Claim("dmcrypt-iops", "fio-dmcrypt", "iops", "increase", 90, 150, 22.5, setup=(("crypt", "dm-crypt"),))
    row = judge([c], {("fio-dmcrypt", "iops"): comp(base, cand, "iops")}, 0.95, 300, 10)[0]
    assert row["verdict"] == "not-judged" and "crypt=dm-crypt" in row["warnings"][0]
    assert "crypt=none" in row["warnings"][0]


def test_resolution_applies_to_percentiles_only():
    rng = np.random.default_rng(0)
    note = '{"latency_resolution": "coarse-pow2"}'
    base = series([100 + rng.normal(0, 1, 10) for _ in range(5)], {note})
    cand = series([103.5 + rng.normal(0, 1, 10) for _ in range(5)], {note})
    c = Claim("memcached-ops", "memcached", "ops_per_sec", "increase", 3.5, 3.5, 0.9)
    row = judge([c], {("memcached", "ops_per_sec"): comp(base, cand, "ops_per_sec")}, 0.95, 300, 10)[0]
    assert not any("not judged" in w for w in row["warnings"])


def test_identical_values_of_a_noisy_metric_are_a_copy_without_evidence_and_no_spread_with_it():
    bare = comp(series([[100.0], [100.0]]), series([[101.0], [102.0]]), "mem_free_kb")
    assert bare["not_judged"][0].startswith("duplicate data: all 2 boots of pte")
    shown = comp(series([[100.0], [100.0]]), series([[101.0], [102.0]]), "mem_free_kb", {"pte": "distinct raw outputs"})
    assert (
        shown["not_judged"][0].startswith("no spread: all 2 boots of pte")
        and "distinct raw outputs" in (shown["not_judged"][0])
    )


def test_a_fully_cached_file_on_every_pass_is_exact_not_a_copy():
    ev = {"pte": "distinct raw outputs", "block": "distinct raw outputs"}
    c = comp(series([[1.0, 1.0], [1.0, 1.0]]), series([[1.0, 1.0], [1.0, 1.0]]), "resident_fraction", ev)
    assert not c["not_judged"] and c["exact"]["baseline"] == 1.0 and c["ci_pct"] == [0.0, 0.0]


def test_bundled_claims_by_name_and_by_the_hinted_path_from_anywhere(tmp_path, monkeypatch):
    from benchctl.claims import bundled_names, resolve_claims

    monkeypatch.chdir(tmp_path)  # outside the checkout: the relative path does not exist here
    assert "bbml2" in bundled_names()
    by_name = resolve_claims("bbml2")
    assert by_name.is_file() and by_name.name == "bbml2.toml"
    assert resolve_claims("analysis/claims/bbml2.toml").resolve() == by_name.resolve()
    assert [c.id for c in load_claims("bbml2")] == [c.id for c in load_claims(REPO / "analysis/claims/bbml2.toml")]
    mine = tmp_path / "bbml2"  # a file the user names wins over the bundled name
    mine.write_text((REPO / "analysis/claims/bbml2.toml").read_text())
    assert resolve_claims("bbml2") == Path("bbml2")
    with pytest.raises(InputError, match=r"no claims file 'nosuch'.*bundled name \(bbml2\)"):
        resolve_claims("nosuch")
    with pytest.raises(InputError, match="no claims file"):
        resolve_claims("elsewhere/claims.toml")
