"""memcached load generators: which one, its command lines, its output and version.

Best first: memtier_benchmark (HdrHistogram: every bucket of the run in its
--hdr-file-prefix .hgrm, decoded with hdrh; 2.3.0 keeps 2 significant digits
above an 8 us unit, and each percentile's note gives its bucket), mutilate
(open loop at a fixed QPS; 10 %-wide bins, no p50), memcaslap (power-of-two
buckets only: its P99 is marked coarse). The command lines are pure
functions of the parameters so the overhead check
(tests/perf/memcached_overhead.py) can re-run exactly what benchctl ran.
"""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

from benchctl.errors import InputError, ToolMissingError
from benchctl.parsers import parse
from benchctl.parsers.memtier import with_hdr

# generator name -> (programs on PATH in order of preference, Debian package / where to get it)
GENERATORS: dict[str, tuple[tuple[str, ...], str]] = {
    "memtier": (
        ("memtier_benchmark",),
        "memtier-benchmark (not packaged in Debian 12: scripts/setup.sh builds it from vendor/; see README)",
    ),
    "mutilate": (("mutilate",), "mutilate (build from github.com/leverich/mutilate)"),
    "memcaslap": (("memcaslap", "memaslap"), "libmemcached-tools"),
}
ORDER = ("memtier", "mutilate", "memcaslap")
# the label each generator's percentiles carry (memtier 2.3.0 builds its histograms with 2 significant digits)
RESOLUTION = {"memtier": "hdr-2sig", "mutilate": "log-bins-10pct", "memcaslap": "coarse-pow2"}
HDR_PREFIX = "memtier"  # --hdr-file-prefix in the iteration folder: memtier_FULL_RUN_1.hgrm / .txt


def find_program(prog: str) -> str | None:
    """prog on PATH, else in this environment's bin folder (where setup installs memtier when not root)."""
    return shutil.which(prog) or shutil.which(prog, path=sysconfig.get_path("scripts"))


def pick_generator(wanted: str, which: Callable[[str], str | None] = find_program) -> tuple[str, str]:
    """(generator, path): the requested one, or the first available in ORDER for 'auto'."""
    names = ORDER if wanted == "auto" else (wanted,)
    for g in names:
        if g not in GENERATORS:
            raise InputError(f"generator={g}: unknown (one of auto, {', '.join(ORDER)})")
        for prog in GENERATORS[g][0]:
            path = which(prog)
            if path:
                return g, path
    if wanted == "auto":
        raise ToolMissingError(
            "no memcached load generator found: install libmemcached-tools (memcaslap), "
            "or put memtier_benchmark or mutilate on PATH"
        )
    progs, pkg = GENERATORS[wanted]
    raise ToolMissingError(f"generator={wanted}: {progs[0]} not found; install {pkg}")


def _ratio(set_ratio: float) -> tuple[int, int]:
    f = Fraction(set_ratio).limit_denominator(100)
    return f.numerator, f.denominator - f.numerator


def memcaslap_config(params: dict[str, Any]) -> str:
    """memcaslap -F file: fixed key and value sizes and the set/get mix (without -F it reads ~/.memslap.cnf)."""
    k, v, s = params["key_size"], params["value_size"], params["set_ratio"]
    return f"key\n{k} {k} 1\nvalue\n{v} {v} 1\ncmd\n0 {s:g}\n1 {1 - s:g}\n"


def generator_argv(
    gen: str, prog: str, params: dict[str, Any], port: int, out_dir: Path, duration_s: int | None = None
) -> list[str]:
    """The measured load command. memcaslap's -F file and memtier's JSON land in out_dir."""
    t = duration_s or params["duration_s"]
    threads, conns = params["gen_threads"], params["gen_connections"]
    if gen == "memtier":
        s, g = _ratio(params["set_ratio"])
        return [
            prog,
            "--server=127.0.0.1",
            f"--port={port}",
            "--protocol=memcache_text",
            f"--threads={threads}",
            f"--clients={conns}",
            f"--test-time={t}",
            f"--ratio={s}:{g}",
            f"--data-size={params['value_size']}",
            "--key-minimum=1",
            f"--key-maximum={params['keys']}",
            "--key-pattern=R:R",
            f"--pipeline={params['pipeline']}",
            "--print-percentiles=50,99,99.9",
            "--hide-histogram",
            f"--json-out-file={out_dir / 'memtier.json'}",
            f"--hdr-file-prefix={out_dir / HDR_PREFIX}",
        ]
    if gen == "mutilate":
        argv = [
            prog,
            "-s",
            f"127.0.0.1:{port}",
            "--noload",
            "-T",
            str(threads),
            "-c",
            str(conns),
            "-t",
            str(t),
            *_mutilate_keys(params),
            "-u",
            str(params["set_ratio"]),
            "-d",
            str(params["pipeline"]),
        ]
        if params.get("qps"):
            argv += ["-q", str(params["qps"]), "-i", "exponential:1"]  # without -i, -q segfaults
        return argv
    cfg = out_dir / "memcaslap.cnf"
    return [
        prog,
        "-s",
        f"127.0.0.1:{port}",
        "-T",
        str(threads),
        "-c",
        str(threads * conns),
        "-t",
        f"{t}s",
        "-F",
        str(cfg),
        "-S",
        f"{t}s",
    ]


def preload_argv(gen: str, prog: str, params: dict[str, Any], port: int) -> list[str] | None:
    """Write every key once; memcaslap sets its own keys before reading them, so it has no preload."""
    if gen == "memtier":
        return [
            prog,
            "--server=127.0.0.1",
            f"--port={port}",
            "--protocol=memcache_text",
            "--threads=1",
            f"--clients={max(1, min(8, params['gen_connections']))}",
            "--ratio=1:0",
            "--key-pattern=P:P",
            "--requests=allkeys",
            "--key-minimum=1",
            f"--key-maximum={params['keys']}",
            f"--data-size={params['value_size']}",
            "--hide-histogram",
        ]
    if gen == "mutilate":
        return [
            prog,
            "-s",
            f"127.0.0.1:{port}",
            "--loadonly",
            *_mutilate_keys(params),
        ]
    return None


def parse_output(gen: str, stdout: str, out_dir: Path):
    """The generator's result; memtier's latencies from its full-resolution .hgrm when it wrote one."""
    if gen == "memtier":
        report = parse("memtier-json", (out_dir / "memtier.json").read_text())
        hgrm = out_dir / f"{HDR_PREFIX}_FULL_RUN_1.hgrm"
        if hgrm.is_file():
            return with_hdr(report, parse("memtier-hgrm", hgrm.read_text()))
        return report
    if gen == "mutilate":
        return parse("mutilate", stdout)
    return parse("memaslap", stdout)


def generator_version(gen: str, prog: str) -> str | None:
    """The generator's version string, for run.json (best effort: never fails a run)."""
    args = {"memtier": ["--version"], "mutilate": ["--version"], "memcaslap": ["-V"]}[gen]
    try:
        p = subprocess.run([prog, *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (p.stdout + p.stderr).strip()
    return text.splitlines()[0][:120] if text else None


def _mutilate_keys(params: dict[str, Any]) -> list[str]:
    """The key space mutilate loads and then measures: the same in both runs, or every get misses."""
    return ["-K", str(params["key_size"]), "-V", str(params["value_size"]), "-r", str(params["keys"])]
