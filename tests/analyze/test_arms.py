"""A baseline and several candidates (analyze --candidate A --candidate B), with the thread's
equivalence claim ("on par with rodata=on") judged by TOST between two candidates."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
MEANS = {"pte": 100_000.0, "block": 103_500.0, "noalias": 103_600.0}  # ops/s: +3.5 %, on par within 0.1 %


def _csv(path: Path, means: dict[str, float], boots: int = 6, seed: int = 3) -> Path:
    """Tidy rows (docs/result-format.md): per arm `boots` boots of 5 iterations, 0.3 % boot noise."""
    rng = np.random.default_rng(seed)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arm", "host", "boot", "run", "workload", "iteration", "metric", "value", "unit"])
        for arm, mean in means.items():
            for b in range(boots):
                boot_mean = mean * (1 + rng.normal(0, 0.003))
                for i in range(5):
                    v = boot_mean * (1 + rng.normal(0, 0.002))
                    w.writerow([arm, "lab1", f"{arm}-{b}", f"r-{arm}-{b}", "memcached", i, "ops_per_sec", v, "ops/s"])
    return path


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchctl", *args], capture_output=True, text=True, timeout=300, cwd=REPO
    )


@pytest.fixture(scope="module")
def three(tmp_path_factory) -> Path:
    return _csv(tmp_path_factory.mktemp("arms") / "three.csv", MEANS)


def _analyze(path: Path, *extra: str) -> subprocess.CompletedProcess:
    return bench(
        "analyze",
        "--csv",
        str(path),
        "--baseline",
        "pte",
        "--candidate",
        "block,noalias",
        "--claims",
        "bbml2",
        "--resamples",
        "2000",
        *extra,
    )


def test_three_arms_every_pair_at_the_bonferroni_level_and_the_on_par_claim(three):
    r = _analyze(three, "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["multi"] and doc["arms"] == ["pte", "block", "noalias"]
    pairs = [(p["baseline"], p["candidate"]) for p in doc["pairs"]]
    assert pairs == [("pte", "block"), ("pte", "noalias"), ("noalias", "block")]
    assert doc["pair_confidence"] == pytest.approx(1 - 0.05 / 3)
    assert all(p["confidence"] == pytest.approx(1 - 0.05 / 3) for p in doc["pairs"])
    claims = {(p["candidate"], p["baseline"], c["id"]): c for p in doc["pairs"] for c in p["claims"]}
    assert claims[("block", "pte", "memcached-ops")]["verdict"] == "confirmed"
    par = claims[("block", "noalias", "memcached-on-par")]
    assert par["verdict"] == "equivalent", par
    eq = par["equivalence"]
    assert eq["level"] == pytest.approx(1 - 2 * 0.05 / 3) and -1 < par["ci_pct"][0] < par["ci_pct"][1] < 1
    # the equivalence claim is judged only in the pair it is about
    assert ("block", "pte", "memcached-on-par") not in claims


def test_three_arm_reports_fit_a_mail(three):
    text = _analyze(three).stdout
    assert max(map(len, text.splitlines())) <= 72
    assert "block vs noalias:\n  memcached-on-par: " in text and "EQUIVALENT" in text
    assert "Bonferroni across 3 pairs" in " ".join(text.split())
    for fmt in ("mail",):
        mail = _analyze(three, "--format", fmt).stdout.splitlines()
        assert len(mail) <= 40 and max(map(len, mail)) <= 72
        assert any("noalias (candidate):" in ln for ln in mail)
    md = _analyze(three, "--format", "markdown").stdout
    assert "| memcached-on-par | block vs noalias |" in md


def test_not_on_par_and_a_missing_arm(tmp_path):
    far = _csv(tmp_path / "far.csv", {"pte": 100_000.0, "block": 103_500.0, "noalias": 108_000.0})
    doc = json.loads(_analyze(far, "--format", "json").stdout)
    par = next(
        c for p in doc["pairs"] if p["baseline"] == "noalias" for c in p["claims"] if c["id"] == "memcached-on-par"
    )
    assert par["verdict"] == "not-equivalent"
    two = _csv(tmp_path / "two.csv", {"pte": 100_000.0, "block": 103_500.0})
    r = bench(
        "analyze",
        "--csv",
        str(two),
        "--baseline",
        "pte",
        "--candidate",
        "block",
        "--claims",
        "bbml2",
        "--format",
        "json",
    )
    par = next(c for c in json.loads(r.stdout)["claims"] if c["id"] == "memcached-on-par")
    assert par["verdict"] == "not-judged" and "add an arm labelled noalias" in par["warnings"][0]


def test_bad_arm_lists_are_one_line_errors(three):
    r = bench("analyze", "--csv", str(three), "--baseline", "pte", "--candidate", "block,block")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "arms must differ" in r.stderr
    r = bench("analyze", "--csv", str(three), "--baseline", "pte", "--candidate", "block,purple")
    assert r.returncode == 3 and "arm 'purple' has no usable rows" in r.stderr


THREE = REPO / "tests" / "fixtures" / "arm64-trixie-campaign" / "three-arms"


def test_a_real_three_arm_campaign_is_read_with_its_plans_candidates():
    """Debian 6.18.15 under qemu: pte (N1), block (AmpereOne), noalias (AmpereOne, rodata=noalias)."""
    plan = json.loads((THREE / "plan.json").read_text())
    assert plan["candidates"] == ["block", "noalias"]
    assert [b["arm"] for b in plan["hosts"]["arm64"]] == ["pte", "block", "noalias"] * 2
    r = bench("analyze", str(THREE), "--claims", "bbml2", "--format", "json", "--resamples", "500")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    pairs = {(p["baseline"], p["candidate"]): p for p in doc["pairs"]}
    assert list(pairs) == [("pte", "block"), ("pte", "noalias"), ("noalias", "block")]
    for cand in ("block", "noalias"):
        total = next(c for c in pairs[("pte", cand)]["claims"] if c["id"] == "boot-memory-total")
        assert total["verdict"] == "confirmed" and total["exact"]["candidate"] - total["exact"]["baseline"] == 4032
        assert pairs[("pte", cand)]["design"][cand]["linear_map"] == ["block"]
    par = next(c for c in pairs[("noalias", "block")]["claims"] if c["id"] == "memcached-on-par")
    assert par["verdict"] == "not-judged" and par["warnings"][0].startswith("not judged: no ops_per_sec data")
    mail = bench("analyze", str(THREE), "--claims", "bbml2", "--format", "mail", "--resamples", "500").stdout
    lines = mail.splitlines()
    assert len(lines) <= 40 and max(map(len, lines)) <= 72
    assert "noalias (candidate): 6.18.15+deb13-arm64; CPU AmpereOne" in " ".join(mail.split())
