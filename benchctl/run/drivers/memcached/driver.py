"""The memcached Driver: benchctl's own server, preloaded, and one generator run per iteration.

The order of a run: pick the generator (loadgen), plan the CPUs and start the
server (children), preload every key, then per warm-up pass or iteration one
generator command, wrapped by the engine's perf stat; its output parsed into
throughput and latency percentiles labelled with the generator's resolution.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchctl.errors import RunFailed, ToolMissingError
from benchctl.parsers import ParseError
from benchctl.run.drivers.base import IterationResult, RunContext
from benchctl.run.drivers.memcached.children import cpu_plan, run_generator, start_server, stop_server
from benchctl.run.drivers.memcached.loadgen import (
    GENERATORS,
    RESOLUTION,
    find_program,
    generator_argv,
    generator_version,
    memcaslap_config,
    parse_output,
    pick_generator,
    preload_argv,
)

MEASURED = {"ops_per_sec", "p50_latency_us", "p99_latency_us", "p999_latency_us", "mean_latency_us"}


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
        cpus = cpu_plan(p, len(os.sched_getaffinity(0)))
        ctx.state.update(gen=gen, prog=prog, cpus=cpus)
        work = Path(ctx.run_dir) / "raw"
        work.mkdir(exist_ok=True)
        if gen == "memcaslap":
            (work / "memcaslap.cnf").write_text(memcaslap_config(p))
        argv, port = start_server(ctx, memcached, work)
        info = {
            "generator": gen,
            "generator_path": prog,
            "latency_resolution": RESOLUTION[gen],
            "server_argv": argv,
            "port": port,
            "cpus": cpus,
            "generator_version": generator_version(gen, prog),
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
                rc, _, err = run_generator(ctx, pre, work / "preload.out", iteration=None, role="preload")
                if rc != 0:
                    raise RunFailed(f"preloading the key space failed (rc {rc}): {err[-200:]}")

    def teardown(self, ctx: RunContext) -> None:
        stop_server(ctx)

    # -- running the generator -------------------------------------------------
    def _out_dir(self, ctx: RunContext) -> Path:
        d = ctx.state.get("iteration_dir")
        if d is None:
            d = Path(ctx.run_dir) / "raw"
        Path(d).mkdir(parents=True, exist_ok=True)
        return Path(d)

    def warmup(self, ctx: RunContext, index: int) -> None:
        out = self._out_dir(ctx)
        argv = self._gen_argv(ctx, out)
        rc, stdout, err = run_generator(ctx, argv, out / "generator.out", iteration=None, role="warmup")
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
        rc, stdout, err = run_generator(
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
        ms = [m for m in res.measurements if m.metric in MEASURED]
        if not any(m.metric == "ops_per_sec" for m in ms):
            raise RunFailed(f"iteration {iteration}: the generator reported no throughput")
        return IterationResult(measurements=ms, argv=gen_argv, note=dict(ctx.state.get("note", {})))


DRIVER = Memcached()
