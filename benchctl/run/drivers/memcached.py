"""memcached: benchctl's own server on loopback, preloaded, driven by a load generator per iteration.

The server is started by benchctl (never a system memcached, whose
configuration we would not know), bound to 127.0.0.1, recorded in the
resource ledger before it starts, and dies with benchctl: PR_SET_PDEATHSIG
covers a SIGKILL of the run, the ledger's environment token lets
`benchctl cleanup` prove it is ours in any other case.

Generators, best first: memtier_benchmark (HdrHistogram: every bucket of
the run in its --hdr-file-prefix .hgrm, decoded with hdrh; 2.3.0 keeps 2
significant digits above an 8 us unit, and each percentile's note gives its
bucket), mutilate (open loop at a fixed QPS; 10 %-wide bins, no p50),
memcaslap (power-of-two buckets only: its P99 is marked coarse).
The generator command lines are pure functions of the parameters so the
overhead check (tests/perf/memcached_overhead.py) can re-run exactly what
benchctl ran.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sysconfig
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

from benchctl.errors import InputError, ResourceError, RunFailed, ToolMissingError
from benchctl.parsers import ParseError, parse
from benchctl.parsers.memtier import with_hdr
from benchctl.run.drivers.base import IterationResult, RunContext
from benchctl.run.processes import proc_start_time, terminate_process
from benchctl.run.proctree import kill_group
from benchctl.run.specs import parse_cpus

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
PIN_MIN_CPUS = 4
PR_SET_PDEATHSIG = 1
GENERATOR_GRACE_S = 1.0  # a generator (and perf) stopped on a deadline or Ctrl-C gets 1 s, then SIGKILL


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


def cpu_plan(params: dict[str, Any], ncpus: int) -> dict[str, Any]:
    """Disjoint CPU sets for server and generator, or none; the decision and its reason are recorded."""
    pin = params.get("pin", "auto")
    s, c = params.get("server_cpus", "auto"), params.get("client_cpus", "auto")
    if pin == "off" or (pin == "auto" and ncpus < PIN_MIN_CPUS):
        why = "pin=off" if pin == "off" else f"{ncpus} CPUs < {PIN_MIN_CPUS}: splitting would halve both sides"
        return {"pinned": False, "reason": why, "server_cpus": None, "client_cpus": None, "ncpus": ncpus}
    if ncpus < 2:
        raise ResourceError("pin=on needs at least 2 CPUs")
    half = ncpus // 2
    server = list(range(half)) if s in ("auto", "none") else parse_cpus(s)
    client = list(range(half, ncpus)) if c in ("auto", "none") else parse_cpus(c)
    if set(server) & set(client):
        raise InputError(f"server_cpus={s} and client_cpus={c} overlap; pinning needs disjoint sets")
    bad = [x for x in server + client if x >= ncpus]
    if bad:
        raise InputError(f"CPU(s) {bad} do not exist here ({ncpus} CPUs)")
    return {"pinned": True, "reason": f"pin={pin}", "server_cpus": server, "client_cpus": client, "ncpus": ncpus}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_argv(memcached: str, params: dict[str, Any], port: int, as_root: bool) -> list[str]:
    argv = [
        memcached,
        "-l",
        "127.0.0.1",
        "-p",
        str(port),
        "-U",
        "0",
        "-t",
        str(params["threads"]),
        "-m",
        str(params["memory_mb"]),
        "-c",
        str(params["max_connections"]),
    ]
    return argv + (["-u", "root"] if as_root else [])


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
            "-K",
            str(params["key_size"]),
            "-V",
            str(params["value_size"]),
            "-r",
            str(params["keys"]),
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
            "-K",
            str(params["key_size"]),
            "-V",
            str(params["value_size"]),
            "-r",
            str(params["keys"]),
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


def child_setup(cpus: list[int] | None) -> Callable[[], None]:
    """preexec_fn: die with benchctl (PDEATHSIG) and run on the given CPUs."""

    def fn() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except OSError:
            pass
        if cpus:
            os.sched_setaffinity(0, cpus)

    return fn


def _wait_listening(port: int, proc: subprocess.Popen, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RunFailed(f"memcached exited with code {proc.returncode} at start (see raw/memcached.log)")
        try:
            # something else may hold the port: only OUR server answers `version` while alive
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as c:
                c.sendall(b"version\r\n")
                c.settimeout(1.0)
                if c.recv(64).startswith(b"VERSION ") and proc.poll() is None:
                    return
        except OSError:
            pass
        time.sleep(0.02)
    raise RunFailed(f"memcached did not answer on 127.0.0.1:{port} within {timeout_s:.0f} s")


class Memcached:
    name = "memcached"

    def requirements(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        req = [("memcached", "memcached")]
        if params.get("generator", "auto") != "auto":
            progs, pkg = GENERATORS[params["generator"]]
            if not any(find_program(p) for p in progs):
                req.append((progs[0], pkg))
        return req

    def check(self, ctx: RunContext) -> list[str]:
        pick_generator(ctx.params.get("generator", "auto"))  # ToolMissingError names the package
        warnings = []
        p = ctx.params
        if p.get("generator") in ("memcaslap",) or (
            p.get("generator") == "auto" and pick_generator("auto")[0] == "memcaslap"
        ):
            warnings.append(
                "load generator memcaslap: latency only in power-of-two buckets; "
                "p99_latency_us is marked coarse (install memtier_benchmark for exact percentiles)"
            )
        if p.get("qps") and pick_generator(p.get("generator", "auto"))[0] != "mutilate":
            warnings.append("qps is used by mutilate only; the chosen generator runs closed loop")
        return warnings

    # -- setup / teardown ----------------------------------------------------
    def setup(self, ctx: RunContext) -> None:
        p = ctx.params
        gen, prog = pick_generator(p.get("generator", "auto"))
        memcached = shutil.which("memcached")
        if memcached is None:
            raise ToolMissingError("memcached not found; install the Debian package memcached")
        ncpus = len(os.sched_getaffinity(0))
        cpus = cpu_plan(p, ncpus)
        ctx.state.update(gen=gen, prog=prog, cpus=cpus)
        work = Path(ctx.run_dir) / "raw"
        work.mkdir(exist_ok=True)
        if gen == "memcaslap":
            (work / "memcaslap.cnf").write_text(memcaslap_config(p))
        as_root = os.geteuid() == 0
        for attempt in range(5):
            port = p["port"] or free_port()
            argv = server_argv(memcached, p, port, as_root)
            rid, env = ctx.ledger.add_process(argv)
            log = open(work / "memcached.log", "ab")
            try:
                proc = subprocess.Popen(
                    argv,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    preexec_fn=child_setup(cpus["server_cpus"]),
                    start_new_session=True,
                )
            finally:
                log.close()
            ctx.ledger.process_started(rid, proc.pid)
            ctx.state.update(server=proc, server_rid=rid, port=port)
            ctx.log_command(argv, rc=None, role="server", pid=proc.pid)
            try:
                _wait_listening(port, proc)
                break
            except RunFailed:
                self._stop_server(ctx)
                if p["port"] or attempt == 4:
                    raise
        info = {
            "generator": gen,
            "generator_path": prog,
            "latency_resolution": RESOLUTION[gen],
            "server_argv": argv,
            "port": port,
            "cpus": cpus,
            "generator_version": _version(gen, prog),
        }
        ctx.state["run_info"] = info
        ctx.state["note"] = {"generator": gen, "latency_resolution": RESOLUTION[gen], "pinned": cpus["pinned"]}
        if p.get("preload", True):
            pre = preload_argv(gen, prog, p, port)
            info["preload"] = (
                "all keys"
                if pre is not None
                else "none: memcaslap sets each key before it reads it (no separate preload mode)"
            )
            ctx.state["run_info"] = info
            if pre is not None:
                rc, _, err = self._run(ctx, pre, work / "preload.out", iteration=None, role="preload")
                if rc != 0:
                    raise RunFailed(f"preloading the key space failed (rc {rc}): {err[-200:]}")

    def _stop_server(self, ctx: RunContext) -> None:
        proc: subprocess.Popen | None = ctx.state.get("server")
        rid = ctx.state.get("server_rid")
        if proc is not None:
            if proc.poll() is None:
                terminate_process(proc.pid, proc_start_time(proc.pid))
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            ctx.state["server"] = None
        if rid is not None:
            ctx.ledger.removed(rid)
            ctx.state["server_rid"] = None

    def teardown(self, ctx: RunContext) -> None:
        self._stop_server(ctx)

    # -- running the generator -------------------------------------------------
    def _run(
        self,
        ctx: RunContext,
        argv: list[str],
        out: Path,
        *,
        iteration: int | None,
        role: str,
        gen_argv: list[str] | None = None,
    ) -> tuple[int, str, str]:
        """Run one command to completion, output to files; the process dies with benchctl."""
        rid, env = ctx.ledger.add_process(argv)
        cpus = ctx.state["cpus"]["client_cpus"]
        with open(out, "wb") as fo, open(out.with_suffix(".stderr"), "wb") as fe:
            # own process group: stopping it stops perf AND the generator perf started
            proc = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=fo,
                stderr=fe,
                preexec_fn=child_setup(cpus),
                start_new_session=True,
            )
            ctx.ledger.process_started(rid, proc.pid)
            limit = self._time_limit(ctx.params)
            try:
                rc = proc.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                kill_group(proc, grace_s=GENERATOR_GRACE_S)
                ctx.ledger.removed(rid)
                ctx.log_command(argv, rc=None, iteration=iteration, role=role, timed_out_s=limit)
                raise RunFailed(
                    f"{role}: {Path(argv[0]).name} did not finish within {limit:.0f} s "
                    "(server not answering?); stopped it"
                ) from None
            except BaseException:
                kill_group(proc, grace_s=GENERATOR_GRACE_S)
                ctx.ledger.removed(rid)
                raise
        ctx.ledger.removed(rid)
        extra = {"generator_argv": gen_argv} if gen_argv is not None else {}
        ctx.log_command(argv, rc=rc, iteration=iteration, role=role, **extra)
        server = ctx.state.get("server")
        if server is not None and server.poll() is not None:
            raise RunFailed(f"memcached died during {role} (exit {server.returncode})")
        return rc, out.read_text(errors="replace"), out.with_suffix(".stderr").read_text(errors="replace")

    @staticmethod
    def _time_limit(params: dict[str, Any]) -> float:
        """A generator that outlives its duration this much is stuck (preload is sized by keys, not time)."""
        return 3.0 * params["duration_s"] + 60.0 + params["keys"] / 5000.0

    def _out_dir(self, ctx: RunContext) -> Path:
        d = ctx.state.get("iteration_dir")
        if d is None:
            d = Path(ctx.run_dir) / "raw"
        Path(d).mkdir(parents=True, exist_ok=True)
        return Path(d)

    def warmup(self, ctx: RunContext, index: int) -> None:
        out = self._out_dir(ctx)
        argv = self._gen_argv(ctx, out)
        rc, stdout, err = self._run(ctx, argv, out / "generator.out", iteration=None, role="warmup")
        if rc != 0:
            raise RunFailed(f"warm-up {index}: {Path(argv[0]).name} exited {rc}: {(err or stdout).strip()[-200:]}")

    def _gen_argv(self, ctx: RunContext, out: Path) -> list[str]:
        gen = ctx.state["gen"]
        if gen == "memcaslap" and not (out / "memcaslap.cnf").exists():
            (out / "memcaslap.cnf").write_text(memcaslap_config(ctx.params))
        return generator_argv(gen, ctx.state["prog"], ctx.params, ctx.state["port"], out)

    def measure(self, ctx: RunContext, iteration: int, perf_wrap: Callable[[list[str]], list[str]]) -> IterationResult:
        out = self._out_dir(ctx)
        gen_argv = self._gen_argv(ctx, out)
        argv = perf_wrap(gen_argv)
        rc, stdout, err = self._run(
            ctx, argv, out / "generator.out", iteration=iteration, role="measure", gen_argv=gen_argv
        )
        if rc != 0:
            raise RunFailed(
                f"iteration {iteration}: {Path(gen_argv[0]).name} exited {rc}: {(err or stdout).strip()[-200:]}"
            )
        try:
            res = parse_output(ctx.state["gen"], stdout, out)
        except (ParseError, OSError) as e:
            raise RunFailed(f"iteration {iteration}: generator output not understood: {e}") from None
        for w in res.warnings:
            if "no percentiles" not in w:
                ctx.warn(f"{ctx.state['gen']}: {w}")
        wanted = {"ops_per_sec", "p50_latency_us", "p99_latency_us", "p999_latency_us", "mean_latency_us"}
        ms = [m for m in res.measurements if m.metric in wanted]
        if not any(m.metric == "ops_per_sec" for m in ms):
            raise RunFailed(f"iteration {iteration}: the generator reported no throughput")
        return IterationResult(measurements=ms, argv=gen_argv, note=dict(ctx.state.get("note", {})))


def _version(gen: str, prog: str) -> str | None:
    """The generator's version string, for run.json (best effort: never fails a run)."""
    args = {"memtier": ["--version"], "mutilate": ["--version"], "memcaslap": ["-V"]}[gen]
    try:
        p = subprocess.run([prog, *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (p.stdout + p.stderr).strip()
    return text.splitlines()[0][:120] if text else None


DRIVER = Memcached()
