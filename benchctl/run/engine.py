"""The run engine: one workload, N iterations, on the booted kernel, every number kept with its provenance.

Order of work (docs/result-format.md has the folder layout):
fingerprint -> requirements (refuse, naming the package) -> hygiene
warnings -> host lock -> run folder + resource ledger -> kernel-log mark ->
driver setup -> warm-up -> iterations (perf around the measured window,
records appended as produced) -> teardown -> ledger release -> fingerprint
after -> kernel-log scan (taint) -> status.

SIGINT/SIGTERM stop the run between two instructions: the driver tears
down, the run is marked interrupted, the user is told where the results
are, exit 130. SIGKILL cannot be caught: the folder is still consistent
(records and manifest are written atomically), children die with us
(PDEATHSIG) and `benchctl cleanup` removes the rest from the ledger;
`--resume DIR` continues to the requested count on the same boot.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import math
import os
import shutil
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from benchctl.run import counters, hygiene, kernel_log
from benchctl.run.cleanup import cleanup
from benchctl.run.hostlock import HostLock
from benchctl.run.ledger import Ledger, ledgers
from benchctl.run.processes import ENV_TOKEN, identity_alive, process_identity
from benchctl.run.drivers.base import RunContext
from benchctl.errors import (BenchctlError, InputError, Interrupted, ResourceError, RunFailed,
                             ToolMissingError)
from benchctl.results.fsutil import atomic_write_text
from benchctl.run.specs import ResolvedSpec, load_suite, load_workload
from benchctl.results.store import RunFolder, new_run_id, utc_now

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
    results: Path | None = None          # results root: <results>/<host>/<run-id>/
    perf: bool = True
    state_dir: Path | None = None
    echo: Callable[[str], None] = _stderr
    fingerprint: Callable[[], dict] | None = None    # injectable for tests; default fingerprint.collect
    suite: dict[str, Any] | None = None              # {name, id, index, of}: ties a suite's folders together


class _Stop(BaseException):
    """Raised in the main thread by the SIGINT/SIGTERM handler (BaseException: drivers cannot swallow it)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _Signals:
    """SIGINT/SIGTERM/SIGHUP -> _Stop once; later signals during teardown are remembered, not raised."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.armed = True
        self._old: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        first = self.received is None
        self.received = self.received or signum
        if self.armed and first and not self.deferring:
            raise _Stop(signum)

    deferring = False

    @contextlib.contextmanager
    def deferred(self):
        """A section a signal must not cut in two (one iteration's records + its manifest update)."""
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False
        if self.received and self.armed:
            raise _Stop(self.received)

    def __enter__(self) -> "_Signals":
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):   # SIGHUP: the terminal went away
            self._old[s] = signal.signal(s, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)


def load_driver(name: str) -> Any:
    """benchctl/run/drivers/<name>.py exposes DRIVER (an instance implementing drivers.base.Driver)."""
    mod_name = "benchctl.run.drivers." + name.replace("-", "_")
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as e:
        if e.name == mod_name:
            raise InputError(f"no driver {name!r} (module {mod_name})")
        raise
    drv = getattr(mod, "DRIVER", None)
    if drv is None:
        raise InputError(f"driver module {mod_name} has no DRIVER")
    return drv


def check_requirements(spec_json: dict[str, Any], driver: Any, params: dict[str, Any]) -> None:
    """Refuse before anything is created when a program is missing, naming its package."""
    needs = spec_json.get("needs", {})
    missing = [(p, pkg) for p, pkg in needs.get("programs", {}).items() if shutil.which(p) is None]
    missing += [(p, pkg) for p, pkg in driver.requirements(params) if shutil.which(p) is None]
    if missing:
        seen = dict(missing)
        raise ToolMissingError("missing program(s): " + ", ".join(f"{p} (install {pkg})" for p, pkg in seen.items()))
    for group in needs.get("one_of", []):
        if group and not any(shutil.which(p) for p in group):
            raise ToolMissingError("none of " + ", ".join(group) + " is installed; install one of: "
                                   + "; ".join(f"{p}: {pkg}" for p, pkg in group.items()))
    if needs.get("root") and os.geteuid() != 0:
        raise ResourceError(f"workload {spec_json.get('name')} must run as root (it builds block devices)")


def _fp(opts: RunOptions) -> dict:
    if opts.fingerprint is not None:
        return opts.fingerprint()
    from benchctl.env.fingerprint import collect

    return collect()


def _host(fp: dict) -> str:
    return ((fp.get("host") or {}).get("name")) or socket.gethostname()


class Run:
    """One run of one workload into one folder (new or resumed)."""

    def __init__(self, opts: RunOptions, spec_json: dict[str, Any], params: dict[str, Any], *,
                 folder: RunFolder | None = None, lock: HostLock | None = None):
        self.opts = opts
        self.spec_json = spec_json
        self.params = params
        self.folder = folder
        self.lock = lock
        self.own_lock = lock is None
        self.driver = load_driver(spec_json["driver"])
        self.ledger: Ledger | None = None
        self.ctx: RunContext | None = None
        self.counters: counters.CounterSetup | None = None
        self.mark: kernel_log.Mark | None = None
        self.planned_dir: Path | None = None
        self.children_rid: str | None = None
        self.sig: _Signals | None = None
        self.completed: set[int] = set()
        self.env_before = ""
        # set by _new_run / resume
        self.iterations = 0
        self.warmups = 0
        self.overrides: dict[str, Any] = {}
        self.pre_warnings: list[str] = []

    # -- helpers ---------------------------------------------------------------
    def warn(self, msg: str) -> None:
        if self.folder is not None:
            if msg in self.folder.manifest["warnings"]:
                return
            self.folder.warn(msg)
        self.opts.echo(f"benchctl: warning: {msg}")

    def _record(self, iteration: int, m: Any, note: dict[str, Any], warmup: bool = False) -> None:
        value = float(m.value) if m.value is not None else math.nan
        if not math.isfinite(value):
            self.warn(f"{m.metric}: no finite value in iteration {iteration}; not recorded")
            return
        self.folder.record(iteration, m.metric, value, m.unit, note={**note, **(m.note or {})} or None,
                           warmup=warmup)

    # -- the run ---------------------------------------------------------------
    def start(self, fp: dict, *, resume: bool) -> None:
        opts = self.opts
        check_requirements(self.spec_json, self.driver, self.params)
        host = _host(fp)
        if self.own_lock:
            self.lock = HostLock(opts.state_dir)
        if resume:
            run_id, run_dir = self.folder.manifest["run_id"], self.folder.path
        else:
            run_id = new_run_id(self.spec_json["name"], opts.arm)
            run_dir = Path(opts.results or DEFAULT_RESULTS) / host / run_id
        self.planned_dir = Path(run_dir)
        if self.own_lock:
            self.lock.acquire(run_id, run_dir)
        else:
            self.lock.set_holder(run_id, run_dir)
        ident = process_identity()
        # the ledger first: no run folder (and nothing else) exists without a place to record what it creates
        self.ledger = Ledger.create(f"{run_id}-{os.getpid()}", state=opts.state_dir)
        self.ledger.data["run_id"] = run_id
        self.children_rid, self.env_before = self.ledger.mark_children()
        if resume:
            self.folder.manifest.setdefault("resumes", []).append(
                {"t": utc_now(), "pid": ident["pid"], "iterations_done": self.folder.manifest["iterations_done"]})
            self.folder.update(status="running", finished=None, owner=ident,
                               iterations_requested=self.iterations)
        else:
            self.folder = RunFolder.create(
                Path(opts.results or DEFAULT_RESULTS), host=host, workload=self.spec_json["name"], arm=opts.arm,
                run_id=run_id, preset=self.spec_json.get("preset"), boot_id=(fp.get("boot") or {}).get("id"),
                kernel_release=(fp.get("kernel") or {}).get("release"), iterations_requested=self.iterations,
                warmup=self.warmups, spec=self.spec_json, overrides=self.overrides,
                tool_versions=fp.get("tools") or {}, owner=ident, suite=opts.suite)
            self.folder.write_fingerprint("before", fp)
        self.ledger.attach_run_dir(self.folder.path)

    def execute(self, fp: dict, *, resume: bool = False) -> RunFolder:
        opts = self.opts
        with _Signals() as sig:
            self.sig = sig
            try:
                self.start(fp, resume=resume)
            except _Stop:
                self._abandon_start()
                raise Interrupted("interrupted before the run started; nothing was measured")
            except OSError as e:   # results or state folder full, read-only, gone
                self._abandon_start()
                raise ResourceError(f"cannot write the run folder {self.planned_dir} "
                                    f"({e.strerror or e}); nothing was measured") from None
            except BaseException:
                self._abandon_start()
                raise
            folder = self.folder
            error: BaseException | None = None
            status = "complete"
            try:
                opts.echo(f"benchctl: {self.spec_json['name']} ({self.spec_json.get('preset')}) arm={opts.arm}: "
                          f"{self.iterations} iterations + {self.warmups} warm-up -> {folder.path}")
                for w in self.pre_warnings:
                    self.warn(w)
                self._body(fp)
            except _Stop as e:
                status, error = "interrupted", e
            except BenchctlError as e:
                status, error = "failed", e
            except OSError as e:   # full, read-only or vanished results folder, or a tool's file
                status, error = "failed", ResourceError(
                    f"{e.strerror or e}{': ' + str(e.filename) if e.filename else ''}; "
                    f"records already written to {folder.path} are intact")
            except Exception as e:  # a bug: keep the folder consistent, then let it surface
                status, error = "failed", e
            sig.armed = False
            if sig.received and status == "complete":
                status = "interrupted"
            try:
                self._finish(status, error)
            except OSError as e:
                raise ResourceError(f"could not finish writing {folder.path} ({e.strerror or e}); "
                                    "records already written are intact") from None
        if status == "interrupted":
            raise Interrupted(f"interrupted ({signal.Signals(sig.received).name if sig.received else 'signal'}): "
                              f"{folder.manifest['iterations_done']} of {self.iterations} iterations kept in "
                              f"{folder.path}; continue with: benchctl run --resume {folder.path}")
        if status == "failed":
            opts.echo(f"benchctl: run failed; what was measured is kept in {folder.path}")
            raise error  # type: ignore[misc]
        return folder

    def _restore_env(self) -> None:
        if self.children_rid is not None:
            if self.env_before:
                os.environ[ENV_TOKEN] = self.env_before
            else:
                os.environ.pop(ENV_TOKEN, None)
            self.children_rid = None

    def _abandon_start(self) -> None:
        self._restore_env()
        if self.ledger is not None:
            try:
                self.ledger.release()
            except OSError:
                pass
        if self.folder is None and self.planned_dir is not None:
            for d in (self.planned_dir / "raw", self.planned_dir):   # only if empty: ours, half-made
                try:
                    d.rmdir()
                except OSError:
                    pass
        if self.folder is not None and self.folder.manifest.get("status") == "running":
            try:
                self.folder.update(status="interrupted", finished=utc_now())
            except OSError:
                pass
        if self.own_lock and self.lock is not None:
            self.lock.release()

    def _body(self, fp: dict) -> None:
        folder = self.folder
        self.mark = kernel_log.mark()
        ctx = RunContext(params=self.params, fingerprint=fp, run_dir=folder.path, ledger=self.ledger,
                         log_command=folder.log_command, warn=self.warn)
        self.ctx = ctx
        self.counters = counters.configure(fp, enabled=self.opts.perf)
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
            self.driver.warmup(ctx, k)
        self.completed = complete_iterations(folder)
        it = max(self.completed, default=0)
        while len(self.completed) < self.iterations:
            it += 1
            self._iteration(it)

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
        res = self.driver.measure(ctx, it, wrap)
        for name, content in (res.raw or {}).items():
            p = raw / Path(name).name
            if isinstance(content, bytes):
                p.write_bytes(content)
            else:
                p.write_text(content)
        note = {**ctx.state.get("note", {}), **(res.note or {})}
        ms, warns = [], []
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
        self.opts.echo(f"benchctl: iteration {it}/{self.iterations} ({time.monotonic() - t0:.1f} s): {summary}")

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
        self._phase("teardown", must=False)   # a full results disk must not stop the teardown
        try:
            if self.ctx is not None:
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
                folder.write_fingerprint("after", _fp(self.opts))
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
            fields: dict[str, Any] = {"status": status, "finished": utc_now(), "phase": "done", "phase_index": None}
            if error is not None and status == "failed":
                fields["error"] = str(error)
            folder.update(**fields)
        finally:
            if self.own_lock and self.lock is not None:
                self.lock.release()
        if status == "complete":
            self.opts.echo(f"benchctl: complete: {folder.manifest['iterations_done']} iterations in {folder.path}")



def complete_iterations(folder: RunFolder) -> set[int]:
    """Iterations whose records were all written (manifest `completed_iterations`; older folders: any record)."""
    listed = folder.manifest.get("completed_iterations")
    if isinstance(listed, list):
        return {int(i) for i in listed}
    return folder.completed_iterations()


def repair_records(folder: RunFolder, complete: set[int]) -> int:
    """Before appending to a killed run: set aside torn lines and records of iterations cut in half.

    A SIGKILL can leave a last line without its newline (the next append
    would glue onto it) or an iteration with only some of its metrics. Those
    lines move, byte for byte, to records.set-aside.jsonl (kept, never read
    as data) and records.jsonl is replaced atomically by the whole ones.
    Returns the number of lines set aside.
    """
    from benchctl.results.fsutil import atomic_write_bytes, append_line

    path = folder.path / "records.jsonl"
    if not path.exists():
        return 0
    data = path.read_bytes()
    lines = data.split(b"\n")
    keep, aside = [], []
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        torn = n == len(lines) - 1          # no newline after it
        try:
            rec = json.loads(line)
            ok = isinstance(rec, dict) and not torn
        except ValueError:
            ok = False
        if ok and not rec.get("warmup") and int(rec.get("iteration", -1)) not in complete:
            ok = False
        (keep if ok else aside).append(line)
    if not aside:
        return 0
    for line in aside:
        append_line(folder.path / "records.set-aside.jsonl", line.decode("utf-8", errors="replace"))
    atomic_write_bytes(path, b"".join(line + b"\n" for line in keep))
    return len(aside)


def _new_run(spec: ResolvedSpec, opts: RunOptions, lock: HostLock | None = None) -> Run:
    r = Run(opts, spec.to_json(), spec.params, lock=lock)
    r.iterations, r.warmups, r.overrides = spec.iterations, spec.warmup, spec.overrides
    return r


def _dead_ledgers_warning(opts: RunOptions) -> list[str]:
    out = []
    for p in ledgers(opts.state_dir):
        try:
            led = Ledger.load(p)
        except InputError:
            continue
        if led.outstanding() and not identity_alive(led.data.get("owner", {})):
            out.append(f"killed run {led.run_id} may have left resources behind: run `benchctl cleanup`")
    return out


def run_workload(workload: str, opts: RunOptions, *, lock: HostLock | None = None,
                 spec: ResolvedSpec | None = None) -> RunFolder:
    """`benchctl run WORKLOAD`: a new run folder on this boot."""
    if spec is None:
        spec = load_workload(workload).resolve(opts.preset, opts.overrides, iterations=opts.iterations,
                                               warmup=opts.warmup)
    fp = _fp(opts)
    run = _new_run(spec, opts, lock)
    run.pre_warnings = hygiene.check(fp, spec.min_memory_mb) + _dead_ledgers_warning(opts)
    return run.execute(fp)


def resume(run_dir: Path, opts: RunOptions) -> RunFolder:
    """`benchctl run --resume DIR`: continue a run to its requested count, on the same boot only."""
    planted = [p for p in [Path(run_dir), *(Path(run_dir) / n for n in (
        "run.json", "records.jsonl", "commands.jsonl", "env-before.json", "env-after.json", "kmsg.txt",
        "resources.json", "records.set-aside.jsonl", "raw"))] if p.is_symlink()]
    if planted:   # root would write through it to wherever it points
        raise ResourceError(f"refusing to resume {run_dir}: {planted[0]} is a symlink")
    folder = RunFolder.open(run_dir)
    m = folder.manifest
    if m.get("imported") or m.get("simulated") or m.get("status") in ("imported", "simulated"):
        raise InputError(f"run {m.get('run_id')} is {m.get('status')}: only measured runs can be resumed", run_dir)
    owner = m.get("owner") or {}
    if m.get("status") == "running" and identity_alive(owner):
        raise ResourceError(f"run {m['run_id']} is still running (pid {owner.get('pid')}); it cannot be resumed twice")
    fp = _fp(opts)
    here = (fp.get("boot") or {}).get("id")
    if m.get("boot_id") and here and m["boot_id"] != here:
        raise ResourceError(
            f"run {m['run_id']} was measured on boot {m['boot_id']}, this is boot {here}: iterations from another "
            f"boot are a different replicate, so the run cannot be continued. Start a new run on this boot: "
            f"benchctl run {m['workload']} --arm {m['arm']} --preset {m.get('preset')}")
    requested = opts.iterations or int(m.get("iterations_requested") or 0)
    if len(complete_iterations(folder)) >= requested and m.get("status") == "complete":
        opts.echo(f"benchctl: run {m['run_id']} is already complete ({requested} iterations); nothing to do")
        return folder
    rows = cleanup(opts.state_dir)
    for r in rows:
        if r["action"] not in ("already gone",):
            opts.echo(f"benchctl: cleanup before resume: {r['kind']} {r['attrs'].get('pid') or r['attrs'].get('path') or ''}"
                      f" {r['action']}")
    opts.arm = m["arm"]
    spec_json = m.get("spec") or {}
    if not spec_json.get("driver"):
        raise InputError("run.json has no spec.driver; cannot resume", run_dir)
    complete = complete_iterations(folder)
    moved = repair_records(folder, complete)
    if moved:
        opts.echo(f"benchctl: {moved} record line(s) of unfinished iterations or torn writes moved to "
                  f"records.set-aside.jsonl; those iterations are measured again")
        folder.warn(f"resume: {moved} record line(s) set aside in records.set-aside.jsonl (torn or partial iteration)")
    folder.update(iterations_done=len(complete), completed_iterations=sorted(complete))
    run = Run(opts, spec_json, dict(spec_json.get("params") or {}), folder=folder)
    run.iterations = requested
    run.warmups = opts.warmup if opts.warmup is not None else int(m.get("warmup") or 0)
    run.overrides = m.get("overrides") or {}
    run.pre_warnings = hygiene.check(fp, int(spec_json.get("min_memory_mb") or 0))
    opts.echo(f"benchctl: resuming {m['run_id']}: {len(complete)} of {requested} done")
    return run.execute(fp, resume=True)


def run_suite(name: str, opts: RunOptions) -> list[RunFolder]:
    """`benchctl run --suite NAME`: the suite's workloads in order, one folder each, one boot, one lock."""
    suite = load_suite(name)
    specs = suite.resolve(opts.preset, opts.overrides, iterations=opts.iterations, warmup=opts.warmup)
    lock = HostLock(opts.state_dir)
    lock.acquire(f"suite-{suite.name}", opts.results or DEFAULT_RESULTS)
    folders: list[RunFolder] = []
    failed: list[str] = []
    suite_id = new_run_id(f"suite-{suite.name}", opts.arm)
    try:
        for i, spec in enumerate(specs, 1):
            opts.echo(f"benchctl: suite {suite.name}: {i}/{len(specs)} {spec.workload.name}")
            opts.suite = {"name": suite.name, "id": suite_id, "index": i, "of": len(specs)}
            try:
                folders.append(run_workload(spec.workload.name, opts, lock=lock, spec=spec))
            except Interrupted:
                raise
            except BenchctlError as e:
                opts.echo(f"benchctl: error: {spec.workload.name}: {e}")
                failed.append(spec.workload.name)
    finally:
        lock.release()
    boots = {f.manifest.get("boot_id") for f in folders}
    opts.echo(f"benchctl: suite {suite.name}: {len(folders)} run folder(s) on boot {', '.join(map(str, boots))}:")
    for f in folders:
        opts.echo(f"  {f.path}")
    if failed:
        raise RunFailed(f"suite {suite.name}: {', '.join(failed)} failed (the other runs are kept)")
    return folders
