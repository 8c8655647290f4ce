"""Honest about emulation (issue 18, part 4): a timing from a TCG guest gets no verdict.

The input is the recorded same-kernel campaign (Debian 6.18 under qemu
TCG, tests/fixtures/arm64-trixie-campaign), copied, with a memcached run
folder added on each of its four boots as `benchctl run` would write one
beside boot-memory: the same fingerprint, records of ops/s, P99 and the
perf counters MPKI is built from. The timing numbers are synthetic (a
stated random model, like tests/support/analysis_data.py); the boots, their
fingerprints and the memory records are the recorded ones.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import analysis_data as ad
import numpy as np
import pytest
from click.testing import CliRunner

from benchctl.analyze.emulation import is_timing
from benchctl.analyze.report import render
from benchctl.analyze.result import analyze
from benchctl.cli import cli
from benchctl.results.loader import load_csv, load_runs
from benchctl.results.metrics import CATALOGUE
from benchctl.results.table import write_tidy

REPO = Path(__file__).resolve().parents[2]
CLAIMS = REPO / "analysis" / "claims" / "bbml2.toml"
SAME_KERNEL = REPO / "tests" / "fixtures" / "arm64-trixie-campaign" / "same-kernel"
TIMING_CLAIMS = ("memcached-ops", "memcached-p99", "memcached-tlb")
REASON = "not judged: emulated CPU (qemu TCG): a timing from an emulated CPU measures the emulator, not the change"
HEADLINE = "emulated CPU (qemu TCG) on every boot: timing claims not judged"
KVM = {"emulated": False, "how": "KVM", "reason": "hardware virtualisation: 'smccc: KVM: ...'"}
UNKNOWN = {"emulated": None, "how": "qemu", "reason": "no kernel log: KVM or TCG unknown"}

# per iteration: ops/s, P99 (us), kernel dTLB and iTLB walks, kernel instructions
BASE = {"ops_per_sec": 50_000.0, "p99_latency_us": 900.0, "dtlb_walk_k": 4e5, "itlb_walk_k": 1e5, "inst_retired_k": 1e9}
EFFECT = {"ops_per_sec": 1.05, "p99_latency_us": 0.9, "dtlb_walk_k": 0.7, "itlb_walk_k": 0.7, "inst_retired_k": 1.0}
UNITS = {"ops_per_sec": "ops/s", "p99_latency_us": "us"}


def _memcached_run(boot_memory: Path, rng: np.random.Generator, emulation: dict | None) -> None:
    """A memcached run folder beside a recorded boot-memory one: same boot, same fingerprint."""
    first = json.loads((boot_memory / "records.jsonl").read_text().splitlines()[0])
    run = boot_memory.name.replace("boot-memory", "memcached")
    d = boot_memory.parent / run
    d.mkdir()
    manifest = json.loads((boot_memory / "run.json").read_text())
    manifest.update(run_id=run, workload="memcached", iterations_requested=5, iterations_done=5, spec={})
    (d / "run.json").write_text(json.dumps(manifest))
    for name in ("env-before.json", "env-after.json"):
        fp = json.loads((boot_memory / name).read_text())
        if emulation is not None:
            fp["host"]["emulation"] = emulation
            (boot_memory / name).write_text(json.dumps(fp))
        (d / name).write_text(json.dumps(fp))
    boot_effect = rng.normal(0, 0.01)
    lines = []
    for i in range(1, 6):
        for k, (metric, base) in enumerate(BASE.items()):
            effect = EFFECT[metric] if first["arm"] == "block" else 1.0
            value = base * effect * (1 + boot_effect + rng.normal(0, 0.005))
            rec = dict(first, run=run, workload="memcached", iteration=i, metric=metric, value=value, note={})
            rec.update(unit=UNITS.get(metric, "count"), t=first["t"] + 60 + 10 * i + k)
            lines.append(json.dumps(rec))
    (d / "records.jsonl").write_text("\n".join(lines) + "\n")


def campaign(tmp: Path, emulation: dict | None = None, only: str | None = None) -> Path:
    """The recorded campaign with memcached on every boot; emulation replaces the fingerprints'
    host.emulation (on every boot, or on the boot folder named `only`)."""
    root = tmp / "campaign"
    shutil.copytree(SAME_KERNEL, root)
    rng = np.random.default_rng(18)
    for run in sorted(root.glob("boots/*/*/runs/*/*-boot-memory-*")):
        boot_folder = run.parents[2].name
        _memcached_run(run, rng, emulation if only in (None, boot_folder) else None)
    return root


def cli_analyze(folder: Path, *args: str) -> str:
    r = CliRunner().invoke(cli, ["analyze", str(folder), "--claims", str(CLAIMS), "--resamples", "500", *args])
    assert r.exit_code == 0, r.output
    return r.stdout


@pytest.fixture(scope="module")
def emulated(tmp_path_factory) -> Path:
    return campaign(tmp_path_factory.mktemp("tcg"))


@pytest.fixture(scope="module")
def result(emulated: Path) -> dict:
    return json.loads(cli_analyze(emulated, "--format", "json"))


def by_id(result: dict) -> dict[str, dict]:
    return {c["id"]: c for c in result["claims"]}


def test_every_catalogue_metric_is_a_timing_or_a_memory_quantity():
    memory = {m for m in CATALOGUE if not is_timing(m)}
    assert memory == {"mem_total_kb", "mem_free_kb", "mem_available_kb", "page_tables_kb", "resident_fraction"}
    # outside the catalogue the data's unit decides, and no memory unit means a timing
    assert not is_timing("slab_kb", "kB") and is_timing("requests", "") and is_timing("rtt", "ms")


def test_loader_carries_the_fingerprints_emulation_into_every_boot(emulated: Path):
    boots = load_runs([emulated]).boots
    assert {b.workload for b in boots} == {"boot-memory", "memcached"} and len(boots) == 8
    assert {(b.emulated, b.emulation_how) for b in boots} == {(True, "qemu TCG")}
    assert all("no 'smccc: KVM" in (b.emulation_reason or "") for b in boots)


def test_timing_claims_are_not_judged_with_their_change_shown(result: dict):
    claims = by_id(result)
    for cid in TIMING_CLAIMS:
        c = claims[cid]
        assert (c["verdict"], c["warnings"][0]) == ("not-judged", REASON)
        assert c["change_pct"] is not None and c["ci_pct"][0] < c["change_pct"] < c["ci_pct"][1]
        assert c["p_value"] is not None and c["p_adjusted"] is None  # shown, but out of Holm's family
    assert claims["memcached-ops"]["change_pct"] == pytest.approx(5, abs=2)
    assert claims["memcached-tlb"]["change_pct"] == pytest.approx(-30, abs=3)  # the ratio of sums, rebuilt
    # the same reason stands first on the comparisons behind them
    comps = {(c["workload"], c["metric"]): c for c in result["comparisons"]}
    assert comps[("memcached", "kernel_tlb_walk_mpki")]["not_judged"][0] == REASON[len("not judged: ") :]
    assert comps[("memcached", "inst_retired_k")]["emulated"] is True
    assert "emulated" not in comps[("boot-memory", "mem_free_kb")]


def test_memory_claims_are_judged_as_usual(result: dict):
    claims = by_id(result)
    total = claims["boot-memory-total"]
    assert total["verdict"] == "confirmed" and round(total["change_pct"], 3) == 0.200
    free = claims["boot-memory"]
    assert free["verdict"] == "inconclusive" and not free["warnings"][0].startswith("not judged")
    # MemTotal is exact and the timings are not tested: MemFree is a family of one
    assert free["p_adjusted"] == pytest.approx(free["p_value"])


def test_result_and_checks_say_so_once(result: dict):
    em = result["emulated"]
    assert (em["boots"], em["of"], em["unknown"], em["how"]) == (4, 4, 0, "qemu TCG")
    assert "linux,dummy-virt" in em["reason"]
    assert "memcached/ops_per_sec" in em["not_judged"] and "boot-memory/mem_total_kb" not in em["not_judged"]
    emulation_checks = [c for c in result["checks"] if "emulat" in c]
    assert len(emulation_checks) == 1 and emulation_checks[0].startswith("emulated CPU (qemu TCG) on every boot")


def test_brief_says_it_in_its_first_lines(emulated: Path):
    brief = cli_analyze(emulated, "--brief")
    lines = brief.splitlines()
    assert lines[1] == f"host: {HEADLINE}"
    assert len(lines) <= 40 and max(map(len, lines)) <= 72
    assert lines[2] == "  (a timing from an emulated CPU measures the emulator, not the change)"
    assert brief.count("emulated CPU (qemu TCG)") == 1 + len(TIMING_CLAIMS)  # the header, then each claim
    assert "+4.52 % [+1.44, +7.70]  NOT JUDGED: emulated CPU (qemu TCG)\n" in brief
    assert "+0.200 % exact  CONFIRMED" in brief


def test_text_and_markdown_say_it_in_the_header_and_once_in_the_checks(emulated: Path):
    text = cli_analyze(emulated)
    assert f"cpu:     {HEADLINE}" in text.split("\n\n")[0]
    assert max(map(len, text.splitlines())) <= 72
    checks = text[text.index("Checks") : text.index("\nClaims")]
    assert checks.count("emulated CPU (qemu TCG)") == 1
    words = " ".join(text.split())
    assert words.count("a timing from an emulated CPU measures the emulator") == 1 + len(TIMING_CLAIMS)
    md = cli_analyze(emulated, "--format", "markdown")
    assert f"- cpu: **{HEADLINE}**" in md.split("### Checks")[0]
    assert md.count("- :warning: emulated CPU (qemu TCG)") == 1


@pytest.mark.parametrize("emulation", [KVM, UNKNOWN], ids=["kvm", "unknown"])
def test_a_kvm_guest_or_an_unknown_host_stays_judged(tmp_path: Path, emulation: dict):
    out = json.loads(cli_analyze(campaign(tmp_path, emulation), "--format", "json"))
    assert out["emulated"] is None and not any("emulat" in c for c in out["checks"])
    for cid in TIMING_CLAIMS:
        c = by_id(out)[cid]
        assert c["verdict"] != "not-judged" and c["p_adjusted"] is not None, c["warnings"][:1]
    assert "emulated" not in cli_analyze(campaign(tmp_path / "b", emulation), "--brief")


def test_one_emulated_boot_blocks_the_timings_it_holds(tmp_path: Path):
    root = campaign(tmp_path, KVM)
    for fp in root.glob("boots/*/002-pte/runs/*/*/env-*.json"):
        doc = json.loads(fp.read_text())
        doc["host"]["emulation"] = {"emulated": True, "how": "qemu TCG", "reason": "recorded"}
        fp.write_text(json.dumps(doc))
    out = json.loads(cli_analyze(root, "--format", "json"))
    assert (out["emulated"]["boots"], out["emulated"]["of"]) == (1, 4)
    assert by_id(out)["memcached-ops"]["warnings"][0] == REASON
    assert "host: emulated CPU (qemu TCG) on 1 of 4 boots" in cli_analyze(root, "--brief")


def test_bare_metal_x86_stays_judged(tmp_path: Path):
    rng = np.random.default_rng(4)
    fp = ad.env("pte")
    fp["host"] = {"name": "h1", "arch": "x86_64", "emulation": {"emulated": False, "how": "bare metal", "reason": ""}}
    ad.write_runs(tmp_path, ad.rows(rng, arms=(("pte", 100.0), ("block", 103.5))), env_before=fp)
    tidy = load_runs([tmp_path])
    assert {b.emulated for b in tidy.boots} == {False}
    from benchctl.claims import load_claims

    claims = [c for c in load_claims(CLAIMS) if c.id == "memcached-ops"]
    result = analyze(tidy, "pte", "block", claims, resamples=500)
    assert result["emulated"] is None and result["claims"][0]["verdict"] != "not-judged"
    assert "emulated" not in render(result, "text", brief=True)


def test_csv_input_knows_nothing_and_says_nothing(emulated: Path, tmp_path: Path):
    csv = tmp_path / "tidy.csv"
    write_tidy(load_runs([emulated]).df, csv)
    tidy = load_csv([csv])
    assert {b.emulated for b in tidy.boots} == {None}
    r = CliRunner().invoke(
        cli,
        ["analyze", "--csv", str(csv), "--baseline", "pte", "--candidate", "block"]
        + ["--claims", str(CLAIMS), "--resamples", "500", "--format", "json"],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["emulated"] is None and not any("emulat" in c for c in out["checks"])
    assert by_id(out)["memcached-ops"]["verdict"] != "not-judged"
