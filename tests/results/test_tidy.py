"""Loading the tidy table from CSV and run folders; bad input; export."""

import json
import time

import analysis_data as ad
import numpy as np
import pandas as pd
import pytest

from benchctl.errors import InputError
from benchctl.results.loader import load_csv, load_runs
from benchctl.results.table import COLUMNS, summarize_skipped, write_tidy


@pytest.fixture
def recs():
    return ad.rows(np.random.default_rng(0), boots=2, iters=3)


def test_csv_roundtrip_columns_and_types(tmp_path, recs):
    t = load_csv([ad.write_csv(tmp_path / "a.csv", recs)])
    assert list(t.df.columns[:9]) == COLUMNS
    assert len(t.df) == len(recs) and not t.skipped
    assert t.df["value"].dtype == float and t.df["iteration"].dtype == np.int64
    assert {b.boot for b in t.boots} == {r["boot"] for r in recs}
    assert all(b.started is not None for b in t.boots)


def test_csv_missing_columns_is_one_line_input_error(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("arm,host,boot,value\npte,h,b,1\n")
    with pytest.raises(InputError) as e:
        load_csv([p])
    msg = str(e.value)
    assert msg.startswith(f"{p}:1: missing column(s) run, workload, iteration, metric, unit")


def test_csv_bad_values_are_skipped_with_line_numbers(tmp_path, recs):
    recs[1]["value"] = "fast"
    recs[3]["value"] = "inf"
    recs[4]["iteration"] = "x"
    recs[5]["metric"] = ""
    t = load_csv([ad.write_csv(tmp_path / "a.csv", recs)])
    assert len(t.df) == len(recs) - 4
    by_line = {s.line: s.reason for s in t.skipped}
    assert by_line == {
        3: "value is not a number",
        5: "value is infinite",
        6: "iteration is not an integer",
        7: "empty arm, boot, workload or metric",
    }
    msgs = summarize_skipped(t.skipped)
    assert any(m.startswith(f"{tmp_path / 'a.csv'}: line 3: value is not a number") for m in msgs)


def test_csv_warmup_column_excluded(tmp_path, recs):
    for r in recs:
        r["warmup"] = "false"
    recs[0]["warmup"] = "true"
    t = load_csv([ad.write_csv(tmp_path / "a.csv", recs, extra=("t", "warmup"))])
    assert len(t.df) == len(recs) - 1


def test_not_a_csv_is_input_error(tmp_path):
    p = tmp_path / "x.csv"
    p.write_bytes(b"")
    with pytest.raises(InputError, match="not a readable CSV"):
        load_csv([p])
    with pytest.raises(InputError, match="no such file"):
        load_csv([tmp_path / "missing.csv"])


def test_run_folders_records_and_metadata(tmp_path, recs):
    ad.write_runs(tmp_path, recs, state="pte", tainted=True)
    t = load_runs([tmp_path])
    assert len(t.df) == len(recs)  # warm-up record excluded
    assert (t.df["value"] < 1e8).all()
    b = t.boots[0]
    assert b.kernel_release == "6.18.0-rc6" and b.governor == "performance"
    assert b.linear_map_before == "pte" and b.linear_map_after == "pte"
    assert b.tainted and "BUG" in b.taint_lines[0]
    assert b.kernel_cmdline == "root=/dev/vda1" and b.thp_enabled == "always"
    assert not b.simulated


def test_truncated_last_record_is_skipped_and_named(tmp_path, recs):
    d = ad.write_run(tmp_path, [r for r in recs if r["run"] == recs[0]["run"]], truncate_last=True)
    t = load_runs([d])
    n = sum(r["run"] == recs[0]["run"] for r in recs)
    assert len(t.df) == n - 1
    (s,) = t.skipped
    assert s.file.endswith("records.jsonl") and s.line == n + 1 and "truncated last record" in s.reason


def test_corrupted_middle_record(tmp_path, recs):
    d = ad.write_run(tmp_path, [r for r in recs if r["run"] == recs[0]["run"]])
    lines = (d / "records.jsonl").read_text().splitlines()
    lines[2] = lines[2][:10]
    (d / "records.jsonl").write_text("\n".join(lines) + "\n")
    t = load_runs([d])
    assert [(s.line, s.reason) for s in t.skipped] == [(3, "corrupted JSON record")]


def test_newer_fingerprint_format_is_named_and_metadata_ignored(tmp_path, recs):
    d = ad.write_run(
        tmp_path, [r for r in recs if r["run"] == recs[0]["run"]], env_before=ad.env("pte", fmt="benchctl-env/2")
    )
    t = load_runs([d])
    assert len(t.df) > 0
    assert any("env-before.json" in s.file and "newer" in s.reason for s in t.skipped)
    assert t.boots[0].linear_map_before is None


def test_simulated_runs_are_marked(tmp_path, recs):
    ad.write_runs(tmp_path, recs, simulated=True)
    t = load_runs([tmp_path])
    assert t.df["simulated"].all() and all(b.simulated for b in t.boots)


def test_missing_run_dir_is_input_error(tmp_path):
    with pytest.raises(InputError, match="no such directory"):
        load_runs([tmp_path / "nope"])
    with pytest.raises(InputError, match="no run folders"):
        load_runs([tmp_path])


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_write_tidy_roundtrip(tmp_path, recs, fmt):
    ad.write_runs(tmp_path / "r", recs)
    t = load_runs([tmp_path / "r"])
    out = tmp_path / f"out.{fmt}"
    write_tidy(t.df, out, fmt)
    if fmt == "csv":
        back = load_csv([out]).df
    else:
        back = pd.DataFrame(json.loads(out.read_text()))
    assert list(back.columns[:9]) == COLUMNS
    assert sorted(back["value"]) == pytest.approx(sorted(t.df["value"]))
    assert not list(tmp_path.glob(".out*"))  # no temp file left


def test_csv_load_is_vectorised(tmp_path):
    n = 200_000
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "arm": np.where(np.arange(n) % 2, "pte", "block"),
            "host": "h",
            "boot": (np.arange(n) // 1000).astype(str),
            "run": "r",
            "workload": "w",
            "iteration": np.arange(n) % 1000,
            "metric": "m",
            "value": rng.normal(size=n),
            "unit": "u",
        }
    )
    df.loc[7, "value"] = np.nan
    p = tmp_path / "big.csv"
    df.to_csv(p, index=False)
    t0 = time.perf_counter()
    t = load_csv([p])
    assert time.perf_counter() - t0 < 4.0  # ~0.3 s idle; slack for a busy 2-core box
    assert len(t.df) == n - 1 and t.skipped[0].line == 9
