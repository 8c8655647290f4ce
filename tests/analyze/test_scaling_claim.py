"""The scaling claim ("the larger the machine, the more memory saved"), judged from real boots:
Debian's 6.18.15 under qemu, trusted (AmpereOne) vs untrusted (Neoverse N1) CPU identity, one
same-kernel campaign per guest RAM size (tests/fixtures/arm64-trixie-campaign/scaling/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchctl.cli import cli

REPO = Path(__file__).resolve().parents[2]
SCALING = REPO / "tests" / "fixtures" / "arm64-trixie-campaign" / "scaling"
SIZES = sorted(SCALING.glob("*m"), key=lambda p: int(p.name[:-1]))


def analyze(*args: str) -> str:
    r = CliRunner().invoke(cli, ["analyze", *args, "--claims", "bbml2", "--resamples", "500"])
    assert r.exit_code == 0, r.output
    return r.stdout


def exact_change(folder: Path) -> int:
    """MemTotal block - pte as the host's verification recorded it (boot.json), not through analyze."""
    seen: dict[str, set[int]] = {}
    for p in folder.glob("boots/*/*/boot.json"):
        b = json.loads(p.read_text())
        seen.setdefault(b["arm"], set()).add(int(b["verified"]["mem_total_kb"]))
    assert all(len(v) == 1 for v in seen.values()), seen  # the same MemTotal on every boot of an arm
    return next(iter(seen["block"])) - next(iter(seen["pte"]))


@pytest.fixture(scope="module")
def result() -> dict:
    return json.loads(analyze(*map(str, SIZES), "--format", "json"))


def test_four_sizes_were_recorded():
    assert [p.name for p in SIZES] == ["1024m", "2048m", "4096m", "8192m"]


def test_scaling_claim_judged_from_every_size(result):
    row = next(c for c in result["claims"] if c["id"] == "boot-memory-scaling")
    pts = row["scaling"]["points"]
    assert [round(p["ram_gib"]) for p in pts] == [1, 2, 4, 8]
    assert [p["change"] for p in pts] == [exact_change(f) for f in SIZES]
    assert all(p["exact"] for p in pts)
    lo, hi = row["ci_pct"]
    assert lo <= row["change_pct"] <= hi and row["claimed"]["band"][0] <= row["change_pct"] <= row["claimed"]["band"][1]
    assert row["verdict"] == "confirmed"
    # the model's line: 8 bytes of PTE per 4 KiB page, with the release's rules, at every measured size
    model = row["prediction"]["points"]
    for p, m in zip(pts, model, strict=True):
        assert m["change"] == pytest.approx(p["change"], rel=0.02)


def test_other_claims_are_not_judged_across_pooled_sizes(result):
    pooled = [c for c in result["checks"] if c.startswith("machines of several sizes pooled")]
    assert len(pooled) == 1 and "RAM 1, 2, 4, 8 GiB" in pooled[0].replace(".00", "")
    total = next(c for c in result["claims"] if c["id"] == "boot-memory-total")
    assert total["verdict"] == "not-judged" and "pooled" in total["warnings"][0]


def test_one_size_alone_cannot_judge_a_slope():
    doc = json.loads(analyze(str(SIZES[0]), "--format", "json"))
    row = next(c for c in doc["claims"] if c["id"] == "boot-memory-scaling")
    assert row["verdict"] == "not-judged" and ">= 3 machine sizes" in row["warnings"][0]
    total = next(c for c in doc["claims"] if c["id"] == "boot-memory-total")
    assert total["verdict"] == "confirmed"  # one size: the ordinary claims are judged as before


def test_brief_and_figure(tmp_path):
    # a real process: --plots says what it draws on stderr, which click 8.1's CliRunner mixes into stdout
    import subprocess
    import sys

    argv = [sys.executable, "-m", "benchctl", "analyze", *map(str, SIZES), "--claims", "bbml2", "--resamples", "500"]
    r = subprocess.run(
        [*argv, "--format", "mail", "--plots", str(tmp_path / "p")], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr
    import re

    attach = re.search(r"attach: \S+claims-scaling\.png \((\d+) KB", " ".join(r.stderr.split()))
    assert attach and int(attach.group(1)) < 100, r.stderr
    brief = r.stdout.splitlines()
    assert len(brief) <= 40 and max(map(len, brief)) <= 72
    text = "\n".join(brief)
    assert "boot-memory-scaling" in text and "4 sizes: 1 GiB" in text and "CONFIRMED" in text
    png = tmp_path / "p" / "claims-scaling.png"
    assert png.is_file() and png.stat().st_size < 100_000


def test_distribution_figure_names_the_quantity_and_draws_the_claimed_band(tmp_path, monkeypatch):
    """The y axis reads 'MemFree after boot (GiB)', not 'mem_free_kb (GiB)', and the claimed band
    is drawn beside the candidate (SVG text kept as text to read it back)."""
    import matplotlib

    monkeypatch.setitem(matplotlib.rcParams, "svg.fonttype", "none")
    analyze(str(SIZES[1]), "--plots", str(tmp_path))
    svg = (tmp_path / "dist-boot-memory-mem_free_kb.svg").read_text()
    assert "MemFree after boot (GiB)" in svg and "mem_free_kb (GiB)" not in svg
    assert "claimed +0.231 % +-0.06 (from the baseline mean)" in svg
