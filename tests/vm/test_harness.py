"""The nested-VM harness without qemu: its deadlines, its poweroff check, its argv and its guest scripts.

A stand-in for qemu (a Python child printing a guest's console) drives
run_guest, so these run in CI in seconds; tests/vm/test_vm.py boots the
real kernel.
"""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import harness  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import deadline  # noqa: E402

META = {"vmlinuz": "/nonexistent/vmlinuz", "initrd": "/nonexistent/initrd.gz", "kver": "6.1.0-0-amd64"}


def _fake_qemu(monkeypatch: pytest.MonkeyPatch, console: str) -> None:
    """run_guest starts this Python program instead of qemu; it prints `console` and runs its last line."""
    code = textwrap.dedent(console)

    def argv(meta: dict, out: Path, **kw: object) -> list[str]:
        return [sys.executable, "-u", "-c", code]

    monkeypatch.setattr(harness, "qemu_argv", argv)


def test_qemu_exiting_0_without_the_poweroff_mark_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_qemu(
        monkeypatch,
        """
        print("MARK boot-done 5.1")
        print("MARK run fio-dmcrypt 15.6")
        print("qemu-system-x86_64: terminating on signal 15 from pid 4242")
    """,
    )
    with pytest.raises(
        deadline.Failed,
        match=r"guest in run fio-dmcrypt: qemu exited \(status 0\) before the "
        r"guest's poweroff mark",
    ) as err:
        harness.run_guest(META, tmp_path, ["fio-dmcrypt"])
    assert "terminating on signal 15" in str(err.value)
    assert (tmp_path / "timeline.json").exists() and (tmp_path / "console.log").read_text().count("MARK") == 2


def test_silent_guest_is_killed_and_the_stall_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "IDLE_S", 1.0)
    _fake_qemu(
        monkeypatch,
        """
        import time
        print("MARK boot-done 5.1")
        print("MARK run seqread-xfs 97.1")
        for i in (1, 2, 3):
            print(f"MARK progress iteration {i}/5")
        time.sleep(30)
    """,
    )
    with pytest.raises(deadline.Stalled) as err:
        harness.run_guest(META, tmp_path, ["seqread-xfs"])
    msg = str(err.value)
    assert msg.startswith("guest stalled in run seqread-xfs after iteration 3/5: no sign of life for 1 s")
    assert "on_stall failed" in msg, "no QMP socket here: the dump fails, the stall is still reported"
    assert "  | MARK progress iteration 3/5" in msg


def test_a_guest_that_powers_off_returns_its_timeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_qemu(
        monkeypatch,
        """
        print("MARK boot-done 5.1")
        print("MARK guest-done 90.0")
        print("MARK poweroff 90.2")
    """,
    )
    res = harness.run_guest(META, tmp_path, ["fio-dmcrypt"])
    assert res["qemu_rc"] == 0 and [m for _, m in res["marks"]][-1] == "poweroff 90.2"
    assert json.loads((tmp_path / "timeline.json").read_text())["marks"] == [list(m) for m in res["marks"]]


def test_qemu_argv_is_single_threaded_tcg_with_a_monitor(tmp_path: Path) -> None:
    argv = harness.qemu_argv(META, tmp_path, qmp=tmp_path / "q.sock")
    assert argv[argv.index("-accel") + 1] == "tcg,thread=single"
    assert argv[argv.index("-qmp") + 1] == f"unix:{tmp_path / 'q.sock'},server=on,wait=off"


def test_guest_scripts_parse_and_run_the_ci_sizes(tmp_path: Path) -> None:
    if shutil.which("sh") is None:
        pytest.skip("no sh")
    script = harness.GUEST.format(
        repo="/r",
        python="/p",
        drive="",
        kver="k",
        signals="yes",
        overhead="",
        workload_lines="run_workload fio-dmcrypt --set size=32M --iterations 3",
    )
    for name, text in (("guest.sh", script), ("init", harness.INIT)):
        (tmp_path / name).write_text(text)
        r = deadline.run(["sh", "-n", str(tmp_path / name)], timeout=30, text=True)
        assert r.returncode == 0, f"{name}: {r.stderr}"
    assert all(set(r) <= {"set", "iterations"} for r in harness.GUEST_RUNS.values())


def test_symbols_name_the_stalled_pc(tmp_path: Path) -> None:
    (tmp_path / "kallsyms.txt").write_text(
        "ffffffff81000000 T _stext\nffffffff8103b6a0 t text_poke_bp_batch\n"
        "ffffffff8103c000 T text_poke_bp\nffffffffc0200000 t xfs_iread\t[xfs]\n"
    )
    table = harness.load_symbols(tmp_path / "kallsyms.txt")
    assert harness.symbolize(0xFFFFFFFF8103B6B2, table) == "text_poke_bp_batch+0x12"
    assert harness.symbolize(0xFFFFFFFFC0200010, table) == "xfs_iread [xfs]+0x10"
    assert harness.symbolize(0x1000, table) == "?"
