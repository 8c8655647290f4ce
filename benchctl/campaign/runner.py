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
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchctl.campaign import collect, progress
from benchctl.campaign.inventory import CONFIG_FILE, INVENTORY_FILE, ansible_program
from benchctl.campaign.plan import load_plan
from benchctl.campaign.playbook import PLAYBOOK_FILE
from benchctl.errors import InputError, Interrupted, ResourceError, RunFailed, UsageError
from benchctl.results.fsutil import atomic_write_json

LOCK_FILE = ".controller.lock"
CONTROLLER_FILE = "controller.json"
ROUND_SLACK_S = 300          # ansible-playbook start-up, packing and fetching, on top of the plan's timeouts
DEFAULT_MIN_FREE = 64 << 20


@dataclass
class RunnerOptions:
    limit: list[str] | None = None
    min_free: int = DEFAULT_MIN_FREE
    echo: Callable[[str], None] = print
    ansible_args: list[str] = field(default_factory=list)


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
            raise ResourceError(f"another controller (pid {holder.get('pid', '?')}) is running this campaign; "
                                "wait for it or stop it first") from None
        atomic_write_json(folder / CONTROLLER_FILE, {"pid": os.getpid(), "started": progress.now()})
        yield
    finally:
        os.close(fd)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


MARKER = "BENCHCTL_CAMPAIGN"


def _marked(campaign_id: str) -> list[int]:
    """Processes carrying this campaign's marker in their environment (ansible-playbook, its workers, ssh)."""
    needle = f"{MARKER}={campaign_id}".encode()
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            if needle in (d / "environ").read_bytes().split(b"\0"):
                out.append(int(d.name))
        except OSError:
            continue
    return out


def reap_leftovers(campaign_id: str, echo: Callable[[str], None], wait_s: float = 10.0) -> None:
    """Kill what a killed controller left running: its ansible-playbook may still be rebooting hosts,
    and two rounds on one host would load one kernel and boot another. Found by an environment
    marker that every process of a round inherits, not by a pid that might be recorded too late."""
    pids = _marked(campaign_id)
    if not pids:
        return
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + wait_s
    while _marked(campaign_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _marked(campaign_id)
    if left:
        raise ResourceError(f"processes of a stopped controller of this campaign will not die (pids "
                            f"{', '.join(map(str, left[:5]))}); kill them and run again")
    echo(f"campaign: killed {len(pids)} process(es) left running by a stopped controller")


# -- one round ---------------------------------------------------------------------------

_TASK = re.compile(r"^TASK \[(.*)\] \**\s*$")
_FATAL = re.compile(r"^fatal: \[([^\]]+)\]: (UNREACHABLE|FAILED)! => (\{.*\})\s*$")


def parse_log(text: str) -> dict[str, tuple[str, str, str]]:
    """{host: (task, kind, message)} of hosts Ansible gave up on outside the playbook's rescue
    (unreachable hosts above all), from the default callback's output."""
    out: dict[str, tuple[str, str, str]] = {}
    task = ""
    for line in text.splitlines():
        m = _TASK.match(line)
        if m:
            task = m[1]
            continue
        m = _FATAL.match(line)
        if m:
            try:
                msg = str(json.loads(m[3]).get("msg", "")).strip()
            except ValueError:
                msg = m[3][:200]
            out[m[1]] = (task, m[2], msg.splitlines()[-1] if msg else m[2].lower())
    return out


def _first_error(text: str) -> str:
    for line in text.splitlines():
        s = line.strip()
        if s.startswith(("ERROR!", "[ERROR]")):
            return s.removeprefix("[ERROR]:").removeprefix("ERROR!").strip()
    return ""


def _phase(task: str) -> str:
    head, colon, _ = task.partition(":")
    return head.strip() if colon else (task or "ansible")


def round_deadline(plan: dict[str, Any]) -> float:
    t = plan["timeouts"]
    steps = 1 if plan["run"].get("suite") else len(plan["run"]["workloads"])
    return 3 * t["connect_s"] + 2 * t["reboot_s"] + steps * t["suite_s"] + ROUND_SLACK_S


def play_round(folder: Path, plan: dict[str, Any], todo: dict[str, int], number: int, attempt: str,
               opts: RunnerOptions) -> tuple[int, str]:
    """Run the playbook for these hosts and boots; returns (ansible rc, log text)."""
    state = folder / "state"
    logs = folder / "logs"
    state.mkdir(exist_ok=True)
    logs.mkdir(exist_ok=True)
    extra = state / f"round-{number:03d}.json"
    atomic_write_json(extra, {"benchctl_next": todo, "benchctl_attempt": attempt})
    log_path = logs / f"round-{number:03d}.{attempt}.log"
    argv = [ansible_program("ansible-playbook"), "-i", str(folder / INVENTORY_FILE), str(folder / PLAYBOOK_FILE),
            "-e", f"@{extra}", "--limit", ",".join(sorted(todo)), *opts.ansible_args]
    env = {**os.environ, "ANSIBLE_CONFIG": str(folder / CONFIG_FILE), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_FORCE_COLOR": "0", "PYTHONUNBUFFERED": "1", MARKER: plan["id"]}
    deadline = round_deadline(plan)
    with open(log_path, "w") as log:
        log.write(f"# round {number}: {' '.join(argv)}\n")
        log.flush()
        proc = subprocess.Popen(argv, cwd=folder, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
        try:
            rc = proc.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            log.write(f"\n# benchctl: round deadline of {deadline:.0f} s passed; killed ansible-playbook\n")
            rc = -9
        except BaseException:
            _kill_group(proc)
            raise
    return rc, log_path.read_text(errors="replace")


def _kill_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


# -- the campaign ------------------------------------------------------------------------

def _check_space(folder: Path, need: int, done: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < need:
        raise ResourceError(f"controller disk: {free / 2**20:.1f} MiB free in {folder}, the next boot needs at least "
                            f"{need / 2**20:.0f} MiB (--min-free); free space and run `benchctl campaign run {folder}` "
                            f"again ({done} finished boot(s) are kept)")


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
        echo(f"campaign: results of an interrupted round moved to {dest.relative_to(folder)} "
             "(those boots are done again)")
    else:
        shutil.rmtree(inc)


def _record_error(folder: Path, prog: dict[str, Any], o: Outcome) -> None:
    err = {"index": o.index, "arm": o.arm, "phase": o.phase, "message": o.message, "at": progress.now()}
    h = prog["hosts"][o.host]
    h["last_error"] = err
    h.setdefault("errors", []).append(err)
    progress.event(folder, "boot-failed", host=o.host, **err)


def _outcome_for(folder: Path, plan: dict[str, Any], host: str, index: int, attempt: str, rc: int, log: str,
                 fatal: dict[str, tuple[str, str, str]], deadline_hit: bool) -> dict[str, Any] | Outcome:
    """The fetched archive (success) or why there is none: the rescue's outcome.json, else Ansible's log."""
    arm = plan["hosts"][host][index]["arm"]
    slot = folder / "incoming" / host / f"boot-{index:03d}"
    data = _read_json(slot / "outcome.json")
    if data is None and not fatal.get(host) and (slot / f"boot-{index:03d}.{attempt}.tar.gz").is_file():
        return {"ok": True, "archive": f"boot-{index:03d}.{attempt}.tar.gz", "top": f"boot-{index:03d}.{attempt}"}
    if isinstance(data, dict) and data.get("ok") is False:
        said = [ln.removeprefix("benchctl: error: ") for ln in str(data.get("msg") or "").strip().splitlines()]
        return Outcome(host, index, arm, False, _phase(str(data.get("task", ""))),
                       (said[-1] if said else "failed without a message")[:500])
    if host in fatal:
        task, kind, msg = fatal[host]
        phase = "reach" if kind == "UNREACHABLE" else _phase(task)
        return Outcome(host, index, arm, False, phase, f"{'unreachable: ' if kind == 'UNREACHABLE' else ''}{msg}"[:500])
    if deadline_hit:
        return Outcome(host, index, arm, False, "deadline", "the round's deadline passed; ansible-playbook was killed")
    first = _first_error(log)
    return Outcome(host, index, arm, False, "ansible",
                   f"no outcome (ansible-playbook exited {rc}){': ' + first if first else ''}")


def run_campaign(folder: Path, opts: RunnerOptions) -> dict[str, Any]:
    """Do every planned boot not done yet; returns the status report. RunFailed if a host stopped."""
    folder = Path(folder)
    plan = load_plan(folder)
    for f in (INVENTORY_FILE, PLAYBOOK_FILE, CONFIG_FILE):
        if not (folder / f).is_file():
            raise InputError(f"not a campaign folder: {f} is missing (plan it again with `benchctl campaign plan`)",
                             folder)
    hosts = list(plan["hosts"])
    if opts.limit:
        unknown = [h for h in opts.limit if h not in plan["hosts"]]
        if unknown:
            raise UsageError(f"--limit: {', '.join(unknown)} not in this campaign (hosts: {', '.join(hosts)})")
        hosts = [h for h in hosts if h in opts.limit]
    ansible_program("ansible-playbook")
    with controller_lock(folder), _signals_as_interrupt():
        reap_leftovers(plan["id"], opts.echo)
        prog = progress.load(folder, plan)
        _set_aside_incoming(folder, opts.echo)
        stopped: dict[str, Outcome] = {}
        biggest = 0
        try:
            while True:
                todo = {h: i for h in hosts if h not in stopped
                        for i in [progress.next_boot(plan, prog, h)] if i is not None}
                if not todo:
                    break
                done_total = sum(len(prog["hosts"][h]["done"]) for h in plan["hosts"])
                _check_space(folder, max(opts.min_free, 2 * biggest), done_total)
                number = len(prog["rounds"]) + 1
                attempt = f"r{number:03d}-{secrets.token_hex(3)}"
                opts.echo(f"campaign: round {number}: " + ", ".join(
                    f"{h} boot {i + 1}/{len(plan['hosts'][h])} ({plan['hosts'][h][i]['arm']})"
                    for h, i in todo.items()))
                for h, i in todo.items():
                    (folder / "incoming" / h / f"boot-{i:03d}").mkdir(parents=True, exist_ok=True)
                progress.event(folder, "round-start", round=number, boots=todo, attempt=attempt)
                t0 = time.monotonic()
                rc, log = play_round(folder, plan, todo, number, attempt, opts)
                seconds = round(time.monotonic() - t0, 1)
                if rc in (4, 5) and not any((folder / "incoming" / h / f"boot-{i:03d}" / "outcome.json").exists()
                                            for h, i in todo.items()):
                    raise InputError(f"ansible-playbook could not start (rc {rc}): {_first_error(log) or 'see the log'}"
                                     f"; see logs/round-{number:03d}.{attempt}.log", folder / PLAYBOOK_FILE)
                fatal = parse_log(log)
                boots_done = 0
                for h, i in todo.items():
                    res = _outcome_for(folder, plan, h, i, attempt, rc, log, fatal, rc == -9)
                    if isinstance(res, Outcome):
                        stopped[h] = res
                        _record_error(folder, prog, res)
                        opts.echo(f"  {h}: boot {i + 1}/{len(plan['hosts'][h])} {res.arm}: STOPPED in {res.phase}: "
                                  f"{res.message}")
                        continue
                    try:
                        line, size = _store(folder, plan, prog, h, i, res, number, seconds)
                    except collect.Refused as e:
                        o = Outcome(h, i, plan["hosts"][h][i]["arm"], False, "fetch", str(e))
                        stopped[h] = o
                        _record_error(folder, prog, o)
                        opts.echo(f"  {h}: boot {i + 1}/{len(plan['hosts'][h])} {o.arm}: STOPPED: {o.message} "
                                  "(set aside in aborted/)")
                        continue
                    biggest = max(biggest, size)
                    boots_done += 1
                    opts.echo(f"  {h}: {line}")
                    progress.save(folder, prog)
                prog["rounds"].append({"round": number, "attempt": attempt, "seconds": seconds,
                                       "hosts": sorted(todo), "boots_done": boots_done, "ansible_rc": rc,
                                       "log": f"logs/round-{number:03d}.{attempt}.log"})
                progress.save(folder, prog)
                progress.event(folder, "round-end", round=number, seconds=seconds, boots_done=boots_done, rc=rc)
                rep = progress.status_report(plan, prog)
                opts.echo(f"campaign: {rep['boots_done']}/{rep['boots_planned']} boots done; "
                          f"ETA {progress.fmt_duration(rep['eta_s'])}")
                shutil.rmtree(folder / "incoming", ignore_errors=True)
        except OSError as e:
            if _disk_full(e):
                done_total = sum(len(prog["hosts"][h]["done"]) for h in plan["hosts"])
                raise ResourceError(f"controller disk full while storing results in {folder} ({e.strerror}); "
                                    f"free space and run `benchctl campaign run {folder}` again ({done_total} finished "
                                    "boot(s) are kept; the boot under way is done again)") from None
            raise
    rep = progress.status_report(plan, prog)
    if stopped:
        names = ", ".join(f"{h} (boot {o.index}, {o.phase})" for h, o in stopped.items())
        raise RunFailed(f"{len(stopped)} host(s) stopped: {names}; their finished boots are kept; "
                        f"see `benchctl campaign status {folder}`, fix, and run `benchctl campaign run {folder}` again")
    return rep


def _store(folder: Path, plan: dict[str, Any], prog: dict[str, Any], host: str, index: int,
           outcome: dict[str, Any], number: int, seconds: float) -> tuple[str, int]:
    arm = plan["hosts"][host][index]["arm"]
    archive = folder / "incoming" / host / f"boot-{index:03d}" / outcome["archive"]
    attempt = outcome["top"]
    size = archive.stat().st_size
    record = {"campaign": plan["id"], "host": host, "index": index, "arm": arm, "boot_method": plan["boot_method"],
              "attempt": attempt, "round": number, "stored": progress.now()}
    final, ver, runs = collect.store(archive, attempt, folder / "boots", folder / "aborted", host=host, index=index,
                                     arm=arm, record=record)
    obs = ver.get("observed") or {}
    prog["hosts"][host]["done"][str(index)] = {
        "arm": arm, "boot_id": ver.get("boot_id"), "boot_method": plan["boot_method"],
        "folder": str(final.relative_to(folder)), "runs": [str(r.relative_to(folder)) for r in runs],
        "verified": obs, "attempt": attempt, "round": number, "finished": progress.now()}
    prog["hosts"][host]["last_error"] = None
    progress.event(folder, "boot-done", host=host, index=index, arm=arm, boot_id=ver.get("boot_id"),
                   folder=str(final.relative_to(folder)))
    line = (f"boot {index + 1}/{len(plan['hosts'][host])} {arm}: boot {str(ver.get('boot_id'))[:8]}, "
            f"rodata {obs.get('rodata')}, linear map {obs.get('linear_map')} ({obs.get('linear_map_source')}), "
            f"{len(runs)} run folder(s), round {seconds:.0f} s")
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
        raise Interrupted("campaign interrupted; finished boots are kept, run `benchctl campaign run` again "
                          "to resume") from None
    finally:
        for s, h in old.items():
            signal.signal(s, h)
