"""`benchctl run` end to end for the storage workloads and the bbml2 suite, live on this machine.

Each run uses its own state dir (BENCHCTL_STATE_DIR) and results dir, and
must leave no mount, loop device or temp dir of its own behind, also after
SIGINT.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchctl.errors import EXIT_INTERRUPTED, EXIT_RESOURCE
from benchctl.run.storage import blockdev

sys.path.insert(0, str(Path(__file__).parent))
import deadline  # tests/support/deadline.py: waits with a deadline
from test_storage_drivers import _why_not_live, leftovers  # noqa: E402

pytestmark = [pytest.mark.live, pytest.mark.skipif(_why_not_live() is not None, reason=_why_not_live() or "")]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    e = dict(os.environ, BENCHCTL_STATE_DIR=str(tmp_path / "state"), TMPDIR=str(tmp))
    yield e
    assert leftovers(str(tmp)) == {"mounts": [], "loops": [], "tempdirs": []}, f"left behind: {leftovers(str(tmp))}"


def benchctl(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return deadline.run(
        [sys.executable, "-m", "benchctl", *args], timeout, phase=f"benchctl {args[:2]}", env=env, text=True
    )


def run_dirs(out: Path) -> list[Path]:
    return sorted(p for p in out.glob("*/*") if (p / "run.json").exists())


def records(d: Path) -> list[dict]:
    return [json.loads(ln) for ln in (d / "records.jsonl").read_text().splitlines() if ln.strip()]


def test_run_seqread_xfs_quick(env, tmp_path: Path) -> None:
    p = benchctl(["run", "seqread-xfs", "--preset", "quick", "--arm", "demo", "-o", str(tmp_path / "r")], env)
    assert p.returncode == 0, p.stderr
    (d,) = run_dirs(tmp_path / "r")
    run = json.loads((d / "run.json").read_text())
    assert run["status"] == "complete" and run["iterations_done"] == 5
    assert run["run_info"]["stack"]["fs"] == "xfs"
    bw = [r for r in records(d) if r["metric"] == "bandwidth_bytes_s" and not r["warmup"]]
    assert len(bw) == 5 and all(r["value"] > 1e6 and r["note"]["resident_fraction"] >= 0.99 for r in bw)
    assert (d / "raw/iter-0001/xfs_io.txt").read_text().startswith("read 1073741824/1073741824 bytes")
    assert_quiesced(d, p.stderr, "bandwidth_bytes_s")


def assert_quiesced(d: Path, stderr: str, metric: str) -> None:
    """Issue 21: every measured record says how its pass started; run.json and stderr sum it up."""
    run = json.loads((d / "run.json").read_text())
    rule = run["spec"]["quiesce"]
    recs = [r for r in records(d) if r["metric"] == metric and not r["warmup"]]
    for r in recs:
        n = r["note"]
        assert n["quiesce_s"] >= 0 and n["dirty_kb"] >= 0 and n["writeback_kb"] >= 0
        inside = n["dirty_kb"] <= rule["max_dirty_kb"] and n["writeback_kb"] <= rule["max_dirty_kb"]
        assert n.get("not_quiesced", False) is not inside, "flagged exactly when the state at start missed the rule"
    q = run["quiesce"]
    assert q["iterations"] == len(recs) and q["not_quiesced"] == [
        r["iteration"] for r in recs if "not_quiesced" in r["note"]
    ]
    cv = run["variance"]["metrics"][metric]
    assert cv["n"] == len(recs) and cv["cv_pct"] is not None and cv["cv_pct"] >= 0
    assert f"within-boot CV (sd ddof=1 / mean) over {len(recs)} iterations" in stderr
    assert f"of {len(recs)} iterations started outside it" in " ".join(stderr.split())


def test_run_fio_crypt_none_is_recorded_everywhere(env, tmp_path: Path) -> None:
    p = benchctl(
        [
            "run",
            "fio-dmcrypt",
            "--preset",
            "quick",
            "--arm",
            "demo",
            "--set",
            "crypt=none",
            "--set",
            "size=32M",
            "-o",
            str(tmp_path / "r"),
        ],
        env,
    )
    assert p.returncode == 0, p.stderr
    (d,) = run_dirs(tmp_path / "r")
    run = json.loads((d / "run.json").read_text())
    assert run["status"] == "complete" and run["overrides"]["crypt"] == "none"
    assert run["run_info"]["stack"]["crypt"] == "none"
    assert any("crypt=none" in w for w in run["warnings"])
    recs = [r for r in records(d) if not r["warmup"]]
    assert {r["metric"] for r in recs} >= {
        "iops",
        "bandwidth_kib_s",
        "clat_mean_us",
        "clat_p50_us",
        "clat_p99_us",
        "clat_p999_us",
    }
    fio_recs = [r for r in recs if r["metric"] in ("iops", "bandwidth_kib_s", "clat_mean_us", "clat_p99_us")]
    assert fio_recs and all(r["note"]["crypt"] == "none" for r in fio_recs)
    assert_quiesced(d, p.stderr, "iops")


def test_run_fio_dmcrypt_refused_without_device_mapper(env, tmp_path: Path) -> None:
    if blockdev.has_device_mapper():
        pytest.skip("this kernel has device-mapper: nothing to refuse")
    p = benchctl(["run", "fio-dmcrypt", "--preset", "quick", "--arm", "demo", "-o", str(tmp_path / "r")], env)
    assert p.returncode == EXIT_RESOURCE
    last = p.stderr.strip().splitlines()[-1]
    assert last.startswith("benchctl: error: this kernel has no device-mapper") and "--set crypt=none" in last
    assert "Traceback" not in p.stderr


def test_sigint_during_fio_leaves_nothing(env, tmp_path: Path) -> None:
    with deadline.Console(
        [
            sys.executable,
            "-m",
            "benchctl",
            "run",
            "fio-dmcrypt",
            "--preset",
            "quick",
            "--arm",
            "demo",
            "--set",
            "crypt=none",
            "--iterations",
            "50",
            "-o",
            str(tmp_path / "r"),
        ],
        log=tmp_path / "run.log",
        timeout=300,
        name="benchctl run",
        env=env,
    ) as con:
        con.expect("iteration 1/50", timeout=120)
        con.proc.send_signal(signal.SIGINT)
        rc = con.wait(timeout=120)
    assert rc == EXIT_INTERRUPTED, "\n".join(con.tail())
    (d,) = run_dirs(tmp_path / "r")
    run = json.loads((d / "run.json").read_text())
    assert run["status"] == "interrupted"
    assert any(r["iteration"] == 1 and r["metric"] == "iops" for r in records(d)), (
        "iteration 1 was reported but not kept"
    )
    assert not list((tmp_path / "state" / "ledgers").glob("*.json")), "ledger kept: something was not removed"


@pytest.mark.slow
def test_suite_bbml2_quick_crypt_none(env, tmp_path: Path) -> None:
    p = benchctl(
        [
            "run",
            "--suite",
            "bbml2",
            "--preset",
            "quick",
            "--arm",
            "demo",
            "--set",
            "crypt=none",
            "--iterations",
            "1",
            "--warmup",
            "0",
            "-o",
            str(tmp_path / "r"),
        ],
        env,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    dirs = run_dirs(tmp_path / "r")
    runs = [json.loads((d / "run.json").read_text()) for d in dirs]
    assert sorted(r["workload"] for r in runs) == ["boot-memory", "fio-dmcrypt", "memcached", "seqread-xfs"]
    assert len({r["boot_id"] for r in runs}) == 1 and all(r["status"] == "complete" for r in runs)
    fio = next(r for r in runs if r["workload"] == "fio-dmcrypt")
    assert fio["overrides"]["crypt"] == "none"


def _procs_mentioning(path: str) -> list[str]:
    out = []
    for cmd in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmd.read_bytes().split(b"\0")
        except OSError:
            continue
        if any(path.encode() in a for a in argv) and b"pytest" not in b" ".join(argv):
            out.append(b" ".join(argv).decode(errors="replace")[:200])
    return out


@pytest.mark.parametrize("delay", [0.5, 0.8, 1.1, 1.4])
@pytest.mark.parametrize("workload", [["seqread-xfs"], ["fio-dmcrypt", "--set", "crypt=none", "--set", "size=32M"]])
def test_sigint_at_any_moment_leaves_nothing(env, tmp_path: Path, workload: list[str], delay: float) -> None:
    """SIGINT during setup, warm-up, measurement or teardown: no mount, loop, temp dir or orphaned tool."""
    proc = deadline.spawn(
        [
            sys.executable,
            "-m",
            "benchctl",
            "run",
            *workload,
            "--preset",
            "quick",
            "--arm",
            "sig",
            "-o",
            str(tmp_path / "r"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    err = deadline.communicate(proc, 120, f"SIGINT after {delay} s: benchctl's clean-up")[1]
    assert proc.returncode in (0, EXIT_INTERRUPTED, 1), err
    time.sleep(0.2)
    assert _procs_mentioning(env["TMPDIR"]) == [], "a tool outlived benchctl"
