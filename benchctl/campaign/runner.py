"""`benchctl campaign run DIR`: the planned boots, one ansible-playbook round at a time.

A round gives every host that still has boots to do its next planned boot
(hosts boot in parallel: Ansible forks); after it, each host's fetched
results are checked and stored and progress.json is replaced, so the books
are right after every boot. A host that fails stops (its finished boots
stay); the others go on. Run it again to resume: done boots are skipped, a
boot that was under way when the controller died is done again from the
reboot on (a half-measured boot is never mixed with a new one).

Every wait has a deadline: the reboot, suite and connect timeouts of the
plan bound each step inside Ansible, and the round as a whole is bounded
here; past it ansible-playbook's process group is killed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import secrets
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchctl.campaign import adaptive, collect, progress
from benchctl.campaign.inventory import CONFIG_FILE, INVENTORY_FILE, ansible_program
from benchctl.campaign.playbook import PLAYBOOK_FILE, first_error, parse_log, phase_of, play_round, reap_leftovers
from benchctl.campaign.schedule import PLAN_FILE, load_schedule, validate
from benchctl.documents import load_json
from benchctl.errors import InputError, Interrupted, ResourceError, RunFailed, UsageError
from benchctl.osutil.fsutil import atomic_write_json

LOCK_FILE = ".controller.lock"
CONTROLLER_FILE = "controller.json"
DEFAULT_MIN_FREE = 64 << 20


@dataclass
class RunnerOptions:
    limit: list[str] | None = None
    min_free: int = DEFAULT_MIN_FREE
    echo: Callable[[str], None] = print
    ansible_args: list[str] = field(default_factory=list)
    until_decided: bool = False  # with claims, max_boots, confidence: recorded in the plan (campaign/adaptive.py)
    claims: str | None = None
    max_boots: int | None = None
    confidence: float | None = None
    stop_when: Callable[[Path], bool] | None = None  # asked after every round: True stops the campaign (bisect)


@dataclass
class Outcome:
    host: str
    index: int
    arm: str
    ok: bool
    phase: str = ""
    message: str = ""
    line: str = ""


# -- the controller lock and what a killed controller left running -------------------------


@contextlib.contextmanager
def controller_lock(folder: Path) -> Iterator[None]:
    """One controller per campaign folder: an flock the kernel releases when the controller dies."""
    path = folder / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as e:
        raise ResourceError(f"cannot open the controller lock {path}: {e.strerror or e}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_json(folder / CONTROLLER_FILE) or {}
            raise ResourceError(
                f"another controller (pid {holder.get('pid', '?')}) is running this campaign; "
                "wait for it or stop it first"
            ) from None
        atomic_write_json(folder / CONTROLLER_FILE, {"pid": os.getpid(), "started": progress.now()})
        yield
    finally:
        os.close(fd)


def _read_json(path: Path) -> Any:
    try:
        return load_json(path)
    except InputError:
        return None


def _check_space(folder: Path, need: int, done: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < need:
        raise ResourceError(
            f"controller disk: {free / 2**20:.1f} MiB free in {folder}, the next boot needs at least "
            f"{need / 2**20:.0f} MiB (--min-free); free space and run `benchctl campaign run {folder}` "
            f"again ({done} finished boot(s) are kept)"
        )


def _disk_full(e: OSError) -> bool:
    return e.errno in (errno.ENOSPC, errno.EDQUOT)


def _set_aside_incoming(folder: Path, echo: Callable[[str], None]) -> None:
    """What a killed round fetched is not recorded as done: keep it aside, the boot is done again."""
    inc = folder / "incoming"
    if not inc.is_dir():
        return
    if any(p.is_file() for p in inc.rglob("*")):
        dest = collect.set_aside(inc, folder / "aborted", f"incoming-{time.strftime('%Y%m%dT%H%M%S')}")
        assert dest is not None
        echo(
            f"campaign: results of an interrupted round moved to {dest.relative_to(folder)} "
            "(those boots are done again)"
        )
    else:
        shutil.rmtree(inc)


class Controller:
    """One `campaign run`: the rounds, and the books after every boot."""

    def __init__(self, folder: Path, plan: dict[str, Any], hosts: list[str], opts: RunnerOptions):
        self.folder, self.plan, self.hosts, self.opts = folder, plan, hosts, opts
        self.prog = progress.load(folder, plan)
        self.stopped: dict[str, Outcome] = {}
        self.biggest = 0  # largest fetched archive so far: the next one needs about as much room
        self.decided = False  # adaptive campaigns: every claim decided, no more boots

    def done_total(self) -> int:
        return sum(len(self.prog["hosts"][h]["done"]) for h in self.plan["hosts"])

    def todo(self) -> dict[str, int]:
        out = {}
        for h in self.hosts:
            i = progress.next_boot(self.plan, self.prog, h)
            if h not in self.stopped and i is not None and i < adaptive.allowed(self.plan, h):
                out[h] = i
        return out

    def run(self) -> None:
        if self.plan.get(adaptive.KEY) and self.judge():
            return
        while todo := self.todo():
            _check_space(self.folder, max(self.opts.min_free, 2 * self.biggest), self.done_total())
            self.round(todo)
            shutil.rmtree(self.folder / "incoming", ignore_errors=True)
            if self.plan.get(adaptive.KEY) and self.judge():
                return
            if self.opts.stop_when is not None and self.opts.stop_when(self.folder):
                self.decided = True
                return

    def judge(self) -> bool:
        """Adaptive: every claim's state on the boots stored so far, in the books and on screen; only
        after complete pairs (as many boots of each arm), the unit the sequences count in."""
        arms = [r["arm"] for h in self.plan["hosts"] for r in self.prog["hosts"][h]["done"].values()]
        if arms.count(self.plan["baseline"]) != arms.count(self.plan["candidate"]):
            return False
        st = adaptive.state(self.folder, self.plan)
        if not st["claims"] and not st.get("note"):
            return False
        for line in adaptive.lines(st):
            self.opts.echo(line)
        self.prog[adaptive.KEY] = st | {"at": progress.now(), "boots_done": self.done_total()}
        progress.save(self.folder, self.prog)
        self.decided = bool(st["decided"])
        return self.decided

    def round(self, todo: dict[str, int]) -> None:
        folder, plan = self.folder, self.plan
        number = len(self.prog["rounds"]) + 1
        attempt = f"r{number:03d}-{secrets.token_hex(3)}"
        self.opts.echo(
            f"campaign: round {number}: "
            + ", ".join(
                f"{h} boot {i + 1}/{len(plan['hosts'][h])} ({plan['hosts'][h][i]['arm']})" for h, i in todo.items()
            )
        )
        for h, i in todo.items():
            (folder / "incoming" / h / f"boot-{i:03d}").mkdir(parents=True, exist_ok=True)
        progress.event(folder, "round-start", round=number, boots=todo, attempt=attempt)
        t0 = time.monotonic()
        rc, log = play_round(folder, plan, todo, number, attempt, self.opts.ansible_args)
        seconds = round(time.monotonic() - t0, 1)
        log_name = f"logs/round-{number:03d}.{attempt}.log"
        if rc in (4, 5) and not any(
            (folder / "incoming" / h / f"boot-{i:03d}" / "outcome.json").exists() for h, i in todo.items()
        ):
            raise InputError(
                f"ansible-playbook could not start (rc {rc}): {first_error(log) or 'see the log'}; see {log_name}",
                folder / PLAYBOOK_FILE,
            )
        fatal = parse_log(log)
        boots_done = sum(
            self.settle(h, i, _outcome_for(folder, plan, h, i, attempt, rc, log, fatal, rc == -9), number, seconds)
            for h, i in todo.items()
        )
        self.prog["rounds"].append(
            {
                "round": number,
                "attempt": attempt,
                "seconds": seconds,
                "hosts": sorted(todo),
                "boots_done": boots_done,
                "ansible_rc": rc,
                "log": log_name,
            }
        )
        progress.save(folder, self.prog)
        progress.event(folder, "round-end", round=number, seconds=seconds, boots_done=boots_done, rc=rc)
        rep = progress.status_report(plan, self.prog)
        self.opts.echo(
            f"campaign: {rep['boots_done']}/{rep['boots_planned']} boots done; "
            f"ETA {progress.fmt_duration(rep['eta_s'])}"
        )

    def settle(self, host: str, index: int, res: dict[str, Any] | Outcome, number: int, seconds: float) -> int:
        """Store one host's boot (1) or record why it stopped (0); the books are saved either way."""
        of = f"boot {index + 1}/{len(self.plan['hosts'][host])}"
        if not isinstance(res, Outcome):
            try:
                line, size = _store(self.folder, self.plan, self.prog, host, index, res, number, seconds)
            except collect.Refused as e:
                res = Outcome(
                    host, index, self.plan["hosts"][host][index]["arm"], False, "fetch", f"{e} (set aside in aborted/)"
                )
            else:
                self.biggest = max(self.biggest, size)
                eta = progress.fmt_duration(progress.eta_seconds(self.plan, self.prog, seconds))
                self.opts.echo(f"  {host}: {line}; campaign ETA {eta}")
                progress.save(self.folder, self.prog)
                return 1
        self.stopped[host] = res
        err = {"index": index, "arm": res.arm, "phase": res.phase, "message": res.message, "at": progress.now()}
        h = self.prog["hosts"][host]
        h["last_error"] = err
        h.setdefault("errors", []).append(err)
        progress.event(self.folder, "boot-failed", host=host, **err)
        progress.save(self.folder, self.prog)
        self.opts.echo(f"  {host}: {of} {res.arm}: STOPPED in {res.phase}: {res.message}")
        return 0


def _outcome_for(
    folder: Path,
    plan: dict[str, Any],
    host: str,
    index: int,
    attempt: str,
    rc: int,
    log: str,
    fatal: dict[str, tuple[str, str, str]],
    deadline_hit: bool,
) -> dict[str, Any] | Outcome:
    """The fetched archive (success) or why there is none: the rescue's outcome.json, else Ansible's log."""
    arm = plan["hosts"][host][index]["arm"]
    slot = folder / "incoming" / host / f"boot-{index:03d}"
    data = _read_json(slot / "outcome.json")
    if data is None and not fatal.get(host) and (slot / f"boot-{index:03d}.{attempt}.tar.gz").is_file():
        return {"ok": True, "archive": f"boot-{index:03d}.{attempt}.tar.gz", "top": f"boot-{index:03d}.{attempt}"}
    if isinstance(data, dict) and data.get("ok") is False:
        said = [ln.removeprefix("benchctl: error: ") for ln in str(data.get("msg") or "").strip().splitlines()]
        phase, msg = phase_of(str(data.get("task", ""))), (said[-1] if said else "failed without a message")
        step = _STEP.match(msg)
        if phase == "measure" and step:  # `benchctl campaign measure` names its step: verify, run or pack
            phase, msg = step[1], msg[step.end() :]
        return Outcome(host, index, arm, False, phase, msg[:500])
    if host in fatal:
        task, kind, msg = fatal[host]
        phase = "reach" if kind == "UNREACHABLE" else phase_of(task)
        return Outcome(host, index, arm, False, phase, f"{'unreachable: ' if kind == 'UNREACHABLE' else ''}{msg}"[:500])
    if deadline_hit:
        return Outcome(host, index, arm, False, "deadline", "the round's deadline passed; ansible-playbook was killed")
    first = first_error(log)
    return Outcome(
        host, index, arm, False, "ansible", f"no outcome (ansible-playbook exited {rc}){': ' + first if first else ''}"
    )


_STEP = re.compile(r"^(verify|run|pack): ")


def _hosts(plan: dict[str, Any], limit: list[str] | None) -> list[str]:
    hosts = list(plan["hosts"])
    if not limit:
        return hosts
    unknown = [h for h in limit if h not in plan["hosts"]]
    if unknown:
        raise UsageError(f"--limit: {', '.join(unknown)} not in this campaign (hosts: {', '.join(hosts)})")
    return [h for h in hosts if h in limit]


def run_campaign(folder: Path, opts: RunnerOptions) -> dict[str, Any]:
    """Do every planned boot not done yet; returns the status report. RunFailed if a host stopped."""
    folder = Path(folder)
    plan = load_schedule(folder)
    for f in (INVENTORY_FILE, PLAYBOOK_FILE, CONFIG_FILE):
        if not (folder / f).is_file():
            raise InputError(
                f"not a campaign folder: {f} is missing (plan it again with `benchctl campaign plan`)", folder
            )
    hosts = _hosts(plan, opts.limit)
    ansible_program("ansible-playbook")
    with controller_lock(folder), _signals_as_interrupt():
        if opts.until_decided and adaptive.record(plan, opts.claims, opts.max_boots, opts.confidence):
            atomic_write_json(folder / PLAN_FILE, validate(plan, folder / PLAN_FILE))
            opts.echo(f"campaign: adaptive, at most {plan[adaptive.KEY]['max_boots']} boots per arm (plan.json)")
        reap_leftovers(plan["id"], opts.echo)
        ctl = Controller(folder, plan, hosts, opts)
        _set_aside_incoming(folder, opts.echo)
        try:
            ctl.run()
        except OSError as e:
            if not _disk_full(e):
                raise
            raise ResourceError(
                f"controller disk full while storing results in {folder} ({e.strerror}); free space "
                f"and run `benchctl campaign run {folder}` again ({ctl.done_total()} finished boot(s) "
                "are kept; the boot under way is done again)"
            ) from None
    if ctl.stopped:
        names = ", ".join(f"{h} (boot {o.index}, {o.phase})" for h, o in ctl.stopped.items())
        raise RunFailed(
            f"{len(ctl.stopped)} host(s) stopped: {names}; their finished boots are kept; "
            f"see `benchctl campaign status {folder}`, fix, and run `benchctl campaign run {folder}` again"
        )
    return progress.status_report(plan, ctl.prog) | {"decided": ctl.decided, "adaptive": plan.get(adaptive.KEY)}


def _store(
    folder: Path,
    plan: dict[str, Any],
    prog: dict[str, Any],
    host: str,
    index: int,
    outcome: dict[str, Any],
    number: int,
    seconds: float,
) -> tuple[str, int]:
    arm = plan["hosts"][host][index]["arm"]
    archive = folder / "incoming" / host / f"boot-{index:03d}" / outcome["archive"]
    attempt = outcome["top"]
    size = archive.stat().st_size
    record = {
        "campaign": plan["id"],
        "host": host,
        "index": index,
        "arm": arm,
        "boot_method": plan["boot_method"],
        "attempt": attempt,
        "round": number,
        "stored": progress.now(),
    }
    final, ver, runs = collect.store(
        archive, attempt, folder / "boots", folder / "aborted", host=host, index=index, arm=arm, record=record
    )
    obs = ver.get("observed") or {}
    prog["hosts"][host]["done"][str(index)] = {
        "arm": arm,
        "boot_id": ver.get("boot_id"),
        "boot_method": plan["boot_method"],
        "folder": str(final.relative_to(folder)),
        "runs": [str(r.relative_to(folder)) for r in runs],
        "verified": obs,
        "attempt": attempt,
        "round": number,
        "finished": progress.now(),
    }
    prog["hosts"][host]["last_error"] = None
    progress.event(
        folder,
        "boot-done",
        host=host,
        index=index,
        arm=arm,
        boot_id=ver.get("boot_id"),
        folder=str(final.relative_to(folder)),
    )
    line = (
        f"boot {index + 1}/{len(plan['hosts'][host])} {arm}: boot {str(ver.get('boot_id'))[:8]}, "
        f"rodata {obs.get('rodata')}, linear map {obs.get('linear_map')} ({obs.get('linear_map_source')}), "
        f"{len(runs)} run folder(s), round {seconds:.0f} s"
    )
    return line, size


@contextlib.contextmanager
def _signals_as_interrupt() -> Iterator[None]:
    """SIGTERM/SIGHUP like Ctrl-C: the round's ansible group is killed and the books stay consistent."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(
            "campaign interrupted; finished boots are kept, run `benchctl campaign run` again to resume"
        ) from None
    finally:
        for s, h in old.items():
            signal.signal(s, h)
