"""Live: `benchctl run memcached --preset quick` for real here, then export; nothing left running."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from live_helpers import benchctl, live_processes_of, memcached_token_processes, needs_memcached, needs_memtier

from benchctl.errors import InputError, ToolMissingError
from benchctl.parsers import parse
from benchctl.run.drivers.memcached.children import cpu_plan
from benchctl.run.drivers.memcached.loadgen import generator_argv, parse_output, pick_generator, preload_argv
from benchctl.run.specs import load_workload

DRIVEN = Path(__file__).parents[1] / "fixtures" / "parsers" / "memtier-driven"

pytestmark = []


@pytest.mark.live
@needs_memcached
def test_quick_run_writes_a_complete_folder(tmp_path):
    res = tmp_path / "results"
    p = benchctl(
        ["run", "memcached", "--preset", "quick", "--arm", "demo", "--iterations", "2", "-o", str(res)],
        tmp_path / "state",
    )
    assert p.returncode == 0, p.stderr
    run_dir = res.joinpath(*[]) / p.stdout.strip().splitlines()[-1]
    assert run_dir.is_dir() and str(run_dir).startswith(str(res))
    man = json.loads((run_dir / "run.json").read_text())
    assert man["status"] == "complete" and man["iterations_done"] == 2 and man["arm"] == "demo"
    assert man["spec"]["preset"] == "quick" and man["spec"]["params"]["duration_s"] == 1
    assert man["run_info"]["generator"] in ("memtier", "mutilate", "memcaslap")
    assert "pinned" in man["run_info"]["cpus"] and man["run_info"]["cpus"]["reason"]
    assert man["boot_id"] == json.loads((run_dir / "env-before.json").read_text())["boot"]["id"]
    assert (run_dir / "env-after.json").is_file() and (run_dir / "kmsg.txt").is_file()
    cmds = [json.loads(line) for line in (run_dir / "commands.jsonl").read_text().splitlines()]
    server = [c for c in cmds if c.get("role") == "server"][0]["argv"]
    assert server[server.index("-l") + 1] == "127.0.0.1"
    measured = [c for c in cmds if c.get("role") == "measure"]
    assert len(measured) == 2 and all(c["rc"] == 0 and c["generator_argv"] for c in measured)
    assert (run_dir / "raw/iter-0001/generator.out").stat().st_size > 0

    ex = benchctl(["export", str(run_dir), "--format", "csv"], tmp_path / "state")
    assert ex.returncode == 0, ex.stderr
    rows = list(csv.DictReader(io.StringIO(ex.stdout)))
    for it in ("1", "2"):
        metrics = {r["metric"] for r in rows if r["iteration"] == it}
        assert "ops_per_sec" in metrics
        assert metrics & {"p99_latency_us", "p50_latency_us", "mean_latency_us"}, metrics
        ops = [float(r["value"]) for r in rows if r["iteration"] == it and r["metric"] == "ops_per_sec"]
        assert ops[0] > 1000
    assert {r["boot"] for r in rows} == {man["boot_id"]}
    assert live_processes_of(run_dir) == [] and memcached_token_processes(run_dir) == []
    assert not any((tmp_path / "state" / "ledgers").glob("*.json")), "a finished run leaves no ledger"


@pytest.mark.live
@needs_memcached
def test_missing_generator_is_refused_naming_the_package(tmp_path):
    if shutil.which("mutilate"):
        pytest.skip("mutilate is installed here")
    p = benchctl(
        ["run", "memcached", "--preset", "quick", "--arm", "x", "--set", "generator=mutilate", "-o", str(tmp_path)],
        tmp_path / "state",
    )
    assert p.returncode == 4 and "mutilate" in p.stderr and "Traceback" not in p.stderr
    assert not list(tmp_path.rglob("run.json")), "refused before creating anything"


def test_bad_override_is_exit_2(tmp_path):
    """A bad --set value is a command-line error: exit 2, in plain words (issue 13)."""
    p = benchctl(["run", "memcached", "--arm", "x", "--set", "threads=many", "-o", str(tmp_path)], tmp_path / "s")
    assert p.returncode == 2 and "--set threads: expected an integer, got 'many'" in p.stderr
    assert "memcached.toml" not in p.stderr and "literal" not in p.stderr


def test_generator_choice_prefers_memtier_then_mutilate():
    have = {"memtier_benchmark": "/x/memtier_benchmark", "mutilate": "/x/mutilate", "memcaslap": "/usr/bin/memcaslap"}
    assert pick_generator("auto", have.get) == ("memtier", "/x/memtier_benchmark")
    del have["memtier_benchmark"]
    assert pick_generator("auto", have.get)[0] == "mutilate"
    del have["mutilate"]
    assert pick_generator("auto", have.get)[0] == "memcaslap"
    assert pick_generator("memcaslap", {"memaslap": "/y/memaslap"}.get) == ("memcaslap", "/y/memaslap")
    with pytest.raises(ToolMissingError, match="libmemcached-tools"):
        pick_generator("auto", {}.get)


def test_generator_command_lines(tmp_path):
    p = load_workload("memcached").resolve("quick", {"qps": "5000", "set_ratio": "0.1"}).params
    mt = generator_argv("memtier", "memtier_benchmark", p, 1234, tmp_path)
    assert "--protocol=memcache_text" in mt and "--ratio=1:9" in mt and "--port=1234" in mt
    assert f"--json-out-file={tmp_path / 'memtier.json'}" in mt and "--server=127.0.0.1" in mt
    assert f"--hdr-file-prefix={tmp_path / 'memtier'}" in mt
    mu = generator_argv("mutilate", "mutilate", p, 1234, tmp_path)
    assert mu[mu.index("-q") + 1] == "5000" and mu[mu.index("-i") + 1] == "exponential:1"
    mc = generator_argv("memcaslap", "memcaslap", p, 1234, tmp_path)
    assert "-S" in mc and mc[mc.index("-s") + 1] == "127.0.0.1:1234"
    assert (
        "--requests=allkeys" in preload_argv("memtier", "memtier_benchmark", p, 1)
        and preload_argv("memcaslap", "memcaslap", p, 1) is None
    )


def test_cpu_plan():
    p = {"pin": "auto", "server_cpus": "auto", "client_cpus": "auto"}
    assert cpu_plan(p, 2)["pinned"] is False and "2 CPUs" in cpu_plan(p, 2)["reason"]
    plan = cpu_plan(p, 8)
    assert plan["server_cpus"] == [0, 1, 2, 3] and plan["client_cpus"] == [4, 5, 6, 7]
    with pytest.raises(InputError, match="overlap"):
        cpu_plan({"pin": "on", "server_cpus": "0-2", "client_cpus": "2-3"}, 4)
    assert cpu_plan({**p, "pin": "on"}, 2)["server_cpus"] == [0]


@pytest.mark.live
@needs_memcached
def test_server_that_cannot_start_fails_cleanly(tmp_path):
    import socket

    with socket.socket() as s:  # hold the port memcached is told to use
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = benchctl(
            ["run", "memcached", "--preset", "quick", "--arm", "x", "--set", f"port={port}", "-o", str(tmp_path / "r")],
            tmp_path / "state",
        )
    assert p.returncode == 1, p.stderr
    assert "memcached" in p.stderr and "Traceback" not in p.stderr
    run_dir = next((tmp_path / "r").rglob("run.json")).parent
    man = json.loads((run_dir / "run.json").read_text())
    assert man["status"] == "failed" and "memcached" in man["error"] and man["iterations_done"] == 0
    assert live_processes_of(run_dir) == [] and memcached_token_processes(run_dir) == []
    assert not any((tmp_path / "state" / "ledgers").glob("*.json"))


@pytest.mark.live
@needs_memcached
def test_kernel_splat_during_run_marks_it_tainted(tmp_path, monkeypatch):
    """The engine's taint path, with real splat text standing in for what the kernel would log.

    (Writing to /dev/kmsg would taint every other run on this host at the same time.)
    """
    from benchctl.run import engine, kernel_log
    from tests.run.test_engine_helpers import SPLATS

    monkeypatch.setenv("BENCHCTL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(kernel_log, "since", lambda mark: (list(SPLATS), None))
    shown: list[str] = []
    opts = engine.RunOptions(
        arm="t", preset="quick", iterations=1, warmup=0, results=tmp_path / "r", perf=False, echo=shown.append
    )
    folder = engine.run_workload("memcached", opts)
    man = json.loads((folder.path / "run.json").read_text())
    assert man["status"] == "complete" and man["tainted"] is True
    assert man["taint_lines"] == kernel_log.taint_lines(SPLATS) and len(man["taint_lines"]) == 3
    assert (folder.path / "kmsg.txt").read_text().splitlines() == SPLATS
    assert any("tainted" in s for s in shown) and any(SPLATS[0] in s for s in shown)
    assert man["perf"]["enabled"] is False


def test_memtier_output_takes_latencies_from_the_hgrm(tmp_path):
    """The recorded run of the driver's own argv: throughput from the JSON, percentiles from the .hgrm."""
    for f in ("memtier.json", "memtier_FULL_RUN_1.hgrm", "memtier_FULL_RUN_1.txt"):
        shutil.copy(DRIVEN / f, tmp_path / f)
    r = parse_output("memtier", "", tmp_path)
    assert r.get("ops_per_sec").value == 62097.60
    p99 = r.get("p99_latency_us")
    assert (p99.value, p99.note["source"], p99.note["bracket_us"]) == (135, "hgrm", [128, 135])
    assert p99.note["latency_resolution"] == "hdr-2sig" and 5.9 < p99.note["resolution_pct"] < 6.0
    (tmp_path / "memtier_FULL_RUN_1.hgrm").unlink()  # an older run folder: the JSON's histogram
    assert parse_output("memtier", "", tmp_path).get("p99_latency_us").note["source"] == "compressed-histogram"


@pytest.mark.live
@needs_memtier
def test_quick_run_with_memtier_records_hdr_percentiles(tmp_path):
    """Live: memtier built by setup drives memcached; every iteration's percentiles are its .hgrm's."""
    res = tmp_path / "results"
    p = benchctl(
        [
            "run",
            "memcached",
            "--preset",
            "quick",
            "--arm",
            "mt",
            "--iterations",
            "2",
            "--set",
            "generator=memtier",
            "-o",
            str(res),
        ],
        tmp_path / "state",
    )
    assert p.returncode == 0, p.stderr
    run_dir = next(res.rglob("run.json")).parent
    man = json.loads((run_dir / "run.json").read_text())
    assert man["status"] == "complete" and man["run_info"]["generator"] == "memtier"
    assert "v=2.3.0" in man["run_info"]["generator_version"]
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    for it in (1, 2):
        raw = run_dir / "raw" / f"iter-{it:04d}"
        hgrm = parse("memtier-hgrm", (raw / "memtier_FULL_RUN_1.hgrm").read_text())
        assert (raw / "memtier_FULL_RUN_1.txt").is_file() and (raw / "memtier.json").is_file()
        mine = {r["metric"]: r for r in records if r["iteration"] == it and not r["warmup"]}
        assert mine["ops_per_sec"]["value"] > 1000
        for metric in ("p50_latency_us", "p99_latency_us", "p999_latency_us"):
            rec = mine[metric]
            assert rec["value"] == hgrm.get(metric).value and rec["note"]["source"] == "hgrm", metric
            lo, hi = rec["note"]["bracket_us"]
            assert lo <= rec["value"] == hi and rec["note"]["resolution_pct"] > 0
        assert mine["p99_latency_us"]["note"]["count"] == hgrm.info["count"] > 0
    assert live_processes_of(run_dir) == [] and memcached_token_processes(run_dir) == []


@pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare (util-linux) is not installed")
def test_a_down_loopback_is_named_not_a_silent_timeout(tmp_path):
    """In a network namespace whose lo is down (as in a bare initramfs guest) the connect fails with
    'Network is unreachable': the error says so and names the fix instead of only timing out."""
    import subprocess
    import sys

    code = (
        "import subprocess\n"
        "from benchctl.run.drivers.memcached.children import wait_listening\n"
        "p = subprocess.Popen(['sleep', '30'])\n"
        "try:\n"
        "    wait_listening(11211, p, timeout_s=1.0)\n"
        "except Exception as e:\n"
        "    print(e)\n"
        "finally:\n"
        "    p.kill()\n"
    )
    r = subprocess.run(["unshare", "-n", sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    if r.returncode != 0 and "unshare" in r.stderr:
        pytest.skip(f"cannot create a network namespace here: {r.stderr.strip()}")
    assert "did not answer on 127.0.0.1:11211 within 1 s" in r.stdout, r.stdout + r.stderr
    assert "unreachable" in r.stdout and "ip link set lo up" in r.stdout
