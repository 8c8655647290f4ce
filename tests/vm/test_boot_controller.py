"""The boot controller without qemu: a stand-in `qemu-system-aarch64` on PATH plays the guest.

tests/vm/test_arm64_campaign.py drives the real thing (cold boots of Debian's
6.18 by `benchctl campaign --boot-method command`); these check the contract
a lab's power controller must keep, in seconds and without a guest: the
arm's identity reaches qemu, the previous guest is powered off first, a guest
that dies or stays silent fails with one line and its console, and nothing is
left running.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import boot_controller as bc  # noqa: E402

FAKE = """#!{python}
import os, sys, time, uuid
open(os.environ["FAKE_ARGV_LOG"], "a").write(repr(sys.argv[1:]) + "\\n")
mode = os.environ.get("FAKE_MODE", "up")
if mode == "die":
    print("kernel panic: not syncing", flush=True)
    sys.exit(3)
if mode == "up":
    append = sys.argv[sys.argv.index("-append") + 1]
    print(f"MARK up 1.00 {{uuid.uuid4()}} {{append}}", flush=True)
time.sleep(600)
"""


@pytest.fixture
def lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    qemu = bindir / "qemu-system-aarch64"
    qemu.write_text(FAKE.format(python=sys.executable))
    qemu.chmod(0o755)
    root = tmp_path / "root"
    (root / "boot").mkdir(parents=True)
    env = {
        **os.environ,
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "FAKE_ARGV_LOG": str(tmp_path / "argv.log"),
    }
    state = tmp_path / "state"
    lab = {"state": state, "env": env, "root": root, "argv_log": tmp_path / "argv.log"}
    yield lab
    controller(lab, "stop", "--host", "h1", check=False)


def controller(lab: dict, *args: str, mode: str = "up", check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(
        [sys.executable, bc.__file__, "--state", str(lab["state"]), *args],
        env={**lab["env"], "FAKE_MODE": mode},
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check and r.returncode != 0:
        raise AssertionError(r.stderr)
    return r


def setup(lab: dict) -> None:
    controller(lab, "setup", "--host", "h1", "--root", str(lab["root"]), "--repo", "/repo", "--port", "2222")


def boot(lab: dict, midr: str, mode: str = "up", up_timeout: str = "20") -> subprocess.CompletedProcess:
    return controller(
        lab,
        "boot",
        "--host",
        "h1",
        "--kernel",
        "/boot/vmlinuz-6.18.15+deb13-arm64",
        "--initrd",
        "/boot/initrd.img-6.18.15+deb13-arm64",
        "--cmdline",
        "console=ttyAMA0 nokaslr",
        "--midr",
        midr,
        "--up-timeout",
        up_timeout,
        mode=mode,
        check=False,
    )


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_each_boot_is_a_new_qemu_with_the_arms_identity_the_last_one_powered_off(lab: dict) -> None:
    setup(lab)
    r = boot(lab, "0x414fd0c1")
    assert r.returncode == 0, r.stderr
    first = json.loads((lab["state"] / "h1.json").read_text())["pgid"]
    r = boot(lab, "0xc00fac30")
    assert r.returncode == 0 and "cold boot 2 up" in r.stdout, r.stderr
    doc = json.loads((lab["state"] / "h1.json").read_text())
    assert not _alive(first), "the previous guest must be powered off before the next boot"
    assert _alive(doc["pgid"])
    calls = [eval(line) for line in lab["argv_log"].read_text().splitlines()]  # noqa: S307 (our own repr)
    assert [c[c.index("-cpu") + 1] for c in calls] == ["neoverse-n1,midr=0x414fd0c1", "neoverse-n1,midr=0xc00fac30"]
    last = calls[-1]
    assert last[last.index("-kernel") + 1] == str(lab["root"] / "boot/vmlinuz-6.18.15+deb13-arm64")
    assert last[last.index("-initrd") + 1] == str(lab["root"] / "boot/initrd.img-6.18.15+deb13-arm64")
    assert last[last.index("-append") + 1] == "console=ttyAMA0 nokaslr"
    assert "hostfwd=tcp:127.0.0.1:2222-:22" in " ".join(last)
    assert [p.name for p in sorted(lab["state"].glob("h1-*.console.log"))] == [
        "h1-001.console.log",
        "h1-002.console.log",
    ]
    controller(lab, "stop", "--host", "h1")
    assert not _alive(doc["pgid"])


def test_a_guest_that_dies_fails_the_boot_with_its_console(lab: dict) -> None:
    setup(lab)
    r = boot(lab, "0xc00fac30", mode="die")
    assert r.returncode == 1
    assert r.stderr.startswith("boot_controller: qemu exited with status 3 before the guest came up")
    assert "kernel panic: not syncing" in r.stderr


def test_a_silent_guest_is_killed_at_its_deadline(lab: dict) -> None:
    setup(lab)
    t0 = time.monotonic()
    r = boot(lab, "0xc00fac30", mode="silent", up_timeout="2")
    assert r.returncode == 1 and "guest not up within 2 s (killed)" in r.stderr
    assert time.monotonic() - t0 < 30
    pgid = json.loads((lab["state"] / "h1.json").read_text())["pgid"]
    assert not _alive(pgid)


def test_boot_before_setup_names_the_fix(lab: dict) -> None:
    r = boot(lab, "0xc00fac30")
    assert r.returncode == 1
    assert r.stderr.strip().startswith("boot_controller: host h1 is not set up") and "setup --host h1" in r.stderr
