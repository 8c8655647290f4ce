"""simulate: run folders in the standard format, all marked simulated; calibrate recovers the model."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchctl.errors import InputError, UsageError
from benchctl.model.calibrate import calibrate
from benchctl.model.predict import Model
from benchctl.model.profiles import load_cpu, load_machine, load_workloads
from benchctl.model.simulate import nominal, simulate
from benchctl.model.simvalues import MEMORY_NOISE
from benchctl.osutil.fsutil import read_jsonl
from benchctl.results.store import RunFolder


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    paths = simulate("ampereone", out, arms=["pte", "block"], boots=3, iterations=4, seed=7)
    return out, paths


def test_one_folder_per_arm_boot_workload(sim_dir):
    out, paths = sim_dir
    assert len(paths) == 2 * 3 * 4
    names = {(RunFolder.open(p).manifest["arm"], RunFolder.open(p).manifest["workload"]) for p in paths}
    assert names == {
        (a, w) for a in ("pte", "block") for w in ("boot-memory", "memcached", "fio-dmcrypt", "seqread-xfs")
    }


def test_everything_is_marked_simulated(sim_dir):
    _, paths = sim_dir
    for p in paths:
        run = json.loads((p / "run.json").read_text())
        assert run["status"] == "simulated" and run["simulated"] is True and run["format"] == "benchctl-run/1"
        for which in ("env-before.json", "env-after.json"):
            env = json.loads((p / which).read_text())
            assert env["simulated"] is True and env["format"] == "benchctl-env/1"
            assert env["linear_map"]["state"] == run["arm"]
            assert env["boot"]["id"] == run["boot_id"]
            assert any("SIMULATED" in w for w in env["warnings"])
        recs, skipped = read_jsonl(p / "records.jsonl")
        assert recs and not skipped and all(r["simulated"] is True for r in recs)


def test_boot_ids_distinct_per_boot_shared_within(sim_dir):
    _, paths = sim_dir
    by_boot: dict[tuple, set] = {}
    for p in paths:
        m = RunFolder.open(p).manifest
        by_boot.setdefault((m["arm"], m["spec"]["boot"]), set()).add(m["boot_id"])
    assert all(len(ids) == 1 for ids in by_boot.values())  # one boot runs all workloads
    assert len({next(iter(ids)) for ids in by_boot.values()}) == 6


def test_counters_rebuild_the_nominal_mpki(sim_dir):
    _, paths = sim_dir
    sums = {"pte": [0.0, 0.0], "block": [0.0, 0.0]}
    for p in paths:
        m = RunFolder.open(p).manifest
        if m["workload"] != "memcached":
            continue
        recs, _ = read_jsonl(p / "records.jsonl")
        for r in recs:
            if r["metric"] in ("dtlb_walk_k", "itlb_walk_k"):
                sums[m["arm"]][0] += r["value"]
            elif r["metric"] == "inst_retired_k":
                sums[m["arm"]][1] += r["value"]
    model = Model(load_cpu("ampereone"), load_workloads(), load_machine())
    arms = model.workload("memcached", nominal(model))
    for arm in ("pte", "block"):
        mpki = 1000 * sums[arm][0] / sums[arm][1]
        assert mpki == pytest.approx(float(arms[arm].mpki[0]), rel=0.03)


def test_boot_memory_records_memtotal_and_memfree(sim_dir):
    _, paths = sim_dir
    vals = {}
    for p in paths:
        m = RunFolder.open(p).manifest
        if m["workload"] == "boot-memory":
            recs, _ = read_jsonl(p / "records.jsonl")
            vals[m["arm"]] = {r["metric"]: r["value"] for r in recs}
    d_total = vals["block"]["mem_total_kb"] - vals["pte"]["mem_total_kb"]
    d_free = vals["block"]["mem_free_kb"] - vals["pte"]["mem_free_kb"]
    assert 515_000 < d_total < 526_000 and d_free < d_total


def _boot_memory(paths) -> dict[str, list[dict[str, float]]]:
    """arm -> one {metric: value} per simulated boot, in boot order."""
    out: dict[str, list[dict[str, float]]] = {}
    for p in paths:
        m = RunFolder.open(p).manifest
        if m["workload"] == "boot-memory":
            recs, _ = read_jsonl(p / "records.jsonl")
            out.setdefault(m["arm"], []).append({r["metric"]: r["value"] for r in recs})
    return out


def test_boot_memory_noise_where_real_boots_have_it(sim_dir):
    """MemTotal exact on every boot of an arm (as real kexec boots gave it); MemFree differs boot to boot."""
    _, paths = sim_dir
    model = Model(load_cpu("ampereone"), load_workloads(), load_machine())
    sd_kb = float(nominal(model)[MEMORY_NOISE][0]) / 1024
    assert 4_000 < sd_kb < 100_000  # the documented figure: 5..100 MB, median about 22 MB
    for arm, boots in _boot_memory(paths).items():
        assert len(boots) == 3
        assert len({b["mem_total_kb"] for b in boots}) == 1, arm
        free = [b["mem_free_kb"] for b in boots]
        assert len(set(free)) == 3 and all(float(x).is_integer() for x in free), arm  # whole kB, as meminfo
        assert np.ptp(free) < 8 * sd_kb, (arm, free)
        # every workload's fingerprint of a boot carries that boot's memory
        fps = [
            json.loads((p / "env-before.json").read_text())["memory"]["free_kb"]
            for p in paths
            if RunFolder.open(p).manifest["arm"] == arm
        ]
        assert set(fps) == set(free)


def test_no_memory_noise_when_the_figure_is_set_to_zero(tmp_path):
    paths = simulate(
        "ampereone",
        tmp_path,
        arms=["pte"],
        boots=2,
        iterations=1,
        workloads=["boot"],
        overrides=["machine.boot_noise_sd=0"],
    )
    assert len({b["mem_free_kb"] for b in _boot_memory(paths)["pte"]}) == 1


def test_a_ram_size_the_machine_figures_do_not_fit_is_refused(tmp_path):
    """The figures describe a large server (GBs in use after boot): 2 GiB would give a negative MemFree."""
    with pytest.raises(
        UsageError, match=r"--ram 2 GiB: .*\(machine\.used_after_boot\).*--set machine\.used_after_boot="
    ):
        simulate("ampereone", tmp_path, arms=["pte"], boots=1, iterations=1, workloads=["boot"], ram=2 << 30)
    small = ["machine.used_after_boot=100M", "machine.boot_noise_sd=2M"]
    paths = simulate(
        "ampereone", tmp_path, arms=["pte"], boots=2, iterations=1, workloads=["boot"], ram=2 << 30, overrides=small
    )
    assert all(0 < b["mem_free_kb"] < b["mem_total_kb"] < 2 << 20 for b in _boot_memory(paths)["pte"])


def test_a_simulated_campaign_gets_a_verdict_on_both_memory_claims(tmp_path):
    """analyze on 4 simulated boots per arm: MemTotal judged exactly, MemFree with an interval (issue 13 + 12)."""
    simulate("ampereone", tmp_path, arms=["pte", "block"], boots=4, iterations=2, workloads=["boot"])
    claims = Path(__file__).resolve().parents[2] / "analysis" / "claims" / "bbml2.toml"
    r = subprocess.run(
        [sys.executable, "-m", "benchctl", "analyze", str(tmp_path), "--baseline", "pte", "--candidate", "block"]
        + ["--claims", str(claims), "--format", "json", "--resamples", "500"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    doc = {c["id"]: c for c in json.loads(r.stdout)["claims"]}
    total, free = doc["boot-memory-total"], doc["boot-memory"]
    assert total["verdict"] == "confirmed" and total["exact"] and total["ci_pct"][0] == total["ci_pct"][1]
    assert free["verdict"] == "confirmed" and not free["exact"] and free["ci_pct"][0] < free["ci_pct"][1]


def test_off_allow_list_block_arm_is_pte_mapped(tmp_path):
    paths = simulate("neoverse-n1", tmp_path, arms=["block"], boots=1, iterations=1, workloads=["memcached"])
    env = json.loads((paths[0] / "env-before.json").read_text())
    assert env["linear_map"]["state"] == "pte" and env["cpu"]["bbml2_noabort"] is False


def test_bad_arguments(tmp_path):
    with pytest.raises(UsageError):
        simulate("ampereone", tmp_path, arms=["huge"], boots=1, iterations=1)
    with pytest.raises(UsageError):
        simulate("ampereone", tmp_path, arms=["pte"], boots=0, iterations=1)
    with pytest.raises(InputError, match="unknown CPU profile"):
        simulate("pentium", tmp_path, arms=["pte"], boots=1, iterations=1)


def test_counter_fit_has_standard_errors(tmp_path):
    paths = simulate("ampereone", tmp_path, arms=["pte", "block"], boots=2, iterations=3, workloads=["memcached"])
    r = calibrate(paths)
    assert r["simulated"] is True and r["source"] == "perf counters"
    fit = r["fits"][0]
    assert fit["cycles_per_walk"]["mean"] > 0 and 0 < fit["cycles_per_walk"]["se"] < fit["cycles_per_walk"]["mean"]


def test_calibrate_needs_counters(tmp_path):
    f = RunFolder.create(tmp_path, host="h", workload="memcached", arm="pte", run_id="r1")
    f.record(0, "ops_per_sec", 1000.0, "ops/s")
    with pytest.raises(InputError, match="dtlb_walk_k, inst_retired_k, cycles_k") as e:
        calibrate([f.path])
    assert "ops_per_sec" in str(e.value) and "\n" not in str(e.value)


def test_calibrate_refuses_one_arm_or_arms_that_do_not_differ(tmp_path):
    paths = simulate("ampereone", tmp_path / "a", arms=["pte"], boots=2, iterations=2, workloads=["seqread"])
    with pytest.raises(InputError, match="both arms"):
        calibrate(paths)
    # off the allow-list both arms are PTE-mapped: walk rates equal up to noise, nothing to fit
    paths = simulate(
        "neoverse-n1", tmp_path / "b", arms=["pte", "block"], boots=2, iterations=3, workloads=["memcached"]
    )
    with pytest.raises(InputError, match="do not differ|not resolved"):
        calibrate(paths)


@pytest.mark.skipif(
    importlib.util.find_spec("benchctl.commands.analyze") is None,
    reason="benchctl.commands.analyze cannot be imported (analyze not written yet)",
)
def test_simulated_output_goes_through_analyze_and_report(sim_dir, tmp_path):
    pytest.importorskip("benchctl.commands.analyze")
    out, _ = sim_dir
    dirs = sorted(str(p) for p in Path(out).glob("*/*"))
    claims = Path(__file__).resolve().parents[2] / "analysis" / "claims" / "bbml2.toml"
    extra = ["--claims", str(claims)] if claims.is_file() else []
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchctl",
            "analyze",
            *dirs,
            "--baseline",
            "pte",
            "--candidate",
            "block",
            "--resamples",
            "200",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "SIMULATED" in r.stdout
    assert "memcached" in r.stdout and "Traceback" not in r.stderr
