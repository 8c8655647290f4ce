"""The run folder: written as produced, readable at any point, refuses what it cannot trust."""

from __future__ import annotations

import json
import os

import pytest

from benchctl.errors import InputError, ResourceError
from benchctl.results.store import RunFolder, effective_status


def make(tmp_path, **kw):
    return RunFolder.create(tmp_path / "results", host="h", workload="memcached", arm="pte", boot_id="b1", **kw)


def test_create_record_reopen(tmp_path):
    f = make(tmp_path, iterations_requested=2)
    assert f.path.parent.name == "h" and (f.path / "raw").is_dir()
    f.record(1, "ops_per_sec", 100.0, "ops/s", note={"latency_resolution": "coarse-pow2"})
    f.record(0, "ops_per_sec", 90.0, "ops/s", warmup=True)
    f.record(2, "ops_per_sec", 101.0, "ops/s")
    g = RunFolder.open(f.path)
    recs, skipped = g.records()
    assert [r["value"] for r in recs] == [100.0, 90.0, 101.0] and not skipped
    assert recs[0]["boot"] == "b1" and recs[0]["note"]["latency_resolution"] == "coarse-pow2"
    assert g.completed_iterations() == {1, 2}, "warm-up records are not iterations"
    assert g.manifest["status"] == "running" and g.manifest["iterations_requested"] == 2


def test_non_finite_values_are_refused(tmp_path):
    f = make(tmp_path)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError):
            f.record(1, "x", bad, "u")
    assert f.records() == ([], [])


def test_torn_last_line_is_skipped_not_fatal(tmp_path):
    f = make(tmp_path)
    f.record(1, "ops_per_sec", 1.0, "ops/s")
    with open(f.path / "records.jsonl", "ab") as fh:
        fh.write(b'{"run": "x", "iteration": 2, "met')  # a write cut by SIGKILL
    recs, skipped = RunFolder.open(f.path).records()
    assert len(recs) == 1 and skipped[0][0] == 2 and "truncated" in skipped[0][1]


def test_manifest_replaced_atomically(tmp_path):
    f = make(tmp_path)
    f.update(iterations_done=1)
    leftovers = [p for p in os.listdir(f.path) if p.endswith(".tmp")]
    assert leftovers == [] and json.loads((f.path / "run.json").read_text())["iterations_done"] == 1


def test_refuses_newer_format_and_non_folders(tmp_path):
    f = make(tmp_path)
    m = json.loads((f.path / "run.json").read_text())
    m["format"] = "benchctl-run/2"
    (f.path / "run.json").write_text(json.dumps(m))
    with pytest.raises(InputError, match="newer benchctl"):
        RunFolder.open(f.path)
    with pytest.raises(InputError, match="no run.json"):
        RunFolder.open(tmp_path)
    (f.path / "run.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        RunFolder.open(f.path)


def test_existing_folder_and_symlinked_results_are_refused(tmp_path):
    make(tmp_path, run_id="fixed")
    with pytest.raises(ResourceError, match="--resume"):
        make(tmp_path, run_id="fixed")
    target = tmp_path / "elsewhere"
    target.mkdir()
    (tmp_path / "planted").symlink_to(target)
    with pytest.raises(ResourceError, match="symlink"):
        RunFolder.create(tmp_path / "planted", host="h", workload="w", arm="a")
    assert not any(target.iterdir())


def test_killed_run_reads_as_interrupted(tmp_path):
    f = make(tmp_path, owner={"pid": 2**22 + 11, "start_time": 5, "boot_id": "x"})
    assert effective_status(f.manifest) == "interrupted"
    f.update(status="complete")
    assert effective_status(f.manifest) == "complete"


def test_resume_sets_aside_torn_lines_and_half_iterations(tmp_path):
    f = make(tmp_path)
    for metric in ("a", "b", "c"):
        f.record(1, metric, 1.0, "u")
    f.update(completed_iterations=[1], iterations_done=1)
    f.record(2, "a", 2.0, "u")  # killed after the first record of iteration 2
    with open(f.path / "records.jsonl", "ab") as fh:
        fh.write(b'{"iteration": 2, "metric": "b", "val')  # and in the middle of the second
    assert f.whole_iterations() == {1}
    assert f.set_aside_partial({1}) == 2
    recs, skipped = f.records()
    assert {(r["iteration"], r["metric"]) for r in recs} == {(1, "a"), (1, "b"), (1, "c")} and not skipped
    aside = (f.path / "records.set-aside.jsonl").read_text().splitlines()
    assert len(aside) == 2 and '"metric":"a"' in aside[0] and aside[1].endswith('"val')
    assert (f.path / "records.jsonl").read_bytes().endswith(b"\n")
    assert f.set_aside_partial({1}) == 0, "idempotent"


def test_complete_iterations_of_older_folders_come_from_records(tmp_path):
    f = make(tmp_path)
    f.record(1, "a", 1.0, "u")
    f.record(3, "a", 1.0, "u")
    assert f.whole_iterations() == {1, 3}


@pytest.mark.parametrize("host", ["=", "web/01", "a b"])
def test_planned_path_is_where_create_puts_the_run(tmp_path, host):
    """The host lock names the folder before it exists (CI's hostname is "=")."""
    f = RunFolder.create(tmp_path / "results", host=host, workload="memcached", arm="pte", run_id="r1")
    assert RunFolder.planned_path(tmp_path / "results", host, "r1") == f.path
    assert f.path.parent.parent == tmp_path / "results"
