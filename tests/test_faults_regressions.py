"""Focused regression tests for bugs the fault-injection suite (tests/faults) found.

Each names the scenario that found it; the scenario itself stays in tests/faults.
"""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest

from benchctl.errors import InputError


def test_records_reader_streams_a_garbage_file(tmp_path):
    """'50 MB garbage files': export read the whole records.jsonl into one str (8x its size in memory)."""
    from benchctl.results.loader import MAX_SKIPPED_LINES, read_records

    p = tmp_path / "records.jsonl"
    good = b'{"run":"r","arm":"a","host":"h","boot":"b","workload":"w","iteration":1,"metric":"m","value":1.0}\n'
    with open(p, "wb") as f:
        f.write(good)
        for _ in range(16):
            f.write(os.urandom(1 << 20))
        f.write(b"\n" + good)
    size = p.stat().st_size
    skipped: list = []
    tracemalloc.start()
    try:
        rows = read_records(p, skipped)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [r["_line"] for r in rows][0] == 1 and len(rows) == 2
    assert peak < size / 2, f"{peak / 2**20:.0f} MiB peak for a {size / 2**20:.0f} MiB file"
    assert len(skipped) <= MAX_SKIPPED_LINES + 1
    assert all(str(p) == s.file for s in skipped)


def test_records_reader_still_names_a_torn_last_line(tmp_path):
    from benchctl.results.loader import read_records

    p = tmp_path / "records.jsonl"
    p.write_bytes(b'{"iteration":1,"metric":"m","value":1.0}\n{"iteration":2,"met')
    skipped: list = []
    rows = read_records(p, skipped)
    assert len(rows) == 1 and skipped[0].line == 2 and "truncated" in skipped[0].reason


def test_import_refuses_binary_data_before_reading_it_all(tmp_path):
    """'50 MB garbage files': import decoded 50 MB of random bytes (450 MB of memory) before refusing them."""
    from benchctl.results.importer import import_file

    p = tmp_path / "out.txt"
    p.write_bytes(b"ALL STATS\x00" + os.urandom(4096))
    with pytest.raises(InputError, match="NUL bytes"):
        import_file("memtier", p)


def test_meminfo_parser_rejects_unicode_digits():
    """'parsers outside benchctl/parsers: fuzzed': '²'.isdigit() is True but int('²') raises ValueError."""
    from benchctl.run.drivers.boot_memory import parse_meminfo

    out = parse_meminfo("MemTotal: 100 kB\nMemFree: \u00b2 kB\n")
    assert out == {"MemTotal": 100}


def test_binary_claims_file_is_input_error(tmp_path):
    """'claims files with wrong types': a non-UTF-8 claims file was a UnicodeDecodeError traceback."""
    from benchctl.claims import load_claims

    p = tmp_path / "c.toml"
    p.write_bytes(b"\xaf\x00\xff garbage")
    with pytest.raises(InputError, match=str(p)):
        load_claims(p)


@pytest.mark.live
def test_run_json_phase_marker(tmp_path):
    """run.json says where a run is (the fault scenarios cross-check their pauses against it)."""
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, BENCHCTL_STATE_DIR=str(tmp_path / "state"), PYTHONPATH=str(root))
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchctl",
            "run",
            "boot-memory",
            "--arm",
            "x",
            "--iterations",
            "2",
            "--warmup",
            "1",
            "-o",
            str(tmp_path / "r"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
    )
    assert p.returncode == 0, p.stderr
    man = json.loads((Path(p.stdout.strip().splitlines()[-1]) / "run.json").read_text())
    assert man["phase"] == "done" and man["phase_index"] is None and man["status"] == "complete"
