"""Crash-safe writers: atomic replace never exposes a partial document; jsonl readers skip a torn tail."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from benchctl.osutil.fsutil import append_json, atomic_write_json, read_jsonl


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    p = tmp_path / "run.json"
    atomic_write_json(p, {"a": 1})
    atomic_write_json(p, {"a": 2})
    assert json.loads(p.read_text()) == {"a": 2}
    assert sorted(x.name for x in tmp_path.iterdir()) == ["run.json"]


def test_atomic_write_refuses_nan(tmp_path):
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "x.json", {"v": float("nan")})
    assert list(tmp_path.iterdir()) == []


def test_read_jsonl_skips_torn_last_line_and_corrupt_lines(tmp_path):
    p = tmp_path / "records.jsonl"
    append_json(p, {"i": 1})
    with open(p, "ab") as f:
        f.write(b"this is not json\n")
    append_json(p, {"i": 2})
    with open(p, "ab") as f:
        f.write(b'{"i": 3, "val')  # a writer killed mid-line
    recs, skipped = read_jsonl(p)
    assert [r["i"] for r in recs] == [1, 2]
    assert [n for n, _ in skipped] == [2, 4]
    assert "truncated" in skipped[1][1]


def test_appends_survive_sigkill_of_writer(tmp_path):
    """A writer killed at a random moment leaves only whole lines, except possibly the last."""
    p = tmp_path / "r.jsonl"
    code = textwrap.dedent(f"""
        from benchctl.osutil.fsutil import append_json
        i = 0
        while True:
            append_json({str(p)!r}, {{"i": i, "pad": "x" * 200}})
            i += 1
    """)
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        for _ in range(200):
            if p.exists() and p.stat().st_size > 20000:
                break
            import time

            time.sleep(0.01)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    recs, skipped = read_jsonl(p)
    assert len(recs) > 10
    assert [r["i"] for r in recs] == list(range(len(recs)))
    assert len(skipped) <= 1
