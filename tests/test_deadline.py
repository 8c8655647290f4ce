"""The deadline mechanism itself (tests/support/deadline.py), with real children and no qemu.

Each child would sleep 30 s after going silent: if a deadline did not fire
by itself, the wait would return after the sleep without Stalled and the
test would fail (never hang).
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import deadline
import pytest

SILENT_S = 30


def _py(code: str) -> list[str]:
    return [sys.executable, "-u", "-c", textwrap.dedent(code)]


def _gone(pid: int) -> bool:
    """The process no longer runs (absent, or a zombie waiting for its reaper)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return True


GUEST_LIKE = f"""
    import subprocess, sys, time
    kid = subprocess.Popen(["sleep", "{SILENT_S}"])
    print("MARK boot-done 1.23")
    print("GRANDCHILD", kid.pid)
    print("MARK run seqread-xfs 4.56")
    for i in range(1, 4):
        print(f"MARK progress iteration {{i}}/5")
    for i in range(100):
        print(f"line {{i}}")
    time.sleep({SILENT_S})
"""


def test_silent_child_is_killed_at_the_deadline_with_phase_and_tail(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    with deadline.Console(_py(GUEST_LIKE), log=log, timeout=60, name="guest") as con:
        grandchild = int(con.expect(r"^GRANDCHILD ", timeout=20).split()[1])
        con.expect(r"^line 99$", timeout=20)
        with pytest.raises(deadline.Stalled) as err:
            con.wait(timeout=1.0)
        msg = str(err.value)
        assert msg.startswith("guest stalled in run seqread-xfs after iteration 3/5: no exit within 1 s")
        assert err.value.phase == "in run seqread-xfs after iteration 3/5"
        tail = [ln.removeprefix("  | ") for ln in msg.splitlines() if ln.startswith("  | ")]
        assert tail == [f"line {i}" for i in range(60, 100)]
        assert err.value.tail == tail
        assert con.proc.poll() is not None, "the child was not killed"
    assert deadline.poll_until(lambda: _gone(grandchild), 10, "grandchild reaped"), "grandchild survived"
    assert log.read_text().splitlines()[-1] == "line 99"


def test_console_is_written_line_by_line_while_the_child_runs(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    code = f"""
        import time
        print("MARK step one")
        print("hello")
        time.sleep({SILENT_S})
    """
    with deadline.Console(_py(code), log=log, timeout=60) as con:
        con.expect(r"^hello$", timeout=20)
        assert con.proc.poll() is None
        assert log.read_text() == "MARK step one\nhello\n"
        assert con.marks and con.marks[0][1] == "step one"


def test_idle_deadline_fires_on_silence_before_the_overall_one(tmp_path: Path) -> None:
    code = f"""
        import time
        print("MARK chroot 2.00")
        time.sleep({SILENT_S})
    """
    with deadline.Console(_py(code), log=tmp_path / "c.log", timeout=60, idle=1.0, name="guest") as con:
        with pytest.raises(deadline.Stalled, match=r"^guest stalled in chroot: silent for 1 s") as err:
            con.wait(timeout=60)
    assert "  | MARK chroot 2.00" in str(err.value)


def test_idle_counts_only_lines_that_prove_the_child_alive(tmp_path: Path) -> None:
    """A frozen guest's kernel may keep printing soft-lockup warnings: they do not reset the idle deadline."""
    code = f"""
        import time
        print("MARK stress 9.01")
        print("TICK 24.32")
        for i in range({SILENT_S} * 10):
            print(f"[ {{i}}.0] watchdog: BUG: soft lockup - CPU#1 stuck for {{i}}s!")
            time.sleep(0.1)
    """
    with deadline.Console(
        _py(code), log=tmp_path / "c.log", timeout=60, idle=1.5, alive=r"^(TICK|MARK) ", name="guest"
    ) as con:
        with pytest.raises(
            deadline.Stalled,
            match=r"^guest stalled in stress: no sign of life for 1.5 s "
            r"\(no line matching '\^\(TICK\|MARK\) '\)",
        ) as err:
            con.wait(timeout=60)
    assert "soft lockup" in err.value.tail[-1]


def test_expect_without_any_output(tmp_path: Path) -> None:
    with deadline.Console(_py(f"import time; time.sleep({SILENT_S})"), log=tmp_path / "c.log", timeout=60) as con:
        with pytest.raises(deadline.Stalled) as err:
            con.expect("never", timeout=0.5)
    assert "stalled before the first MARK line: no line matching 'never' within 0.5 s" in str(err.value)
    assert "No output at all." in str(err.value)


def test_expect_fails_when_the_child_exits_first(tmp_path: Path) -> None:
    code = """
        import sys
        print("MARK fio 1.0")
        sys.exit(3)
    """
    with deadline.Console(_py(code), log=tmp_path / "c.log", timeout=60) as con:
        with pytest.raises(deadline.Failed, match=r"child in fio: exited \(status 3\)") as err:
            con.expect("MARK poweroff", timeout=20)
    assert not isinstance(err.value, deadline.Stalled)


def test_normal_exit_returns_the_status_and_keeps_the_marks(tmp_path: Path) -> None:
    code = """
        print("MARK boot-done 0.5")
        print("MARK poweroff 9.5")
    """
    with deadline.Console(_py(code), log=tmp_path / "c.log", timeout=60) as con:
        assert con.wait(timeout=20) == 0
    assert [m for _, m in con.marks] == ["boot-done 0.5", "poweroff 9.5"]
    assert con.seen(r"^poweroff\b") and not con.seen("^fail")


def test_run_kills_the_group_and_names_the_phase(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    code = f"""
        import subprocess, sys, time
        kid = subprocess.Popen(["sleep", "{SILENT_S}"])
        open({str(pidfile)!r}, "w").write(str(kid.pid))
        print("started", flush=True)
        print("to stderr", file=sys.stderr, flush=True)
        time.sleep({SILENT_S})
    """
    with pytest.raises(deadline.Stalled) as err:
        deadline.run(_py(code), timeout=3, phase="the SIGINT clean-up", text=True)
    msg = str(err.value)
    assert "stalled in the SIGINT clean-up: no exit within 3 s (killed process group" in msg
    assert "  | started" in msg and "  | to stderr" in msg
    grandchild = int(pidfile.read_text())
    assert deadline.poll_until(lambda: _gone(grandchild), 10, "grandchild reaped")


def test_run_returns_like_subprocess_run() -> None:
    r = deadline.run(_py("import sys; print('out'); print('err', file=sys.stderr); sys.exit(2)"), timeout=30, text=True)
    assert (r.returncode, r.stdout, r.stderr) == (2, "out\n", "err\n")
    r = deadline.run(["cat"], timeout=30, input=b"abc")
    assert r.stdout == b"abc"


def test_poll_until_has_a_deadline_and_notices_an_early_exit() -> None:
    with pytest.raises(deadline.Stalled, match=r"^wait stalled in the lock file: condition not met within 0.2 s"):
        deadline.poll_until(lambda: False, 0.2, "the lock file")
    proc = deadline.spawn(_py("print('bye')"), stdout=deadline.subprocess.PIPE, text=True)
    with pytest.raises(deadline.Failed, match=r"exited \(status 0\) in iteration 1") as err:
        deadline.poll_until(lambda: False, 30, "iteration 1", proc=proc)
    assert "  | bye" in str(err.value)


def test_on_stall_runs_before_the_kill_and_adds_to_the_message(tmp_path: Path) -> None:
    seen: list[bool] = []

    def diagnose(con: deadline.Console) -> str:
        seen.append(con.proc.poll() is None)
        return "registers: RIP=ffffffff81000000 <text_poke_bp_batch+0x12>"

    with deadline.Console(
        _py(f"import time; print('MARK run x'); time.sleep({SILENT_S})"),
        log=tmp_path / "c.log",
        timeout=60,
        on_stall=diagnose,
    ) as con:
        con.expect("MARK run", timeout=20)
        with pytest.raises(deadline.Stalled) as err:
            con.wait(timeout=0.5)
    assert seen == [True], "on_stall must see the child still alive"
    assert "text_poke_bp_batch" in str(err.value).splitlines()[1]


def test_grace_lets_the_group_clean_up_first(tmp_path: Path) -> None:
    done = tmp_path / "cleaned"
    code = f"""
        import signal, sys, time
        def bye(*_):
            open({str(done)!r}, "w").write("yes")
            sys.exit(1)
        signal.signal(signal.SIGTERM, bye)
        print("ready")
        time.sleep({SILENT_S})
    """
    with pytest.raises(deadline.Stalled):
        with deadline.Console(_py(code), log=tmp_path / "c.log", timeout=60, grace=10) as con:
            con.expect("ready", timeout=20)
            con.wait(timeout=0.5)
    assert done.read_text() == "yes"
