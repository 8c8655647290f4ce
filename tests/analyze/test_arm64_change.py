"""The change itself, as the recorded arm64 campaigns measured it (tests/fixtures/arm64-trixie-campaign).

Two real campaigns of Debian's kernels under qemu, each ABAB with two boots
per arm, every boot verified before boot-memory ran:
- same-kernel: 6.18.15 on an AmpereOne MIDR (trusted: block-mapped) vs a
  Neoverse N1 (PTEs), cold boots by tests/vm/boot_controller.py;
- before-after: 6.17.13 vs 6.18.15 on the AmpereOne MIDR, by kexec.
analyze must confirm the memory claim exactly on the first and name the
release confound on every verdict of the second.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from benchctl.cli import cli

REPO = Path(__file__).resolve().parents[2]
CLAIMS = REPO / "analysis" / "claims" / "bbml2.toml"
CAMPAIGNS = REPO / "tests" / "fixtures" / "arm64-trixie-campaign"


def analyze(folder: Path, *args: str) -> str:
    r = CliRunner().invoke(cli, ["analyze", str(folder), "--claims", str(CLAIMS), "--resamples", "500", *args])
    assert r.exit_code == 0, r.output
    return r.stdout


def claims(folder: Path) -> dict[str, dict]:
    return {c["id"]: c for c in json.loads(analyze(folder, "--format", "json"))["claims"]}


def boots(folder: Path) -> list[dict]:
    return sorted((json.loads(p.read_text()) for p in folder.glob("boots/*/*/boot.json")), key=lambda b: b["index"])


def test_same_kernel_boots_differ_only_by_cpu_identity():
    bs = boots(CAMPAIGNS / "same-kernel")
    assert [b["arm"] for b in bs] == ["pte", "block", "pte", "block"]
    assert {b["boot_method"] for b in bs} == {"command"}
    assert {b["verified"]["release"] for b in bs} == {"6.18.15+deb13-arm64"}
    assert {b["verified"]["cmdline"] for b in bs} == {"console=ttyAMA0 panic=-1 loglevel=3 nokaslr"}
    for b in bs:
        v = b["verified"]
        assert (v["linear_map"], v["linear_map_source"]) == (b["arm"], "kcore")
        assert [m["value"] for m in v["midr"]] == [{"pte": "0x414fd0c1", "block": "0xc00fac30"}[b["arm"]]]


def test_same_kernel_confirms_memtotal_exactly_with_only_the_machine_checks():
    out = json.loads(analyze(CAMPAIGNS / "same-kernel", "--format", "json"))
    # the checks are the machine's: qemu TCG, which voids timings, not the kernel's memory accounting,
    # and a 2-CPU 2 GiB guest is not the claims' 192-core 256 GB AmpereOne
    emulated, other = out["checks"]
    assert emulated.startswith("emulated CPU (qemu TCG) on every boot")
    assert other.startswith("other machine: differs in CPU (qemu TCG, not the silicon), cores, RAM")
    total = next(c for c in out["claims"] if c["id"] == "boot-memory-total")
    assert total["verdict"] == "confirmed"
    assert (total["exact"]["baseline"], total["exact"]["candidate"]) == (2013616.0, 2017648.0)
    assert round(total["change_pct"], 3) == 0.200
    text = analyze(CAMPAIGNS / "same-kernel")
    assert "pte 2013616 kB, block\n      2017648 kB (+4032 kB)" in text and "(release confound)" not in text


def test_before_after_names_the_release_confound_on_every_verdict():
    folder = CAMPAIGNS / "before-after"
    out = json.loads(analyze(folder, "--format", "json"))
    (check,) = [c for c in out["checks"] if c.startswith("release confound:")]
    assert "6.17.13+deb13-arm64" in check and "6.18.15+deb13-arm64" in check
    total = next(c for c in out["claims"] if c["id"] == "boot-memory-total")
    # 6.18's bigger kernel image eats into the page tables it saves: 2500 kB, not 4032 kB
    assert (total["exact"]["candidate"] - total["exact"]["baseline"], total["verdict"]) == (
        2500.0,
        "smaller-than-claimed",
    )
    assert any(w.startswith("release confound:") for w in total["warnings"])
    brief = analyze(folder, "--brief")
    assert "SMALLER-THAN-CLAIMED (release confound)" in brief
    assert "INCONCLUSIVE (release confound)" in brief
    assert "verdict: SMALLER-THAN-CLAIMED (release confound)" in " ".join(analyze(folder).split())
    assert "**smaller-than-claimed (release confound) (other machine)**" in analyze(folder, "--format", "markdown")


def test_the_suite_campaign_holds_every_workload_on_every_boot():
    """make campaign-suite-demo's campaign (issue 18): 4 verified boots, 5 run folders each."""
    folder = CAMPAIGNS / "suite"
    bs = boots(folder)
    assert [b["arm"] for b in bs] == ["pte", "block", "pte", "block"]
    for b in bs:
        runs = sorted((folder / "boots/arm64").glob(f"{b['index']:03d}-{b['arm']}/runs/*/*/run.json"))
        done = {json.loads(p.read_text())["workload"]: json.loads(p.read_text()) for p in runs}
        assert set(done) == {"boot-memory", "memcached", "fio-dmcrypt", "seqread-xfs", "tlb-probe"}
        assert all(m["status"] == "complete" for m in done.values())
        assert "not implemented by this CPU's PMU" in done["memcached"]["perf"]["unsupported"]["dtlb_walk_k"]


def test_the_suite_campaign_judges_memory_and_says_why_not_the_rest():
    by_id = claims(CAMPAIGNS / "suite")
    total = by_id["boot-memory-total"]
    assert total["verdict"] == "confirmed"
    assert (total["exact"]["baseline"], total["exact"]["candidate"]) == (4006592.0, 4014728.0)
    assert round(total["prediction"]["saving_kb"]) == 8136  # 6.18's rules at 4 GiB
    for cid in ("memcached-ops", "memcached-p99", "dmcrypt-iops", "seqread-bw"):
        c = by_id[cid]
        assert c["verdict"] == "not-judged" and c["change_pct"] is not None
        assert c["warnings"][0].startswith("not judged: emulated CPU (qemu TCG)")
    tlb = by_id["memcached-tlb"]
    assert tlb["verdict"] == "not-judged" and tlb["change_pct"] is None
    assert tlb["warnings"][0].startswith("not judged: kernel_tlb_walk_mpki unsupported on this host: DTLB_WALK")


def test_a_real_adaptive_campaign_stopped_on_the_exact_claim_after_two_boots_per_arm():
    """`arm64_campaign.py demo --design same-kernel --boots 4 --until-decided boot-memory-total`
    (README of the fixtures): planned 4 per arm, stopped by itself after 2 per arm, the fewest the
    exact rule allows; analyze on the folder judges on the sequence and says so."""
    folder = CAMPAIGNS / "adaptive"
    plan = json.loads((folder / "plan.json").read_text())
    assert plan["adaptive"]["max_boots"] == 4 and plan["boots_per_arm"] == 4
    bs = boots(folder)
    assert [b["arm"] for b in bs] == ["pte", "block", "pte", "block"]
    prog = json.loads((folder / "progress.json").read_text())["adaptive"]
    assert prog["decided"] and prog["claims"][0]["n_pairs"] == 2 and prog["claims"][0]["verdict"] == "confirmed"
    r = CliRunner().invoke(cli, ["analyze", str(folder), "--claims", str(folder / "claims.toml"), "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["claims"][0]["verdict"] == "confirmed" and any("anytime-valid" in n for n in doc["notes"])
