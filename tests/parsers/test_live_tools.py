"""Run the real tools here briefly and parse what they print (pytest -m live)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from benchctl.parsers import PARSERS, detect
from benchctl.parsers.versions import VERSION_COMMANDS, parse_version

pytestmark = pytest.mark.live


def _need(tool: str) -> str:
    path = shutil.which(tool) or (f"/usr/sbin/{tool}" if shutil.which(f"/usr/sbin/{tool}") else None)
    if not path:
        pytest.skip(f"{tool} is not installed here")
    return path


def test_fio_json_plus_on_tmpfs():
    fio = _need("fio")
    with tempfile.TemporaryDirectory(dir="/dev/shm", prefix="benchctl-fio-") as d:
        out = subprocess.run(
            [
                fio,
                f"--directory={d}",
                "--name=live",
                "--rw=write",
                "--bs=4k",
                "--size=16M",
                "--ioengine=sync",
                "--thread",
                "--group_reporting",
                "--output-format=json+",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    assert detect(out) == "fio-json"
    r = PARSERS["fio-json"](out)
    assert r.info["io_bytes"] == 16 << 20 and r.info["total_ios"] == 4096
    assert r.get("iops").value > 0 and r.get("clat_p99_us").value >= r.get("clat_p50_us").value
    for pair in r.info["percentile_crosscheck"].values():
        assert pair["printed_ns"] == pair["bins_ns"]


def test_xfs_io_pwrite_pread():
    xfs_io = _need("xfs_io")
    with tempfile.TemporaryDirectory(prefix="benchctl-xfsio-") as d:
        path = f"{d}/f"
        out = subprocess.run(
            [xfs_io, "-f", "-c", "pwrite -b 1m 0 16m", "-c", "pread -b 1m 0 16m", "-c", "pread -C -b 1m 0 16m", path],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
    assert detect(out) == "xfs_io"
    r = PARSERS["xfs_io"](out)
    assert [c["total"] for c in r.info["commands"]] == [16 << 20] * 3
    assert [m.note["command_index"] for m in r.measurements] == [0, 1, 2]
    assert all(m.value > 0 for m in r.measurements)


def test_perf_stat_csv_task_clock():
    perf = _need("perf")
    proc = subprocess.run(
        [perf, "stat", "-x,", "-e", "task-clock,page-faults", "--", "true"], capture_output=True, text=True, timeout=60
    )
    if proc.returncode != 0:
        pytest.skip(f"perf stat cannot run here: {proc.stderr.strip()[:200]}")
    r = PARSERS[detect(proc.stderr)](proc.stderr)
    t = r.info["totals"]["task-clock"]
    assert t["status"] == "counted" and t["value"] > 0 and t["unit"] == "msec"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_memcaslap_stats_against_memcached():
    memcached = _need("memcached")
    memcaslap = _need("memcaslap")
    port = _free_port()
    server = subprocess.Popen(
        [memcached, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-u", "root", "-m", "64", "-t", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(50):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        out = subprocess.run(
            [memcaslap, "-s", f"127.0.0.1:{port}", "-T", "1", "-c", "4", "-t", "2s", "-S", "1s"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    finally:
        server.terminate()
        server.wait(timeout=10)
    r = PARSERS["memaslap"](out)
    assert r.get("ops_per_sec").value > 0
    p99 = r.get("p99_latency_us")
    assert p99.note["latency_resolution"] == "coarse-pow2"
    lo, hi = p99.note["bracket_us"]
    assert hi == 2 * lo or lo == 0


@pytest.mark.parametrize("tool", sorted(VERSION_COMMANDS))
def test_versions(tool):
    argv, _ = VERSION_COMMANDS[tool]
    _need(argv[0])
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert parse_version(tool, out.stdout + out.stderr)[0].isdigit()
