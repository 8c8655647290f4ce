"""`benchctl export --format pyperf|benchstat`: other tools read what benchctl measured.

pyperf is loaded by pyperf itself (a test dependency for exactly this): its
own JSON loader, `pyperf show` and `pyperf compare_to` on the two arms.
Go's benchstat is not packaged in Debian or on PyPI, so the benchstat text
is checked against the grammar of the Go benchmark data format
(golang/proposal design/14313-benchmark-format.md): configuration lines
`key: value` with a key free of spaces and upper case, result lines
`<name> <iterations> <value> <unit> [<value> <unit>...]` with an even
number (>= 4) of fields, a name starting with "Benchmark", an unsigned
integer iteration count and values strconv.ParseFloat accepts.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import analysis_data as ad
import numpy as np
import pytest

pyperf = pytest.importorskip("pyperf")


def benchctl(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchctl", *map(str, args)], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    rng = np.random.default_rng(4)
    recs = ad.rows(rng, boots=3, iters=4) + ad.rows(rng, boots=3, iters=4, metric="p99_latency_us", unit="us")
    for arm in ("pte", "block"):  # each arm's fingerprint says its linear map
        ad.write_runs(root, [r for r in recs if r["arm"] == arm], state=arm)
    return root


def test_pyperf_loads_one_run_per_boot_and_compares_the_arms(runs, tmp_path):
    r = benchctl("export", runs, "--format", "pyperf", "-o", tmp_path)
    assert r.returncode == 0, r.stderr
    # pyperf compare_to takes the reference first: the PTE-mapped arm (it used to print block first)
    assert f"compare_to {tmp_path / 'pte.json'} {tmp_path / 'block.json'}" in " ".join(r.stderr.split())
    pte = pyperf.BenchmarkSuite.load(str(tmp_path / "pte.json"))
    ops = pte.get_benchmark("memcached/ops_per_sec")
    assert len(ops.get_runs()) == 3 and all(len(run.values) == 4 for run in ops.get_runs())
    first = ops.get_runs()[0]
    assert first.get_metadata()["arm"] == "pte" and first.get_metadata()["host"] == "h1"
    assert first.get_metadata()["boot"] == "pte-boot0"
    p99 = pte.get_benchmark("memcached/p99_latency_us")
    assert p99.get_unit() == "second" and p99.get_runs()[0].values[0] < 1e-2  # us -> s
    show = subprocess.run(
        [sys.executable, "-m", "pyperf", "show", str(tmp_path / "block.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert show.returncode == 0 and "memcached/ops_per_sec" in show.stdout
    cmp = subprocess.run(
        [sys.executable, "-m", "pyperf", "compare_to", str(tmp_path / "pte.json"), str(tmp_path / "block.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cmp.returncode == 0, cmp.stderr
    assert "memcached/ops_per_sec" in cmp.stdout and "memcached/p99_latency_us" in cmp.stdout


def test_pyperf_needs_a_folder(runs):
    r = benchctl("export", runs, "--format", "pyperf")
    assert r.returncode == 2 and "-o DIR" in r.stderr


CONFIG = re.compile(r"^([^\s:]+):(\s.*)?$")


def parse_go_benchmark_format(text: str) -> list[tuple[dict[str, str], str, dict[str, float]]]:
    """(configuration, name, unit -> value) per result line, by design/14313's grammar."""
    config: dict[str, str] = {}
    out = []
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0].startswith("Benchmark"):
            assert len(fields) >= 4 and len(fields) % 2 == 0, line
            assert re.fullmatch(r"Benchmark([A-Z].*)?", fields[0]), line
            assert fields[1].isdigit(), line
            values = {}
            for v, u in zip(fields[2::2], fields[3::2], strict=True):
                values[u] = float(v)  # strconv.ParseFloat accepts what float() does here: no hex, no '_'
            out.append((dict(config), fields[0], values))
            continue
        m = CONFIG.match(line)
        if m and not any(c.isupper() for c in m.group(1)):
            config[m.group(1)] = (m.group(2) or "").strip()
            continue
        assert not line.strip() or line.startswith("#"), f"neither config, result, blank nor comment: {line!r}"
    return out


def test_benchstat_format_follows_the_go_grammar_with_arm_host_boot(runs):
    r = benchctl("export", runs, "--format", "benchstat")
    assert r.returncode == 0, r.stderr
    rows = parse_go_benchmark_format(r.stdout)
    assert len(rows) == 2 * 3 * 4  # arms x boots x iterations, both metrics on one line
    for config, name, values in rows:
        assert name == "BenchmarkMemcached" and set(values) == {"ops_per_sec", "p99_latency_us"}
        assert {"arm", "host", "boot", "run"} <= set(config) and config["host"] == "h1"
        assert config["boot"].startswith(config["arm"] + "-boot")
    by_arm = {a: [v["ops_per_sec"] for c, _, v in rows if c["arm"] == a] for a in ("pte", "block")}
    assert np.mean(by_arm["block"]) > np.mean(by_arm["pte"])  # block's model mean is 103.5 vs 100
