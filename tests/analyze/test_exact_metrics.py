"""Identical values across boots: exact metrics get an exact verdict, copies stay duplicate data.

MemTotal is the same on every boot of a kernel (the linear map's tables are
reserved from memblock before the page allocator counts memory): the real
arm64 campaign of issue 12 (tests/fixtures/arm64-campaign) gave 2030456 kB
on both rodata=full boots and 2034508 kB on both rodata=on boots. Issue
13's refusals (the same output counted twice, one boot in both arms) stay.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchctl.cli import cli
from benchctl.results.metrics import CATALOGUE

REPO = Path(__file__).resolve().parents[2]
CLAIMS = REPO / "analysis" / "claims" / "bbml2.toml"
CAMPAIGN = REPO / "tests" / "fixtures" / "arm64-campaign"
# shared/reference/arm64-kexec.md, "What it measured": a cold boot, then three kexec'd ones
REFERENCE = [
    ("pte", "cold-full", 2029440, 1995748),
    ("block", "kexec-on-1", 2034508, 1999456),
    ("pte", "kexec-full", 2030456, 1995828),
    ("block", "kexec-on-2", 2034508, 1999848),
]


def analyze(*args: str) -> dict:
    r = CliRunner().invoke(cli, ["analyze", *args, "--claims", str(CLAIMS), "--format", "json", "--resamples", "500"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def claim(out: dict, cid: str) -> dict:
    return next(c for c in out["claims"] if c["id"] == cid)


def comparison(out: dict, metric: str) -> dict:
    return next(c for c in out["comparisons"] if c["metric"] == metric)


def campaign_rows() -> list[dict]:
    """The fixture's records as tidy rows (what a user's CSV of the same boots would hold)."""
    rows = []
    for f in sorted(CAMPAIGN.glob("boots/*/*/runs/*/*/records.jsonl")):
        for line in f.read_text().splitlines():
            r = json.loads(line)
            if not r.get("warmup"):
                rows.append(
                    {k: r[k] for k in ("arm", "host", "boot", "run", "workload", "iteration", "metric", "value")}
                )
                rows[-1]["unit"] = r["unit"]
    return rows


def write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(
            f, fieldnames=["arm", "host", "boot", "run", "workload", "iteration", "metric", "value", "unit"]
        )
        w.writeheader()
        w.writerows(rows)
    return path


def test_catalogue_marks_memtotal_exact_and_memfree_not():
    assert "memblock" in CATALOGUE["mem_total_kb"].exact and "kexec" in CATALOGUE["mem_total_kb"].moved_by
    assert not CATALOGUE["mem_free_kb"].exact and not CATALOGUE["page_tables_kb"].exact
    assert CATALOGUE["resident_fraction"].exact  # the workload caches the whole file before each pass


def test_real_arm64_campaign_memtotal_exact_verdict_memfree_interval():
    out = analyze(str(CAMPAIGN))
    total = claim(out, "boot-memory-total")
    assert total["verdict"] == "confirmed", total["warnings"]
    assert total["exact"] == {"baseline": 2030456.0, "candidate": 2034508.0, "reason": CATALOGUE["mem_total_kb"].exact}
    assert total["ci_pct"] == [total["change_pct"]] * 2
    assert total["change_pct"] == pytest.approx(100 * (2034508 / 2030456 - 1))
    assert total["p_value"] is None
    free = claim(out, "boot-memory")
    assert free["verdict"] != "not-judged" and free["exact"] is None, free["warnings"]
    lo, hi = free["ci_pct"]
    assert lo < free["change_pct"] < hi  # a sampling interval: MemFree differs between boots
    assert not any("duplicate data" in c for c in out["checks"]), out["checks"]
    # PageTables gave 400 kB on both pte boots: coarse, not a copy (the raw outputs differ)
    pt = comparison(out, "page_tables_kb")
    assert pt["not_judged"] and pt["not_judged"][0].startswith("no spread: all 2 boots of pte")


def test_real_arm64_campaign_brief_says_exact():
    r = CliRunner().invoke(cli, ["analyze", str(CAMPAIGN), "--claims", str(CLAIMS), "--brief", "--resamples", "500"])
    assert r.exit_code == 0, r.output
    text = " ".join(r.stdout.split())
    assert "+0.200 % exact CONFIRMED" in text
    assert "exact: the same value on every boot of an arm: pte 2030456 kB, block 2034508 kB (+4052 kB)" in text
    assert max(len(x) for x in r.stdout.splitlines()) <= 72


def test_the_same_boots_as_csv_get_the_same_verdict(tmp_path):
    """No raw outputs in a CSV: MemFree differing between the boots is what shows they are distinct."""
    csv_path = write_csv(tmp_path / "campaign.csv", campaign_rows())
    out = analyze("--csv", str(csv_path), "--baseline", "pte", "--candidate", "block")
    assert claim(out, "boot-memory-total")["verdict"] == "confirmed"
    assert claim(out, "boot-memory")["ci_pct"][0] < claim(out, "boot-memory")["ci_pct"][1]


def test_exact_values_with_nothing_to_show_distinct_boots_are_not_judged(tmp_path):
    """MemTotal alone in a CSV: four rows with different boot ids could be one reading copied."""
    rows = [r for r in campaign_rows() if r["metric"] == "mem_total_kb"]
    out = analyze("--csv", str(write_csv(tmp_path / "t.csv", rows)), "--baseline", "pte", "--candidate", "block")
    total = claim(out, "boot-memory-total")
    assert total["verdict"] == "not-judged"
    assert total["warnings"][0].startswith("not judged: boots not shown distinct: mem_total_kb is exact")
    assert any("boots not shown distinct" in c for c in out["checks"])


def test_a_copied_boot_is_still_duplicate_data(tmp_path):
    """A pte run folder copied as a third boot (new boot id, byte-identical meminfo.txt): refused for every metric."""
    folder = tmp_path / "campaign"
    shutil.copytree(CAMPAIGN, folder)
    src = next(folder.glob("boots/arm64/000-pte/runs/*/*"))
    dst = src.parent / (src.name + "-copy")
    shutil.copytree(src, dst)
    run = json.loads((dst / "run.json").read_text())
    old = run["boot_id"]
    for f in ("run.json", "records.jsonl", "env-before.json", "env-after.json"):
        text = (dst / f).read_text().replace(old, "0c0c0c0c-0000-4000-8000-000000000000").replace(src.name, dst.name)
        (dst / f).write_text(text)
    out = analyze(str(folder))
    for cid in ("boot-memory-total", "boot-memory"):
        c = claim(out, cid)
        assert c["verdict"] == "not-judged" and c["warnings"][0].startswith("not judged: duplicate data"), c
    assert any("byte-identical copies of meminfo.txt" in c for c in out["checks"])


def test_one_boot_in_both_arms_is_refused_for_an_exact_metric_too(tmp_path):
    """A block run folder that says it ran on a pte boot (a wrong arm label): no verdict."""
    folder = tmp_path / "campaign"
    shutil.copytree(CAMPAIGN, folder)
    pte = json.loads(next(folder.glob("boots/arm64/000-pte/runs/*/*/run.json")).read_text())["boot_id"]
    block = next(folder.glob("boots/arm64/001-block/runs/*/*"))
    old = json.loads((block / "run.json").read_text())["boot_id"]
    for f in ("run.json", "records.jsonl", "env-before.json", "env-after.json"):
        (block / f).write_text((block / f).read_text().replace(old, pte))
    out = analyze(str(folder))
    total = claim(out, "boot-memory-total")
    assert total["verdict"] == "not-judged" and "is in both arms" in total["warnings"][0], total["warnings"]


def test_a_cold_boot_among_kexec_boots_makes_memtotal_vary_and_says_so(tmp_path):
    """The reference's four boots: the cold rodata=full boot has 1016 kB less MemTotal than the kexec'd one."""
    rows = [
        {"arm": arm, "host": "qemu", "boot": boot, "run": f"run-{boot}", "workload": "boot-memory", "iteration": 1}
        | {"metric": metric, "value": value, "unit": "kB"}
        for arm, boot, total, free in REFERENCE
        for metric, value in (("mem_total_kb", total), ("mem_free_kb", free))
    ]
    out = analyze("--csv", str(write_csv(tmp_path / "ref.csv", rows)), "--baseline", "pte", "--candidate", "block")
    total = comparison(out, "mem_total_kb")
    assert total["exact"] is None  # not exact: an interval over the boots as they came
    assert total["ci_pct"][0] < total["ci_pct"][1]
    check = next(c for c in out["checks"] if "exact metric varies" in c)
    assert "in pte: mem_total_kb takes 2 values between boots" in check
    assert "2029440 kB on 1 boot" in check and "2030456 kB on 1 boot" in check and "cold boot vs kexec" in check
    assert claim(out, "boot-memory")["ci_pct"][0] < claim(out, "boot-memory")["ci_pct"][1]
