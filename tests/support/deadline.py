"""Wall-clock deadlines for every wait on a child process or a guest in the tests.

Why this exists: a wait that looks at the clock only when output arrives
(``for line in proc.stdout: if time.monotonic() > limit: ...``) never fires
on a child that went silent, so one frozen guest hung a whole CI run and
nothing landed (issue 10). Here the waiting side never blocks on the child's
output: a reader thread copies the output, and every wait (`Console.expect`,
`Console.wait`, `communicate`, `run`, `poll_until`) is bounded by the wall
clock, whether or not a line arrives.

Past a deadline the child's whole process group is killed (children are
started in their own session, so grandchildren such as qemu's helpers or
fio under benchctl go too), and `Stalled` -- an AssertionError, so pytest
reports a failure, never a skip -- is raised. Its message names the phase
that stalled and shows the last 40 lines of output:

    guest stalled in run seqread-xfs after iteration 3/5: no exit within 600 s
    (killed process group 4242). Last 40 console lines (full console: out/console.log):
      | MARK run seqread-xfs 61.20
      | ...

Phases come from the child's own ``MARK <phase> [uptime]`` lines (a
trailing number with a decimal point is dropped); ``MARK progress <text>``
refines the current phase ("after iteration 3/5"). Callers with no MARK
lines name the phase themselves (``phase="SIGINT clean-up"``).

API (standard library only: tests/vm/harness.py runs before the venv exists):

    Console(argv, log=PATH, timeout=600, idle=120, alive=None, name="guest", on_stall=None)
        Start argv with stdout+stderr read line by line into PATH (flushed per
        line) and a tail kept in memory. A context manager; leaving it kills
        the group if the child is still running.
        .expect(regex, timeout=None) -> the next line matching, after the last match
        .wait(timeout=None)          -> the exit status; also waits for EOF
        .fail(reason)                -> raise Failed with the phase and tail
        .marks, .phase(), .tail(n), .seen(regex)
        `timeout` bounds the whole life of the child, `idle` the silence
        between two lines -- or, with `alive` (a regex), between two lines
        that prove the child alive: a frozen guest's kernel may go on printing
        soft-lockup warnings while its heartbeat has stopped. Each call may add
        a tighter bound of its own.
        `on_stall(console)` runs before the kill (e.g. dump a qemu monitor)
        and may return text to append to the message.
    spawn(argv, **popen_kw) -> Popen in its own session
    kill_group(proc, grace=0.0)     SIGTERM (when grace > 0) then SIGKILL the group
    communicate(proc, timeout, phase) -> (stdout, stderr), like Popen.communicate
    run(argv, timeout, phase=None, **kw) -> CompletedProcess, like subprocess.run
    poll_until(predicate, timeout, phase, proc=None) -> the predicate's truthy value
    Failed(AssertionError), Stalled(Failed)
"""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

TAIL_LINES = 40
T = TypeVar("T")


class Failed(AssertionError):
    """A watched child failed; the message names the phase and carries the output tail."""

    def __init__(self, message: str, *, phase: str = "", tail: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.phase = phase
        self.tail = list(tail)


class Stalled(Failed):
    """A deadline passed: the child's process group was killed."""


_GROUP_LEADERS: weakref.WeakSet[subprocess.Popen] = weakref.WeakSet()


def spawn(argv: Sequence[str], **popen_kw: Any) -> subprocess.Popen:
    """Popen in a new session, so that `kill_group` reaches everything the child started."""
    popen_kw.setdefault("stdin", subprocess.DEVNULL)
    proc = subprocess.Popen(list(argv), start_new_session=True, **popen_kw)
    _GROUP_LEADERS.add(proc)
    return proc


def kill_group(proc: subprocess.Popen, grace: float = 0.0, reap: float = 10.0) -> None:
    """SIGTERM the child's group and give it `grace` s to clean up, then SIGKILL it; reap the child.

    Whole groups are signalled only for children started with `spawn` (their group id is their pid,
    and stays valid while any member lives, even after the leader was reaped); any other Popen gets
    a plain kill. Never the test's own group.
    """
    group = proc in _GROUP_LEADERS or (proc.returncode is None and _leads_own_group(proc.pid))
    if grace > 0 and proc.poll() is None:
        if group:
            _signal_group(proc.pid, signal.SIGTERM)
        else:
            proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    if group:
        _signal_group(proc.pid, signal.SIGKILL)
    elif proc.poll() is None:
        proc.kill()
    try:
        proc.wait(timeout=reap)
    except subprocess.TimeoutExpired:  # unkillable (D state): the caller's failure message still goes out
        pass


def _leads_own_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid != os.getpgid(0)
    except ProcessLookupError:
        return False


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _format(who: str, phase: str, reason: str, tail: Sequence[str], where: str = "", extra: str = "") -> str:
    lines = [f"{who} {phase}: {reason}" if phase else f"{who}: {reason}"]
    if extra:
        lines.append(extra)
    lines.append(
        f"Last {len(tail)} output lines{f' (full output: {where})' if where else ''}:" if tail else "No output at all."
    )
    lines += [f"  | {ln}" for ln in tail]
    return "\n".join(lines)


def _tail_of(text: str | bytes | None, n: int = TAIL_LINES) -> list[str]:
    if not text:
        return []
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return text.splitlines()[-n:]


def communicate(
    proc: subprocess.Popen, timeout: float, phase: str, *, input: Any = None, grace: float = 0.0
) -> tuple[Any, Any]:
    """Popen.communicate with a deadline: past it, kill the group and raise Stalled with the output tail."""
    try:
        return proc.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc, grace=grace)
        try:
            out, err = proc.communicate(timeout=10)
        except (subprocess.TimeoutExpired, ValueError):  # a grandchild still holds the pipe
            out, err = None, None
        tail = _tail_of(out) + _tail_of(err)
        args = proc.args
        argv = " ".join(map(str, args)) if isinstance(args, (list, tuple)) else str(args)
        raise Stalled(
            _format(
                f"`{argv[:200]}`",
                f"stalled in {phase}",
                f"no exit within {timeout:g} s (killed process group {proc.pid}).",
                tail[-TAIL_LINES:],
            ),
            phase=phase,
            tail=tail,
        ) from None


def run(
    argv: Sequence[str],
    timeout: float,
    phase: str | None = None,
    *,
    check: bool = False,
    input: Any = None,
    capture_output: bool = True,
    grace: float = 0.0,
    **popen_kw: Any,
) -> subprocess.CompletedProcess:
    """subprocess.run with a mandatory deadline that kills the whole group and names the phase."""
    if capture_output:
        popen_kw.setdefault("stdout", subprocess.PIPE)
        popen_kw.setdefault("stderr", subprocess.PIPE)
    if input is not None:
        popen_kw["stdin"] = subprocess.PIPE
    proc = spawn(argv, **popen_kw)
    try:
        out, err = communicate(proc, timeout, phase or Path(str(argv[0])).name, input=input, grace=grace)
    finally:
        if proc.poll() is None:
            kill_group(proc)
    res = subprocess.CompletedProcess(list(argv), proc.returncode, out, err)
    if check:
        res.check_returncode()
    return res


def poll_until(
    predicate: Callable[[], T],
    timeout: float,
    phase: str,
    *,
    interval: float = 0.05,
    proc: subprocess.Popen | None = None,
    grace: float = 0.0,
) -> T:
    """Call `predicate` until it returns something truthy, for at most `timeout` s.

    With `proc`: fail at once if it exits first, and kill its group at the deadline.
    """
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out, err = _drain(proc)
            tail = _tail_of(out) + _tail_of(err)
            raise Failed(
                _format("child", f"exited (status {proc.returncode}) in {phase}", "before the condition held.", tail),
                phase=phase,
                tail=tail,
            )
        if time.monotonic() >= end:
            tail = []
            if proc is not None:
                kill_group(proc, grace=grace)
                out, err = _drain(proc)
                tail = _tail_of(out) + _tail_of(err)
            raise Stalled(
                _format(
                    "wait",
                    f"stalled in {phase}",
                    f"condition not met within {timeout:g} s"
                    + (f" (killed process group {proc.pid})." if proc is not None else "."),
                    tail,
                ),
                phase=phase,
                tail=tail,
            )
        time.sleep(max(0.0, min(interval, end - time.monotonic())))


def _drain(proc: subprocess.Popen) -> tuple[Any, Any]:
    if proc.stdout is None and proc.stderr is None:
        return None, None
    try:
        return proc.communicate(timeout=5)
    except (subprocess.TimeoutExpired, ValueError, OSError):
        return None, None


_UPTIME = re.compile(r"\s+\d+\.\d+$")


class Console:
    """A child whose output is a console of lines (a guest's serial port, a long test helper)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        log: Path,
        timeout: float,
        idle: float | None = None,
        alive: str | None = None,
        name: str = "child",
        mark: str = "MARK ",
        on_stall: Callable[[Console], str | None] | None = None,
        on_line: Callable[[str], None] | None = None,
        grace: float = 0.0,
        keep: int = 2000,
        **popen_kw: Any,
    ) -> None:
        self.argv = list(argv)
        self.log_path = Path(log)
        self.name = name
        self.timeout = timeout
        self.idle = idle
        self._alive = re.compile(alive) if alive else None
        self.grace = grace
        self._mark = mark
        self._on_stall = on_stall
        self._on_line = on_line
        self.marks: list[tuple[float, str]] = []  # (seconds since start, text after the MARK prefix)
        self._lines: collections.deque[tuple[int, str]] = collections.deque(maxlen=max(keep, TAIL_LINES))
        self._count = 0
        self._cursor = 0  # the line number expect() matched last
        self._eof = False
        self._cond = threading.Condition()
        self._log: IO[str] = self.log_path.open("w", encoding="utf-8", errors="replace")
        self.t0 = time.monotonic()
        self._last_line_t = self.t0
        self.proc = spawn(self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **popen_kw)
        self._reader = threading.Thread(target=self._read, name=f"console-{name}", daemon=True)
        self._reader.start()

    # -- reading ------------------------------------------------------------------------------------------------

    def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            for raw in iter(self.proc.stdout.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n").replace("\r", "")
                self._log.write(line + "\n")
                self._log.flush()
                with self._cond:
                    self._count += 1
                    self._lines.append((self._count, line))
                    if self._alive is None or self._alive.search(line):
                        self._last_line_t = time.monotonic()
                    if line.startswith(self._mark):
                        self.marks.append((round(self._last_line_t - self.t0, 2), line[len(self._mark) :].strip()))
                    self._cond.notify_all()
                if self._on_line is not None:
                    self._on_line(line)
        finally:
            with self._cond:
                self._eof = True
                self._cond.notify_all()

    # -- what happened so far -----------------------------------------------------------------------------------

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def tail(self, n: int = TAIL_LINES) -> list[str]:
        with self._cond:
            return [ln for _, ln in list(self._lines)[-n:]]

    def seen(self, pattern: str) -> bool:
        """Whether a MARK line's text matches `pattern` (re.search)."""
        rx = re.compile(pattern)
        with self._cond:
            return any(rx.search(m) for _, m in self.marks)

    def phase(self) -> str:
        """Where the child is, from its MARK lines: 'in run seqread-xfs after iteration 3/5'."""
        with self._cond:
            marks = [m for _, m in self.marks]
        progress = ""
        for m in reversed(marks):
            if m.startswith("progress "):
                progress = progress or m[len("progress ") :]
                continue
            return f"in {_UPTIME.sub('', m)}" + (f" after {progress}" if progress else "")
        return "before the first MARK line" + (f" (after {progress})" if progress else "")

    # -- waiting ------------------------------------------------------------------------------------------------

    def _bound(self, timeout: float | None) -> tuple[float, str]:
        """The earliest deadline in force and its description."""
        end, why = self.t0 + self.timeout, f"the {self.timeout:g} s limit for the whole run"
        if timeout is not None and time.monotonic() + timeout < end:
            end, why = time.monotonic() + timeout, f"{timeout:g} s"
        return end, why

    def _idle_end(self) -> float:
        return self._last_line_t + self.idle if self.idle is not None else float("inf")

    def _silence(self) -> str:
        if self._alive is None:
            return f"silent for {self.idle:g} s"
        return f"no sign of life for {self.idle:g} s (no line matching {self._alive.pattern!r})"

    def expect(self, pattern: str, timeout: float | None = None) -> str:
        """The next line matching `pattern` (re.search) after the line the previous expect returned.

        Like pexpect: lines that arrived before the call count, so a quick child cannot race past a
        test. Stalled past a deadline; Failed if the child's output ends first.
        """
        rx = re.compile(pattern)
        end, why = self._bound(timeout)
        seen = self._cursor
        while True:
            with self._cond:
                for n, line in self._lines:
                    if n > seen and rx.search(line):
                        self._cursor = n
                        return line
                seen = self._count
                eof, now, idle_end = self._eof, time.monotonic(), self._idle_end()
                if not eof and now < end and now < idle_end:
                    self._cond.wait(min(end, idle_end) - now)
                    continue
            if eof:
                break
            if now >= end:
                self._stall(f"no line matching {pattern!r} within {why}")
            self._stall(f"{self._silence()} while waiting for a line matching {pattern!r}")
        self.wait(timeout=max(1.0, end - time.monotonic()))
        self.fail(f"exited (status {self.proc.returncode}) before a line matching {pattern!r}")
        raise AssertionError("unreachable")

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the exit and the end of its output; Stalled past a deadline or after `idle` s of silence."""
        end, why = self._bound(timeout)
        while True:
            now = time.monotonic()
            step = min(end, self._idle_end()) - now
            if step <= 0:
                if now >= end:
                    self._stall(f"no exit within {why}")
                self._stall(self._silence())
            try:
                self.proc.wait(timeout=min(step, 1.0))
                break
            except subprocess.TimeoutExpired:
                continue
        self._reader.join(timeout=max(1.0, min(10.0, end - time.monotonic())))
        if self._reader.is_alive():  # the child exited, but something it started still holds the output open
            self._stall("exited, but its output stayed open (a leftover grandchild)")
        return self.proc.returncode

    # -- failing ------------------------------------------------------------------------------------------------

    def _message(self, reason: str, extra: str = "") -> str:
        return _format(self.name, self.phase(), reason, self.tail(), str(self.log_path), extra)

    def fail(self, reason: str) -> None:
        """Raise Failed naming the phase, with the last 40 console lines."""
        raise Failed(self._message(reason), phase=self.phase(), tail=self.tail())

    def _stall(self, reason: str) -> None:
        phase = self.phase()
        extra = ""
        if self._on_stall is not None:
            try:
                extra = self._on_stall(self) or ""
            except Exception as e:  # the diagnosis must never hide the stall itself
                extra = f"(on_stall failed: {e!r})"
        kill_group(self.proc, grace=self.grace)
        self._reader.join(timeout=5)
        msg = _format(
            self.name,
            f"stalled {phase}",
            f"{reason} (killed process group {self.proc.pid} after {self.elapsed():.0f} s).",
            self.tail(),
            str(self.log_path),
            extra,
        )
        raise Stalled(msg, phase=phase, tail=self.tail())

    # -- lifetime -----------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Kill the group if still running, and close the log."""
        if self.proc.poll() is None or self._reader.is_alive():
            kill_group(self.proc, grace=self.grace)
        self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()

    def __enter__(self) -> Console:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
