"""Issue 13's examples, re-run: each gives the behaviour asked for (and failed before it).

- two memcached runs of one boot as arms try/try2: no verdict of any kind;
- one fio file imported three times per arm (the other arm a 2x copy):
  duplicate data, no confirmation, no library warning on stderr;
- xfs_io pwrite imported as the pread workload: not comparable (op differs);
- a fio run on plain ext4 (no dm-crypt): imported as what it is, and never
  compared with a dm-crypt run;
- a claim naming a metric nobody produces: an error with the nearest name;
- a CSV value that is not a number: an error unless --skip-bad-rows.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import analysis_data as ad
import numpy as np
import pytest

from benchctl.cli import cli
from tests.conftest import TOOLS

REPO = Path(__file__).resolve().parents[2]
CLAIMS = REPO / "analysis" / "claims" / "bbml2.toml"


def benchctl(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchctl", *args], capture_output=True, text=True, timeout=timeout)


def analyze_json(*args: str) -> tuple[dict, str]:
    p = benchctl("analyze", *args, "--format", "json", "--claims", str(CLAIMS), "--resamples", "500")
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout), p.stderr


def claim(out: dict, cid: str) -> dict:
    return next(c for c in out["claims"] if c["id"] == cid)


def test_same_boot_as_two_arms_gets_no_verdict(tmp_path):
    """try/try2 on one boot (3 iterations each, the values of the run in the issue): not judged, and why."""
    boot = "983b5cba-99bc-43b8-b647-9ba3c2ed9dc5"
    values = {"try": [107843.0, 97557.5, 85939.8], "try2": [94334.8, 83976.9, 42015.5]}
    for arm, vals in values.items():
        recs = [
            {
                "arm": arm,
                "host": "vm",
                "boot": boot,
                "run": f"run-{arm}",
                "workload": "memcached",
                "iteration": i,
                "metric": "ops_per_sec",
                "value": v,
                "unit": "ops/s",
                "t": 1_764_140_000.0 + 10 * i + (arm == "try2") * 60,
            }
            for i, v in enumerate(vals, 1)
        ]
        ad.write_run(tmp_path, recs, state="block")
    out, _ = analyze_json(str(tmp_path), "--baseline", "try", "--candidate", "try2")
    ops = claim(out, "memcached-ops")
    assert ops["verdict"] == "not-judged"  # was NOT-REPRODUCED
    assert ops["warnings"][0].startswith("not judged: boot 983b5cba-99b is in both arms")
    assert ops["change_pct"] is not None  # the numbers are still there to read


def _fio_imports(tmp_path: Path) -> Path:
    doubled = json.loads((TOOLS / "fio-json.json").read_text())
    for job in doubled["jobs"]:
        for d in ("read", "write"):
            job[d]["iops"] *= 2
            job[d]["bw"] *= 2
    copy = tmp_path / "fio-2x.json"
    copy.write_text(json.dumps(doubled))
    out = tmp_path / "res"
    for arm, f in (("pte", TOOLS / "fio-json.json"), ("block", copy)):
        for _ in range(3):
            p = benchctl("import", "fio", str(f), "--arm", arm, "-o", str(out), "--workload", "fio-dmcrypt")
            assert p.returncode == 0, p.stderr
    return out


def test_one_file_imported_three_times_is_duplicate_data_not_a_confirmation(tmp_path):
    out, stderr = analyze_json(str(_fio_imports(tmp_path)), "--baseline", "pte", "--candidate", "block")
    iops = claim(out, "dmcrypt-iops")
    assert iops["verdict"] == "not-judged"  # was CONFIRMED +100.00 % [+100.00, +100.00]
    assert iops["warnings"][0].startswith("not judged: duplicate data")
    assert any("byte-identical copies of fio-json.json" in c for c in out["checks"])
    assert "Precision loss" not in stderr and "Warning" not in stderr


@pytest.mark.skipif(not shutil.which("xfs_io"), reason="xfs_io (xfsprogs) not installed")
def test_pwrite_imported_as_the_pread_workload_is_not_compared(tmp_path):
    """Real xfs_io runs on a small file: preads in one arm, pwrites (filed as seqread-xfs) in the other."""
    f = tmp_path / "data"
    res = tmp_path / "res"
    for i in range(3):
        for arm, cmd in (("block", "pwrite -b 1m 0 8m"), ("pte", "pread -b 1m 0 8m")):
            out = subprocess.run(["xfs_io", "-f", "-c", cmd, str(f)], capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, out.stderr
            (tmp_path / f"{arm}-{i}.txt").write_text(out.stdout)
            p = benchctl(
                "import",
                "xfs_io",
                str(tmp_path / f"{arm}-{i}.txt"),
                "--arm",
                arm,
                "-o",
                str(res),
                "--workload",
                "seqread-xfs",
                "--set",
                "fs=tmpfs",
            )
            assert p.returncode == 0, p.stderr
    out, _ = analyze_json(str(res), "--baseline", "pte", "--candidate", "block")
    bw = claim(out, "seqread-bw")
    assert bw["verdict"] == "not-judged"  # was NOT-REPRODUCED at -98 %
    assert bw["warnings"][0] == "not judged: not comparable: op differs between arms (pte: read; block: write)"


def test_fio_on_plain_ext4_is_imported_as_what_it_is(tmp_path, cli_runner):
    """fio-json.json ran on ext4 on loop0 (no dm-crypt): not filed as fio-dmcrypt, crypt recorded as none."""
    res = cli_runner.invoke(cli, ["import", str(TOOLS / "fio-json.json"), "--arm", "pte", "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "detected fio output" in res.stderr and "crypt=none" in res.stderr and "loop0" in res.stderr
    assert "--set fs=" in res.stderr  # what the output cannot show is said
    folder = Path(res.stdout.strip().splitlines()[-1])
    recs = [json.loads(x) for x in (folder / "records.jsonl").read_text().splitlines()]
    assert {r["workload"] for r in recs} == {"fio"}
    iops = next(r for r in recs if r["metric"] == "iops")
    assert iops["note"]["crypt"] == "none" and iops["note"]["op"] == "write" and iops["note"]["bs"] == "4k"


def test_plain_ext4_import_is_never_compared_with_a_dm_crypt_run(tmp_path):
    rng = np.random.default_rng(5)
    recs = ad.rows(
        rng, boots=3, iters=3, workload="fio-dmcrypt", metric="iops", unit="IOPS", arms=(("block", 70000.0), ("x", 0.0))
    )
    ad.write_runs(
        tmp_path,
        [dict(r, note={"crypt": "dm-crypt", "direction": "write"}) for r in recs if r["arm"] == "block"],
        state="block",
    )
    for _ in range(3):
        p = benchctl(
            "import", str(TOOLS / "fio-json.json"), "--arm", "pte", "-o", str(tmp_path), "--workload", "fio-dmcrypt"
        )
        assert p.returncode == 0, p.stderr
    out, _ = analyze_json(str(tmp_path), "--baseline", "pte", "--candidate", "block")
    c = claim(out, "dmcrypt-iops")
    assert c["verdict"] == "not-judged"
    assert any(w.startswith("not judged: not comparable: crypt differs") for w in c["warnings"][:1])


def test_a_claim_naming_no_metric_is_an_error_with_the_nearest_name(tmp_path):
    rng = np.random.default_rng(1)
    ad.write_runs(tmp_path, ad.rows(rng, boots=3, iters=3))
    bad = tmp_path / "claims.toml"
    bad.write_text(CLAIMS.read_text().replace('metric = "ops_per_sec"', 'metric = "ops_per_second"'))
    p = benchctl("analyze", str(tmp_path), "--baseline", "pte", "--candidate", "block", "--claims", str(bad))
    assert p.returncode == 3  # was 0 with INCONCLUSIVE
    line = next(i for i, x in enumerate(bad.read_text().splitlines(), 1) if "ops_per_second" in x)
    assert p.stderr.strip() == (
        f"benchctl: error: {bad}:{line}: claim 'memcached-ops': workload memcached has "
        "no metric 'ops_per_second' (nearest: ops_per_sec)"
    )


def test_a_csv_value_that_is_not_a_number_is_an_error_unless_skipped(tmp_path):
    recs = ad.rows(np.random.default_rng(2), boots=3, iters=2)
    csv = ad.write_csv(tmp_path / "t.csv", recs)
    lines = csv.read_text().splitlines()
    cells = lines[3].split(",")
    cells[7] = "12,5"  # a decimal comma
    lines[3] = ",".join(cells[:7]) + ',"12,5",' + ",".join(cells[8:])
    csv.write_text("\n".join(lines) + "\n")
    p = benchctl("analyze", "--csv", str(csv), "--baseline", "pte", "--candidate", "block")
    assert p.returncode == 3  # was 0, the row silently gone
    assert p.stderr.strip() == (
        f"benchctl: error: {csv}:4: value is not a number; fix the table or give --skip-bad-rows"
    )
    p = benchctl("analyze", "--csv", str(csv), "--baseline", "pte", "--candidate", "block", "--skip-bad-rows")
    assert p.returncode == 0 and "skipped 1 CSV row(s) (--skip-bad-rows)" in p.stderr


def test_import_caveats_and_defaults_go_to_the_terminal(tmp_path, cli_runner):
    """Coarse percentiles and unsupported counters are said on stderr, not only written into run.json."""
    r = cli_runner.invoke(
        cli, ["import", str(TOOLS / "mutilate-closedloop-peak.txt"), "--arm", "a", "-o", str(tmp_path)]
    )
    assert r.exit_code == 0, r.output
    assert "caveat" in r.stderr and "log-bins-10pct buckets up to 10 % wide (coarse)" in " ".join(r.stderr.split())
    assert "host: unknown (give --host NAME" in r.stderr and "give --boot ID" in " ".join(r.stderr.split())
    assert "next: benchctl analyze" in r.stderr
    r = cli_runner.invoke(
        cli,
        [
            "import",
            str(TOOLS / "perf-stat-x-hw-unsupported.txt"),
            "--arm",
            "a",
            "-o",
            str(tmp_path),
            "--host",
            "h1",
            "--boot",
            "b1",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "cycles: <not supported>" in " ".join(r.stderr.split()) and "host: unknown" not in r.stderr
    assert max(len(x) for x in r.stderr.splitlines() if str(tmp_path) not in x) <= 72  # a path is not cut


@pytest.mark.parametrize(
    "args, message",
    [
        (("run", "memcached", "--arm", "a", "--set", "nosuchparam=1"), "--set nosuchparam: workload memcached has"),
        (("run", "memcached", "--arm", "a", "--preset", "nosuch"), "--preset nosuch: workload memcached has no"),
        (("run", "nosuch", "--arm", "a"), "no workload 'nosuch' (known: "),
        (("analyze", "--csv", "x.csv", "--baseline", "pte", "--candidate", "pte"), "are both 'pte'"),
        (
            ("analyze", "--csv", "x.csv", "--baseline", "a", "--candidate", "b", "--brief", "--format", "json"),
            "--brief is a text report",
        ),
        (("export", ".", "--format", "pyperf"), "give -o DIR"),
    ],
)
def test_bad_option_values_exit_2_with_a_plain_message(args, message):
    p = benchctl(*args)
    assert p.returncode == 2, (p.returncode, p.stderr)
    line = p.stderr.strip()
    assert line.startswith("benchctl: error: ") and message in line and "\n" not in line
    assert ".toml" not in line and "literal" not in line and "Traceback" not in line
