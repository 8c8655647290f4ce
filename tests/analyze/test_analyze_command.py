"""`benchctl analyze` and `benchctl plan` end to end, through the real CLI entry point."""

import json
import sys
from pathlib import Path

import analysis_data as ad
import deadline  # tests/support/deadline.py: waits with a deadline
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
CLAIMS = REPO / "analysis/claims/bbml2.toml"
DRIVEN = REPO / "tests/fixtures/parsers/memtier-driven"


def bench(*args):
    return deadline.run(
        [sys.executable, "-m", "benchctl", *map(str, args)],
        timeout=300,
        phase=f"benchctl {args[:1]}",
        text=True,
        cwd=REPO,
    )


def one_line_error(r, *words):
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("benchctl: error: "), r.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


def tlb_records(rng, boots=4, iters=6):
    """Raw counters per iteration: walks fall ~28 % in the block arm."""
    out = []
    for k, (arm, rate) in enumerate((("pte", 2.0e-3), ("block", 1.43e-3))):
        for b in range(boots):
            boot_rate = rate * (1 + rng.normal(0, 0.03))
            for i in range(iters):
                inst = rng.uniform(1e9, 3e9)
                dtlb = inst * boot_rate * (1 + rng.normal(0, 0.02))
                for metric, v in (("inst_retired_k", inst), ("dtlb_walk_k", 0.8 * dtlb), ("itlb_walk_k", 0.2 * dtlb)):
                    out.append(
                        {
                            "arm": arm,
                            "host": "h1",
                            "boot": f"{arm}-{b}",
                            "run": f"r-{arm}-{b}",
                            "workload": "memcached",
                            "iteration": i,
                            "metric": metric,
                            "value": v,
                            "unit": "count",
                            "t": 1.7e9 + (2 * b + k) * 1000 + i,
                        }
                    )
    return out


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory):
    rng = np.random.default_rng(7)
    recs = (
        ad.rows(rng)
        + ad.rows(rng, metric="p99_latency_us", unit="us", arms=(("pte", 200.0), ("block", 181.0)))
        + tlb_records(rng)
    )
    return ad.write_csv(tmp_path_factory.mktemp("csv") / "tidy.csv", recs)


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_every_format_on_csv(csv_path, fmt):
    r = bench(
        "analyze",
        "--csv",
        csv_path,
        "--baseline",
        "pte",
        "--candidate",
        "block",
        "--claims",
        CLAIMS,
        "--format",
        fmt,
        "--resamples",
        1000,
        "--seed",
        3,
    )
    assert r.returncode == 0, r.stderr
    assert "memcached-p99" in r.stdout
    if fmt == "json":
        j = json.loads(r.stdout)
        verdicts = {c["id"]: c["verdict"] for c in j["claims"]}
        assert verdicts["memcached-p99"] == "confirmed"
        assert verdicts["memcached-tlb"] == "confirmed"
        tlb = next(c for c in j["comparisons"] if c["metric"] == "kernel_tlb_walk_mpki")
        assert "ratio of sums" in tlb["method"]
        assert tlb["baseline"]["mean"] == pytest.approx(2.0, rel=0.05)
        assert tlb["baseline"]["n_samples"] == 24


def test_mpki_is_ratio_of_sums_per_boot(tmp_path):
    rng = np.random.default_rng(1)
    recs = tlb_records(rng, boots=2, iters=3)
    p = ad.write_csv(tmp_path / "t.csv", recs)
    r = bench(
        "analyze", "--csv", p, "--baseline", "pte", "--candidate", "block", "--format", "json", "--resamples", 200
    )
    j = json.loads(r.stdout)
    tlb = next(c for c in j["comparisons"] if c["metric"] == "kernel_tlb_walk_mpki")
    for arm, key in (("pte", "baseline"), ("block", "candidate")):
        expect = []
        for b in range(2):
            rows = [x for x in recs if x["boot"] == f"{arm}-{b}"]
            walks = sum(x["value"] for x in rows if x["metric"] in ("dtlb_walk_k", "itlb_walk_k"))
            inst = sum(x["value"] for x in rows if x["metric"] == "inst_retired_k")
            expect.append(1000 * walks / inst)
        assert tlb[key]["boot_means"] == pytest.approx(expect)


def test_run_folders_checks_and_plots(tmp_path):
    rng = np.random.default_rng(2)
    recs = ad.rows(rng, interleave=False) + ad.rows(rng, metric="p99_latency_us", unit="us", interleave=False)
    ad.write_runs(tmp_path / "runs", recs, state="pte")
    plots = tmp_path / "plots"
    common = ("analyze", tmp_path / "runs", "--baseline", "pte", "--candidate", "block", "--claims", CLAIMS)
    r = bench(*common, "--plots", plots, "--resamples", 500)
    assert r.returncode == 0, r.stderr
    assert "both arms have the linear map in state 'pte'" in r.stdout
    assert "not interleaved" in r.stdout
    names = {p.name for p in plots.iterdir()}
    # by default: the claims figures, a contact sheet and an index, said while drawing
    assert {
        "claims-forest.png",
        "claims-forest.svg",
        "dist-memcached-ops_per_sec.png",
        "contact-sheet.png",
        "index.md",
    } <= names
    assert not any(n.startswith(("order-", "latency-")) for n in names)
    assert "drawing 1/" in r.stderr and "claims-forest" in r.stderr
    assert "SIMULATED" not in (plots / "claims-forest.svg").read_text()
    assert str(tmp_path / "runs") in (plots / "claims-forest.svg").read_text()
    assert "[claims-forest.png](claims-forest.png)" in (plots / "index.md").read_text()
    # attachable to a list mail (~100 KB once encoded); the caption names arms, design and host
    assert (plots / "claims-forest.png").stat().st_size < 75_000
    svg = (plots / "claims-forest.svg").read_text()
    assert "pte 6.18.0-rc6 vs block 6.18.0-rc6; pte 5x10, block 5x10" in svg and "host h1" in svg
    r = bench(*common, "--plots", tmp_path / "all", "--all-plots", "--resamples", 200)
    names = {p.name for p in (tmp_path / "all").iterdir()}
    for stem in ("order-memcached-ops_per_sec", "latency-memcached"):  # real record times: drift is drawn
        assert f"{stem}.png" in names and f"{stem}.svg" in names


def test_truncated_jsonl_is_reported_and_rest_analysed(tmp_path):
    rng = np.random.default_rng(2)
    recs = ad.rows(rng, boots=3, iters=5)
    dirs = ad.write_runs(tmp_path, recs)
    d = dirs[0]
    (d / "records.jsonl").write_text((d / "records.jsonl").read_text()[:-30])
    r = bench("analyze", tmp_path, "--baseline", "pte", "--candidate", "block", "--resamples", 300)
    assert r.returncode == 0, r.stderr
    assert "truncated last record" in r.stdout and "records.jsonl: line 6" in r.stdout


def test_bad_values_named_and_with_skip_bad_rows_analysis_continues(tmp_path):
    recs = ad.rows(np.random.default_rng(0), boots=3, iters=4)
    recs[2]["value"] = "n/a"
    p = ad.write_csv(tmp_path / "x.csv", recs)
    args = ("analyze", "--csv", p, "--baseline", "pte", "--candidate", "block", "--resamples", 300)
    r = bench(*args)
    assert r.returncode == 3 and f"{p}:4: value is not a number" in r.stderr
    r = bench(*args, "--skip-bad-rows")
    assert r.returncode == 0
    checks = r.stdout[r.stdout.index("Checks") : r.stdout.index("Comparisons")]
    assert "line 4: value is not a number (skipped)" in " ".join(checks.split())
    j = json.loads(bench(*args, "--format", "json", "--skip-bad-rows").stdout)
    assert j["skipped"] == [f"{p}: line 4: value is not a number (skipped)"]
    assert j["skipped_items"] == [{"file": str(p), "line": 4, "reason": "value is not a number"}]
    assert j["comparisons"][0]["baseline"]["n_samples"] + j["comparisons"][0]["candidate"]["n_samples"] == 23


def test_missing_columns_exit_3(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("arm,value\npte,1\n")
    one_line_error(bench("analyze", "--csv", p, "--baseline", "pte", "--candidate", "block"), str(p), "missing column")


def test_unknown_arm_exit_3(csv_path):
    one_line_error(
        bench("analyze", "--csv", csv_path, "--baseline", "pte", "--candidate", "blk"),
        "'blk'",
        "arms in the data: block, pte",
    )


def test_empty_arm_exit_3(tmp_path):
    recs = ad.rows(np.random.default_rng(0), boots=2, iters=2)
    for r in recs:
        if r["arm"] == "block":
            r["value"] = "inf"
    p = ad.write_csv(tmp_path / "x.csv", recs)
    one_line_error(
        bench("analyze", "--csv", p, "--baseline", "pte", "--candidate", "block"), "x.csv:4: value is infinite"
    )
    r = bench("analyze", "--csv", p, "--baseline", "pte", "--candidate", "block", "--skip-bad-rows")
    assert r.returncode == 3 and "skipped 4 CSV row(s)" in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert "'block' has no usable rows" in last and "value is infinite" in last


def test_bad_claims_exit_3(tmp_path, csv_path):
    c = tmp_path / "c.toml"
    c.write_text('[[claim]]\nid = "x"\nworkload = "w"\nmetric = "m"\ndirection = "increase"\nvalue = 1\nfoo = 2\n')
    one_line_error(
        bench("analyze", "--csv", csv_path, "--baseline", "pte", "--candidate", "block", "--claims", c), str(c), "'foo'"
    )


def test_no_input_is_usage_error():
    r = bench("analyze", "--baseline", "pte", "--candidate", "block")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_simulated_runs_banner(tmp_path):
    recs = ad.rows(np.random.default_rng(0), boots=3, iters=4)
    ad.write_runs(tmp_path / "r", recs, simulated=True)
    r = bench(
        "analyze",
        tmp_path / "r",
        "--baseline",
        "pte",
        "--candidate",
        "block",
        "--resamples",
        300,
        "--plots",
        tmp_path / "p",
        "--all-plots",
    )
    assert "SIMULATED DATA" in r.stdout.splitlines()[1]
    assert "SIMULATED" in (tmp_path / "p" / "dist-memcached-ops_per_sec.svg").read_text()
    # simulated record times are not measurement times: no drift figure, and index.md says why
    assert not list((tmp_path / "p").glob("order-*"))
    assert "no real measurement times" in (tmp_path / "p" / "index.md").read_text()


def test_plan_text_and_json(csv_path):
    r = bench(
        "plan", "--csv", csv_path, "--baseline", "pte", "--candidate", "block", "--claims", CLAIMS, "--reboot-cost", 300
    )
    assert r.returncode == 0, r.stderr
    assert "memcached-ops" in r.stdout and "boots per arm x" in r.stdout
    assert max(len(x) for x in r.stdout.splitlines()) <= 72
    r = bench(
        "plan",
        "--csv",
        csv_path,
        "--baseline",
        "pte",
        "--candidate",
        "block",
        "--effect",
        2,
        "--iteration-cost",
        5,
        "--format",
        "json",
    )
    j = json.loads(r.stdout)
    assert j["costs"]["iteration_s"] == 5
    ops = next(p for p in j["plans"] if p["metric"] == "ops_per_sec")
    assert ops["plan"]["boots_per_arm"] >= 2 and ops["plan"]["power"] >= 0.8


def test_plan_needs_claims_or_effect(csv_path):
    r = bench("plan", "--csv", csv_path, "--baseline", "pte", "--candidate", "block")
    assert r.returncode == 2 and "--effect" in r.stderr


def test_plan_reads_the_arms_from_a_campaign_folder_as_analyze_does():
    """`benchctl plan camp/` takes the arms from the campaign's plan.json, like `benchctl analyze camp/`;
    a campaign with several candidates asks which one the design is for."""
    camp = REPO / "tests/fixtures/arm64-trixie-campaign"
    r = bench("plan", camp / "before-after", "--claims", "bbml2", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert all(p["id"] for p in json.loads(r.stdout)["plans"])
    r = bench("plan", camp / "three-arms", "--claims", "bbml2")
    assert r.returncode == 2 and "choose one --candidate of block, noalias" in r.stderr
    assert bench("plan", camp / "three-arms", "--candidate", "block", "--claims", "bbml2").returncode == 0


def test_precomputed_mpki_without_counters_is_flagged(tmp_path):
    recs = ad.rows(
        np.random.default_rng(0),
        boots=3,
        iters=4,
        metric="kernel_tlb_walk_mpki",
        unit="MPKI",
        arms=(("pte", 2.0), ("block", 1.4)),
        boot_sd=0.02,
        iter_sd=0.01,
    )
    p = ad.write_csv(tmp_path / "m.csv", recs)
    j = json.loads(
        bench(
            "analyze", "--csv", p, "--baseline", "pte", "--candidate", "block", "--format", "json", "--resamples", 200
        ).stdout
    )
    (c,) = j["comparisons"]
    assert any("raw counters" in w and "means of per-iteration ratios" in w for w in c["warnings"])


def test_hdr_latency_curves_plotted_from_raw_outputs(tmp_path, tools_dir):
    recs = ad.rows(np.random.default_rng(4), boots=2, iters=2, metric="p99_latency_us", unit="us")
    src = (tools_dir / "memtier-hdr" / "mt_FULL_RUN_1.txt").read_text()  # recorded memtier output
    for d in ad.write_runs(tmp_path / "runs", recs):
        (d / "raw" / "iter-0000").mkdir(parents=True)
        (d / "raw" / "iter-0000" / "mt_FULL_RUN_1.txt").write_text(src)
        (d / "raw" / "iter-0000" / "stdout.txt").write_text("not a histogram\n")
        # a run's own memtier output: the .hgrm beside the table is plotted, per-command files are not
        (d / "raw" / "iter-0001").mkdir()
        for f in DRIVEN.iterdir():
            if f.name.startswith("memtier_"):
                (d / "raw" / "iter-0001" / f.name).write_bytes(f.read_bytes())
    r = bench(
        "analyze",
        tmp_path / "runs",
        "--baseline",
        "pte",
        "--candidate",
        "block",
        "--resamples",
        200,
        "--plots",
        tmp_path / "p",
        "--all-plots",
    )
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "p" / "latency-hdr-memcached.png").stat().st_size > 10_000
    assert "latency by percentile" in (tmp_path / "p" / "latency-hdr-memcached.svg").read_text()


def test_one_measurement_per_arm_is_never_judged(tmp_path):
    """A single value per arm has no uncertainty: a zero-width interval must not yield a verdict."""

    csv = tmp_path / "one.csv"
    csv.write_text(
        "arm,host,boot,run,workload,iteration,metric,value,unit\n"
        "pte,h,b1,r1,boot-memory,1,mem_free_kb,1000000,kB\n"
        "block,h,b2,r2,boot-memory,1,mem_free_kb,1100000,kB\n"
    )
    r = bench(
        "analyze", "--csv", csv, "--baseline", "pte", "--candidate", "block", "--format", "json", "--claims", CLAIMS
    )
    assert r.returncode == 0, r.stderr
    import json

    claim = next(c for c in json.loads(r.stdout)["claims"] if c["id"] == "boot-memory")
    assert claim["verdict"] == "not-judged"
    assert claim["warnings"][0].startswith("not judged: one boot per arm")


def test_crypt_run_is_never_compared_with_a_plain_one(tmp_path):
    """fio with dm-crypt in one arm and crypt=none in the other measured different stacks: no verdict."""
    import json

    rows = ["arm,host,boot,run,workload,iteration,metric,value,unit,note"]
    for arm, crypt, base in (("pte", "dm-crypt", 1000.0), ("block", "none", 2500.0)):
        for b in range(3):
            for i in range(3):
                note = json.dumps({"crypt": crypt}).replace('"', '""')
                rows.append(f'{arm},h,{arm}{b},r{arm}{b},fio-dmcrypt,{i + 1},iops,{base + 10 * b + i},IOPS,"{note}"')
    csv = tmp_path / "fio.csv"
    csv.write_text("\n".join(rows) + "\n")
    r = bench(
        "analyze", "--csv", csv, "--baseline", "pte", "--candidate", "block", "--format", "json", "--claims", CLAIMS
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    claim = next(c for c in out["claims"] if c["id"] == "dmcrypt-iops")
    assert claim["verdict"] == "not-judged"
    assert claim["warnings"][0].startswith("not judged: not comparable: crypt differs")


def test_plan_warns_on_simulated_and_noiseless_pilots(tmp_path):
    recs = ad.rows(np.random.default_rng(3), boots=3, iters=3)
    ad.write_runs(tmp_path / "sim", recs, simulated=True)
    r = bench("plan", tmp_path / "sim", "--baseline", "pte", "--candidate", "block", "--effect", 2)
    assert r.returncode == 0, r.stderr
    assert "warning: the pilot is SIMULATED" in r.stdout and "simulated timestamps" in r.stdout
    flat = [dict(x, value=100.0 if x["arm"] == "pte" else 103.0) for x in recs]  # no noise at all
    ad.write_runs(tmp_path / "flat", flat)
    r = bench("plan", tmp_path / "flat", "--baseline", "pte", "--candidate", "block", "--effect", 2, "--format", "json")
    out = json.loads(r.stdout)
    assert out["format"] == "benchctl-plan/1"
    assert "no noise at all" in out["plans"][0]["note"] and "inf" not in r.stdout


@pytest.mark.parametrize("claims", ["bbml2", "analysis/claims/bbml2.toml"])
def test_claims_by_name_or_hinted_path_work_outside_the_checkout(csv_path, tmp_path, claims):
    """The README's and the hints' `--claims` work in any directory (it failed with exit 3 outside)."""
    args = ["analyze", "--csv", csv_path, "--baseline", "pte", "--candidate", "block", "--claims", claims]
    r = deadline.run(
        [sys.executable, "-m", "benchctl", *map(str, [*args, "--resamples", 200, "--seed", 1, "--format", "json"])],
        timeout=300,
        phase="benchctl analyze --claims outside the checkout",
        text=True,
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert {c["id"] for c in json.loads(r.stdout)["claims"]} >= {"memcached-tlb", "boot-memory-total"}


def test_plan_refuses_a_claims_typo_as_analyze_does(tmp_path, csv_path):
    """plan used to accept a claim on a metric nobody produces (exit 0, a plan for nothing)."""
    c = tmp_path / "c.toml"
    c.write_text(
        '[[claim]]\nid = "ops"\nworkload = "memcached"\nmetric = "ops_per_secc"\ndirection = "increase"\nvalue = 3.5\n'
    )
    for cmd in ("plan", "analyze"):
        r = bench(cmd, "--csv", csv_path, "--baseline", "pte", "--candidate", "block", "--claims", c)
        one_line_error(r, "ops_per_secc")


def test_progress_estimate_leaves_out_what_came_before_the_first_step(monkeypatch, capsys):
    # issue 21: 5 s of loading, then 10 steps of 1 s each; the loading must not be taken for steps
    import time

    from benchctl.commands.common import progress_after

    clock = [0.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    progress = progress_after()
    clock[0] = 5.0
    said = {}
    for k in range(1, 11):
        progress(k, 10, f"w/m{k}")
        for line in capsys.readouterr().err.splitlines():
            said[k] = line
        clock[0] += 1.0
    assert said[3].endswith("(about 8 s left)")  # steps 3..10 at 1 s, not 5 + 2 s over 2 steps
    assert all(f"about {10 - k + 1} s left" in said[k] for k in said if 10 - k + 1 >= 3)
    assert "left" not in said[9]  # 2 s left: whole seconds are too coarse to print
