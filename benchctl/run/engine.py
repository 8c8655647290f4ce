"""The run engine: one workload, N iterations, on the booted kernel, every number kept with its provenance.

Order of work (docs/result-format.md has the folder layout):
fingerprint -> requirements (refuse, naming the package) -> hygiene
warnings -> host lock -> run folder + resource ledger -> kernel-log mark ->
driver setup -> warm-up -> iterations (quiesce before each, perf around the
measured window, records appended as produced) -> teardown -> ledger
release -> fingerprint after -> kernel-log scan (taint) -> CV summary -> status.

SIGINT/SIGTERM stop the run between two instructions: the driver tears
down, the run is marked interrupted, the user is told where the results
are, exit 130. SIGKILL cannot be caught: the folder is still consistent
(records and manifest are written atomically), children die with us
(PDEATHSIG) and `benchctl cleanup` removes the rest from the ledger;
`--resume DIR` continues to the requested count on the same boot.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchctl.errors import BenchctlError, Interrupted, ResourceError
from benchctl.osutil.fsutil import atomic_write_text
from benchctl.osutil.processes import ENV_TOKEN, process_identity
from benchctl.parsers import Measurement
from benchctl.results.store import RunFolder, new_run_id, utc_now
from benchctl.run import counters, hygiene, kernel_log, quiesce, variance
from benchctl.run.cleanup import dead_run_warnings
from benchctl.run.drivers import check_requirements, load_driver
from benchctl.run.drivers.base import RunContext
from benchctl.run.hostlock import HostLock
from benchctl.run.ledger import Ledger
from benchctl.run.progress import Passes
from benchctl.run.signals import SignalGuard, Stop
from benchctl.run.specs import ResolvedSpec, load_workload

DEFAULT_RESULTS = Path("results")


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class RunOptions:
    arm: str
    preset: str | None = None
    iterations: int | None = None
    warmup: int | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    results: Path | None = None  # results root: <results>/<host>/<run-id>/
    perf: bool = True
    state_dir: Path | None = None
    echo: Callable[[str], None] = _stderr
    fingerprint: Callable[[], dict] | None = None  # injectable for tests; default fingerprint.collect
    probe_root: Path | None = None  # fingerprint from a recorded tree (`run --root`)
    suite: dict[str, Any] | None = None  # {name, id, index, of}: ties a suite's folders together
    # Called after the warm-up and after each measured iteration with the driver's context and the number
    # of measured iterations done: a caller's own commands between a real run's iterations, outside every
    # measured window (tests/perf compares benchctl's numbers with hand runs on the same server or stack).
    between: Callable[[RunContext, int], None] | None = None


def take_fingerprint(opts: RunOptions) -> dict:
    """opts.fingerprint() if given (tests inject recorded ones), else this host's (or `--root`'s tree)."""
    if opts.fingerprint is not None:
        return opts.fingerprint()
    from benchctl.env.fingerprint import collect

    return collect(opts.probe_root or Path("/"))


def _host(fp: dict) -> str:
    return ((fp.get("host") or {}).get("name")) or socket.gethostname()


class Run:
    """One run of one workload into one folder (new or resumed)."""

    def __init__(
        self,
        opts: RunOptions,
        spec_json: dict[str, Any],
        params: dict[str, Any],
        *,
        folder: RunFolder | None = None,
        lock: HostLock | None = None,
    ):
        self.opts = opts
        self.spec_json = spec_json
        self.params = params
        self._folder = folder
        self.lock = lock
        self.own_lock = lock is None
        self.driver = load_driver(spec_json["driver"])
        self.rule = quiesce.rule_of(spec_json)  # the stated state before each measured pass, or None
        self.ledger: Ledger | None = None
        self._ctx: RunContext | None = None
        self._counters: counters.CounterSetup | None = None
        self.mark: kernel_log.Mark | None = None
        self.planned_dir: Path | None = None
        self.children_rid: str | None = None
        self.sig: SignalGuard | None = None
        self.completed: set[int] = set()
        self.passes = Passes()
        self.env_before = ""
        self.iterations = self.warmups = 0  # set by from_spec / resume
        self.overrides: dict[str, Any] = {}
        self.pre_warnings: list[str] = []

    @property
    def folder(self) -> RunFolder:
        """The run folder, from start() on."""
        if self._folder is None:
            raise RuntimeError("the run has no folder before start()")
        return self._folder

    @property
    def ctx(self) -> RunContext:
        """What the driver gets, from the setup phase on."""
        if self._ctx is None:
            raise RuntimeError("the run has no driver context before its body starts")
        return self._ctx

    @property
    def counters(self) -> counters.CounterSetup:
        if self._counters is None:
            raise RuntimeError("the run's counters are configured when its body starts")
        return self._counters

    @classmethod
    def from_spec(cls, spec: ResolvedSpec, opts: RunOptions, lock: HostLock | None = None) -> Run:
        run = cls(opts, spec.to_json(), spec.params, lock=lock)
        run.iterations, run.warmups, run.overrides = spec.iterations, spec.warmup, spec.overrides
        return run

    # -- helpers ---------------------------------------------------------------
    def warn(self, msg: str) -> None:
        if self._folder is not None:
            if msg in self._folder.manifest["warnings"]:
                return
            self._folder.warn(msg)
        self.opts.echo(f"benchctl: warning: {msg}")

    def _record(self, iteration: int, m: Any, note: dict[str, Any], warmup: bool = False) -> None:
        value = float(m.value) if m.value is not None else math.nan
        if not math.isfinite(value):
            self.warn(f"{m.metric}: no finite value in iteration {iteration}; not recorded")
            return
        self.folder.record(iteration, m.metric, value, m.unit, note={**note, **(m.note or {})} or None, warmup=warmup)

    # -- the run ---------------------------------------------------------------
    def start(self, fp: dict, *, resume: bool) -> None:
        opts = self.opts
        check_requirements(self.spec_json, self.driver, self.params)
        host = _host(fp)
        lock = self.lock if self.lock is not None else HostLock(opts.state_dir)
        self.lock = lock
        if resume:
            run_id, run_dir = self.folder.manifest["run_id"], self.folder.path
        else:
            run_id = new_run_id(self.spec_json["name"], opts.arm)
            run_dir = RunFolder.planned_path(opts.results or DEFAULT_RESULTS, host, run_id)
        self.planned_dir = Path(run_dir)
        if self.own_lock:
            lock.acquire(run_id, run_dir)
        else:
            lock.set_holder(run_id, run_dir)
        ident = process_identity()
        # the ledger first: no run folder (and nothing else) exists without a place to record what it creates
        ledger = self.ledger = Ledger.create(f"{run_id}-{os.getpid()}", state=opts.state_dir)
        ledger.data["run_id"] = run_id
        self.children_rid, self.env_before = ledger.mark_children()
        if resume:
            self.folder.manifest.setdefault("resumes", []).append(
                {"t": utc_now(), "pid": ident["pid"], "iterations_done": self.folder.manifest["iterations_done"]}
            )
            self.folder.update(status="running", finished=None, owner=ident, iterations_requested=self.iterations)
        else:
            self._folder = RunFolder.create(
                Path(opts.results or DEFAULT_RESULTS),
                host=host,
                workload=self.spec_json["name"],
                arm=opts.arm,
                run_id=run_id,
                preset=self.spec_json.get("preset"),
                boot_id=(fp.get("boot") or {}).get("id"),
                kernel_release=(fp.get("kernel") or {}).get("release"),
                iterations_requested=self.iterations,
                warmup=self.warmups,
                spec=self.spec_json,
                overrides=self.overrides,
                tool_versions=fp.get("tools") or {},
                owner=ident,
                suite=opts.suite,
            )
            self.folder.write_fingerprint("before", fp)
        ledger.attach_run_dir(self.folder.path)

    def execute(self, fp: dict, *, resume: bool = False) -> RunFolder:
        opts = self.opts
        with SignalGuard() as sig:
            self.sig = sig
            try:
                self.start(fp, resume=resume)
            except Stop:
                self._abandon_start()
                raise Interrupted("interrupted before the run started; nothing was measured") from None
            except OSError as e:  # results or state folder full, read-only, gone
                self._abandon_start()
                raise ResourceError(
                    f"cannot write the run folder {self.planned_dir} ({e.strerror or e}); nothing was measured"
                ) from None
            except BaseException:
                self._abandon_start()
                raise
            folder = self.folder
            error: BaseException | None = None
            status = "complete"
            try:
                opts.echo(
                    f"benchctl: {self.spec_json['name']} ({self.spec_json.get('preset')}) arm={opts.arm}: "
                    f"{self.iterations} iterations + {self.warmups} warm-up -> {folder.path}"
                )
                for w in self.pre_warnings:
                    self.warn(w)
                self._body(fp)
            except Stop as e:
                status, error = "interrupted", e
            except BenchctlError as e:
                status, error = "failed", e
            except OSError as e:  # full, read-only or vanished results folder, or a tool's file
                status, error = (
                    "failed",
                    ResourceError(
                        f"{e.strerror or e}{': ' + str(e.filename) if e.filename else ''}; "
                        f"records already written to {folder.path} are intact"
                    ),
                )
            except Exception as e:  # a bug: keep the folder consistent, then let it surface
                status, error = "failed", e
            sig.armed = False
            if sig.received and status == "complete":
                status = "interrupted"
            try:
                self._finish(status, error)
            except OSError as e:
                raise ResourceError(
                    f"could not finish writing {folder.path} ({e.strerror or e}); records already written are intact"
                ) from None
        if status == "interrupted":
            raise Interrupted(
                f"interrupted ({signal.Signals(sig.received).name if sig.received else 'signal'}): "
                f"{folder.manifest['iterations_done']} of {self.iterations} iterations kept in "
                f"{folder.path}; continue with: benchctl run --resume {folder.path}"
            )
        if status == "failed":
            opts.echo(f"benchctl: run failed; what was measured is kept in {folder.path}")
            assert error is not None
            raise error
        return folder

    def _restore_env(self) -> None:
        if self.children_rid is not None:
            os.environ.pop(ENV_TOKEN, None)
            if self.env_before:
                os.environ[ENV_TOKEN] = self.env_before
            self.children_rid = None

    def _abandon_start(self) -> None:
        self._restore_env()
        if self.ledger is not None:
            try:
                self.ledger.release()
            except OSError:
                pass
        if self._folder is None and self.planned_dir is not None:
            for d in (self.planned_dir / "raw", self.planned_dir):  # only if empty: ours, half-made
                try:
                    d.rmdir()
                except OSError:
                    pass
        if self._folder is not None and self._folder.manifest.get("status") == "running":
            try:
                self.folder.update(status="interrupted", finished=utc_now())
            except OSError:
                pass
        if self.own_lock and self.lock is not None:
            self.lock.release()

    def _body(self, fp: dict) -> None:
        folder = self.folder
        self.mark = kernel_log.mark()
        ctx = RunContext(
            params=self.params,
            fingerprint=fp,
            run_dir=folder.path,
            ledger=self.ledger,
            log_command=folder.log_command,
            warn=self.warn,
        )
        self._ctx = ctx
        self._counters = counters.configure(fp, enabled=self.opts.perf)
        folder.update(perf=self.counters.to_json())
        for w in self.counters.warnings:
            self.warn(w)
        for w in self.driver.check(ctx) or []:
            self.warn(w)
        self._phase("setup")
        self.driver.setup(ctx)
        if ctx.state.get("run_info"):
            folder.update(run_info=ctx.state["run_info"])
        for k in range(1, self.warmups + 1):
            self._phase("warmup", k)
            ctx.state["iteration_dir"] = folder.raw_dir(k, warmup=True)
            self.opts.echo(f"benchctl: warm-up {k}/{self.warmups}")
            t0 = time.monotonic()
            self.driver.warmup(ctx, k)
            self.opts.echo(self.passes.done(t0, f"warm-up {k}/{self.warmups} done", self.warmups - k + self.iterations))
        self.completed = folder.whole_iterations()
        self._between()
        it = max(self.completed, default=0)
        while len(self.completed) < self.iterations:
            it += 1
            self._iteration(it)
            self._between()

    def _between(self) -> None:
        if self.opts.between is not None and self._ctx is not None:
            self.opts.between(self.ctx, len(self.completed))

    def _iteration(self, it: int) -> None:
        folder, ctx = self.folder, self.ctx
        raw = folder.raw_dir(it)
        ctx.state["iteration_dir"] = raw
        perf_file = raw / counters.PERF_FILE
        wrapped: list[bool] = []

        def wrap(argv: list[str]) -> list[str]:
            wrapped.append(True)
            return self.counters.wrap(argv, perf_file)

        self._phase("measure", it)
        t0 = time.monotonic()
        state = quiesce.prepare(self.driver, ctx, it, self.rule)  # after our own writes, before the window
        res = self.driver.measure(ctx, it, wrap)
        for name, content in (res.raw or {}).items():
            p = raw / Path(name).name
            if isinstance(content, bytes):
                p.write_bytes(content)
            else:
                p.write_text(content)
        note = {**ctx.state.get("note", {}), **(res.note or {}), **(state.note() if state else {})}
        ms: list[Measurement] = []
        warns: list[str] = []
        if wrapped and self.counters.enabled:
            ms, warns, _ = counters.read(perf_file)
        with self.sig.deferred() if self.sig else contextlib.nullcontext():
            for m in res.measurements:
                self._record(it, m, note)
            for m in ms:
                self._record(it, m, {"perf_events": self.counters.events.name})
            self.completed.add(it)
            # the manifest says which iterations are whole; --resume trusts only those
            self.folder.update(iterations_done=len(self.completed), completed_iterations=sorted(self.completed))
        for w in warns:
            self.warn(f"perf: {w}")
        summary = ", ".join(f"{m.metric}={m.value:.6g}" for m in res.measurements[:3])
        self.opts.echo(
            self.passes.done(t0, f"iteration {it}/{self.iterations}", self.iterations - len(self.completed), summary)
        )

    def _phase(self, name: str, index: int | None = None, must: bool = True) -> None:
        """run.json `phase` (setup, warmup, measure, teardown, done) and its pass number: where a run is,
        or where it stopped -- for users watching a long run, and for the fault tests (tests/faults)."""
        try:
            self.folder.update(phase=name, phase_index=index)
        except OSError:
            if must:
                raise

    def _finish(self, status: str, error: BaseException | None) -> None:
        folder = self.folder
        self._phase("teardown", must=False)  # a full results disk must not stop the teardown
        try:
            if self._ctx is not None:
                try:
                    self.driver.teardown(self.ctx)
                except Exception as e:
                    self.warn(f"teardown failed: {e}")
                    if status == "complete":
                        status = "failed"
            self._restore_env()
            if self.ledger is not None:
                for row in self.ledger.release():
                    if row["action"] not in ("removed", "already gone"):
                        self.warn(f"left behind: {row['kind']} {row['attrs']}: {row['action']}")
            try:
                folder.write_fingerprint("after", take_fingerprint(self.opts))
            except Exception as e:
                try:
                    self.warn(f"fingerprint after the run failed: {e}")
                except OSError:
                    pass
            if self.mark is not None:
                lines, w = kernel_log.since(self.mark)
                if w:
                    self.warn(w)
                atomic_write_text(folder.path / "kmsg.txt", "\n".join(lines) + ("\n" if lines else ""))
                bad = kernel_log.taint_lines(lines)
                if bad:
                    folder.update(tainted=True, taint_lines=bad)
                    self.opts.echo("benchctl: the kernel logged problems during the run (run marked tainted):")
                    for ln in bad:
                        self.opts.echo(f"  {ln}")
            if folder.manifest["iterations_done"]:
                variance.finish(folder, self.opts.echo)  # within-boot CV per metric, quiesce count
            fields: dict[str, Any] = {"status": status, "finished": utc_now(), "phase": "done", "phase_index": None}
            if error is not None and status == "failed":
                fields["error"] = str(error)
            folder.update(**fields)
        finally:
            if self.own_lock and self.lock is not None:
                self.lock.release()
        if status == "complete":
            self.opts.echo(f"benchctl: complete: {folder.manifest['iterations_done']} iterations in {folder.path}")


def run_workload(
    workload: str, opts: RunOptions, *, lock: HostLock | None = None, spec: ResolvedSpec | None = None
) -> RunFolder:
    """`benchctl run WORKLOAD`: a new run folder on this boot."""
    if spec is None:
        spec = load_workload(workload).resolve(
            opts.preset, opts.overrides, iterations=opts.iterations, warmup=opts.warmup
        )
    fp = take_fingerprint(opts)
    run = Run.from_spec(spec, opts, lock)
    run.pre_warnings = hygiene.check(fp, spec.min_memory_mb) + dead_run_warnings(opts.state_dir)
    return run.execute(fp)
