"""Reports a reviewer can quote: what was compared, on what machine, SIMULATED on every quoted line.

Through the CLI on the recorded arm64 campaigns (tests/fixtures/arm64-trixie-campaign: Debian's 6.18
on a trusted vs an untrusted CPU identity, and 6.17 vs 6.18) and on a simulated campaign.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import deadline  # tests/support/deadline.py: waits with a deadline
import pytest

from benchctl.analyze.machine import Machine, parse_claimed
from benchctl.analyze.report.common import cmdline_diff

REPO = Path(__file__).resolve().parents[3]
CAMPAIGNS = REPO / "tests/fixtures/arm64-trixie-campaign"


def bench(*args, cwd=REPO):
    r = deadline.run(
        [sys.executable, "-m", "benchctl", *map(str, args)], timeout=300, phase=f"benchctl {args[:1]}", text=True
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_the_claims_machine_text_is_read():
    m = parse_claimed("AmpereOne, 192 cores, 1 socket, 256 GB, 4 KiB pages")
    assert m == Machine(cpu="AmpereOne", cores=192, ram_bytes=256 * 10**9, page_bytes=4096)
    assert parse_claimed("256 GiB").cpu is None and parse_claimed("256 GiB").ram_bytes == 2**38


def test_cmdline_difference_names_what_each_arm_adds():
    base = ["BOOT_IMAGE=/vmlinuz-6.1 root=/dev/vda rodata=on quiet"]
    cand = ["BOOT_IMAGE=/vmlinuz-6.1 root=/dev/vda rodata=full quiet"]
    assert cmdline_diff(base, cand, "pte", "block") == "block +rodata=full; pte +rodata=on"
    assert cmdline_diff(base, base, "pte", "block") == "the same on both arms"
    assert cmdline_diff([], cand, "pte", "block") is None


def test_brief_of_the_same_kernel_campaign_names_both_arms_and_the_other_machine():
    out = bench("analyze", CAMPAIGNS / "same-kernel", "--claims", "bbml2", "--brief")
    lines = out.splitlines()
    assert len(lines) <= 40 and max(map(len, lines)) <= 72
    text = " ".join(out.split())
    assert "pte: 6.18.15+deb13-arm64; CPU Neoverse N1 r4p1 (0x414fd0c1); linear map pte (kcore)" in text
    assert "block: 6.18.15+deb13-arm64; CPU AmpereOne r0p0 (0xc00fac30)" in text
    assert "linear map block (kcore); boots by command" in text and "cmdline: the same on both arms" in text
    assert "other machine: differs in CPU (qemu TCG, not the silicon), cores, RAM" in text
    assert "+0.200 % exact CONFIRMED (other machine)" in text


def test_full_report_of_the_release_pair_names_both_releases():
    out = bench("analyze", CAMPAIGNS / "before-after", "--claims", "bbml2")
    text = " ".join(out.split())
    assert "base: before: 6.17.13+deb13-arm64; CPU AmpereOne r0p0 (0xc00fac30)" in text
    assert "cand: after: 6.18.15+deb13-arm64" in text and "boots by kexec" in text
    md = bench("analyze", CAMPAIGNS / "before-after", "--claims", "bbml2", "--format", "markdown")
    assert "- baseline `before`: 6.17.13+deb13-arm64" in md and "- candidate `after`: 6.18.15+deb13-arm64" in md


@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    bench("model", "simulate", "--cpu", "ampereone", "--boots", "3", "--iterations", "3", "-o", out)
    return out


def test_simulated_brief_is_labelled_at_both_ends_and_on_every_verdict(simulated):
    runs = sorted(str(p) for p in simulated.glob("*/*") if p.is_dir())
    out = bench("analyze", *runs, "--baseline", "pte", "--candidate", "block", "--claims", "bbml2", "--brief")
    lines = out.splitlines()
    assert "SIMULATED" in lines[0] and "SIMULATED" in lines[-1]
    verdicts = [ln for ln in lines if ln.startswith("  ") and ("CONFIRMED" in ln or "-THAN-CLAIMED" in ln)]
    assert verdicts and all(ln.endswith("SIMULATED") for ln in verdicts)
    assert any("sd between boots pte " in ln and ", block " in ln for ln in lines)
    assert "other machine" not in out  # the simulated machine is the claim's


def test_a_claim_without_data_names_the_workload_that_has_its_metric(tmp_path):
    """An imported fio file is workload "fio": the fio-dmcrypt claim used to say only "no iops data"."""
    import analysis_data as ad
    import numpy as np

    from benchctl.analyze.result import analyze
    from benchctl.claims import load_claims
    from benchctl.results.loader import load_runs

    recs = ad.rows(np.random.default_rng(1), boots=3, iters=3, workload="fio", metric="iops", unit="IOPS")
    for arm in ("pte", "block"):
        ad.write_runs(tmp_path / "runs", [r for r in recs if r["arm"] == arm], state=arm)
    claims = [c for c in load_claims("bbml2") if c.id == "dmcrypt-iops"]
    res = analyze(load_runs([tmp_path / "runs"]), "pte", "block", claims, resamples=200)
    (row,) = res["claims"]
    assert row["verdict"] == "not-judged"
    assert "under workload fio: if that is this claim's, import it with --workload fio-dmcrypt" in row["warnings"][0]


def test_small_wording_items():
    from benchctl.analyze.report.forest import pct_tick
    from benchctl.human import count

    assert (count(1, "iteration"), count(12, "boot")) == ("1 iteration", "12 boots")
    assert pct_tick(-0.0) == "0%" and pct_tick(-1e-15) == "0%" and pct_tick(2.5) == "+2.5%"
    text = " ".join(bench("analyze", CAMPAIGNS / "same-kernel", "--claims", "bbml2").split())
    assert "1 iterations" not in text and "n/a of the mean" not in text
    assert "within a boot not estimable (one iteration per boot)" in text


def test_simulate_refuses_an_arm_named_twice(tmp_path):
    r = deadline.run(
        [sys.executable, "-m", "benchctl", "model", "simulate", "--cpu", "ampereone", "--arms", "pte,pte"]
        + ["-o", str(tmp_path / "sim")],
        timeout=120,
        phase="model simulate",
        text=True,
    )
    assert r.returncode == 2 and "named twice" in r.stderr and not (tmp_path / "sim").exists()


def test_plan_does_not_warn_about_a_cost_it_was_given(simulated):
    runs = sorted(str(p) for p in simulated.glob("*/*") if p.is_dir())
    common = ["plan", *runs, "--baseline", "pte", "--candidate", "block", "--claims", "bbml2"]
    given = " ".join(bench(*common, "--iteration-cost", "60").split())
    assert "iteration 60 s (given)" in given and "simulated timestamps" not in given
    assert "simulated timestamps" in " ".join(bench(*common).split())


def test_plan_from_stated_noise_needs_no_pilot():
    """`plan --effect 3.5` without data was exit 2: with stated noise it plans (issue 24)."""
    args = ["--baseline", "pte", "--candidate", "block", "--noise-boot", "1", "--noise-iter", "2"]
    out = bench("plan", *args, "--effect", "3.5", "--iteration-cost", "60")
    assert "stated noise (sd as % of mean): between-boot 1, within-boot 2" in out
    assert "=> 5 boots per arm x 3 iterations per boot" in out and "(given)" in out
    doc = json.loads(bench("plan", *args, "--claims", "bbml2", "--iteration-cost", "60", "--format", "json"))
    plans = {p["id"]: p["plan"] for p in doc["plans"]}
    assert plans["memcached-ops"]["boots_per_arm"] >= 2 and plans["memcached-ops"]["power"] >= 0.8
    r = deadline.run(
        [sys.executable, "-m", "benchctl", "plan", *args, "--effect", "3"], timeout=60, phase="plan", text=True
    )
    assert r.returncode == 2 and "--iteration-cost" in r.stderr
