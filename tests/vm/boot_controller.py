"""A boot controller for `benchctl campaign --boot-method command`: cold-boots a qemu arm64 guest.

This is the template for a lab's power controller. A campaign whose arms
differ by something kexec cannot change -- here the CPU identity (qemu's
`midr`), on a lab the firmware, the BIOS settings or the machine itself --
reboots each host by a command run on the controller:

    benchctl campaign plan ... --boot-method command \
        --boot-command 'python3 tests/vm/boot_controller.py --state S boot \
                        --host {host} --kernel {kernel} --initrd {initrd} \
                        --cmdline {cmdline} --midr {midr}'

The contract, which a real controller (IPMI, a PDU, a lab's booking API)
keeps the same way:
- it returns once the host is coming up in the asked configuration, or
  exits non-zero with one line saying why and the console's last lines;
- it bounds every wait (power off, boot, the guest's first sign of life);
- the campaign then waits for ssh and checks that the boot id changed, and
  `benchctl campaign measure` verifies the boot (release, command line,
  MIDR, BBML2 line, linear map) before anything is measured.

Here "power off" is killing the host's qemu process group, and "power on"
is a new qemu process (a cold boot: firmware tables, memory and CPU identity
all new) with the arm's kernel, initrd and command line from the host's own
tree (the paths the plan names are paths on the host, i.e. in ROOT). qemu
runs under coreutils `timeout` with the host's lifetime, so a controller
that dies leaves no guest running past it. State: STATE/HOST.json (the
host's qemu settings and its current process group), STATE/HOST-NNN.console.log
(one console log per boot).

    boot_controller.py --state S setup --host H --root TREE --repo DIR --port P [--lifetime S] [--mem-mb M]
    boot_controller.py --state S boot --host H --kernel K --initrd I --cmdline C [--midr M]
    boot_controller.py --state S stop --host H

Standard library only (and arm64_guest's qemu command line), like the other VM harnesses.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from arm64_guest import MEM_MB  # noqa: E402
from arm64_guest import qemu_argv as guest_argv  # noqa: E402

MODEL = "neoverse-n1"  # the emulated CPU; `--midr` sets the identity the kernel reads
UP_MARK = "MARK up "
UP_TIMEOUT_S = 300
OFF_TIMEOUT_S = 20


class ControllerError(Exception):
    """One line for the campaign's outcome: which step failed and why."""


def _state_file(state: Path, host: str) -> Path:
    return state / f"{host}.json"


def load(state: Path, host: str) -> dict:
    path = _state_file(state, host)
    if not path.exists():
        raise ControllerError(f"host {host} is not set up in {state} (run: boot_controller.py setup --host {host} ...)")
    return json.loads(path.read_text())


def save(state: Path, host: str, doc: dict) -> None:
    path = _state_file(state, host)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, path)


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def power_off(doc: dict) -> None:
    """Kill the host's qemu process group (SIGTERM, then SIGKILL); wait until it is gone."""
    pgid = doc.get("pgid")
    if not pgid or not _alive(pgid):
        return
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, OFF_TIMEOUT_S)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        end = time.monotonic() + grace
        while time.monotonic() < end:
            try:  # reap it if it is our child (it is not, across controller runs)
                os.waitpid(pgid, os.WNOHANG)
            except ChildProcessError:
                pass
            if not _alive(pgid):
                return
            time.sleep(0.1)
    raise ControllerError(f"qemu process group {pgid} survived SIGKILL for {OFF_TIMEOUT_S} s")


def qemu_argv(doc: dict, kernel: str, initrd: str | None, cmdline: str, midr: str | None) -> list[str]:
    """The host's qemu (arm64_guest.qemu_argv) with the arm's kernel and initrd from the host's
    tree, its CPU identity, and sshd forwarded to the host's 127.0.0.1 port."""
    root = Path(doc["root"])
    cpu = MODEL if not midr else f"{MODEL},midr={midr}"
    shares = {"root": (root, True), "repo": (Path(doc["repo"]), True)}
    kpath, ipath = root / kernel.lstrip("/"), root / initrd.lstrip("/") if initrd else None
    argv = guest_argv(kpath, ipath, cpu, cmdline, shares, doc.get("mem_mb", MEM_MB))
    net = f"user,id=n0,restrict=off,hostfwd=tcp:127.0.0.1:{doc['port']}-:22"
    return [*argv, "-netdev", net, "-device", "virtio-net-pci,netdev=n0"]


def _tail(path: Path, n: int = 30) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()[-n:]
    except OSError:
        return "  (no console output)"
    return "\n".join(f"  | {ln}" for ln in lines)


def power_on(state: Path, host: str, doc: dict, argv: list[str], up_timeout: float = UP_TIMEOUT_S) -> Path:
    """Start qemu in its own session under the host's lifetime; wait for the guest's up mark."""
    n = doc.get("boots", 0) + 1
    log = state / f"{host}-{n:03d}.console.log"
    with log.open("wb") as out:
        p = subprocess.Popen(  # noqa: S603 (an argument list)
            ["timeout", "-k", "10", str(doc["lifetime_s"]), *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    doc.update(pgid=p.pid, boots=n, argv=argv, console=str(log), started=time.time())
    save(state, host, doc)
    end = time.monotonic() + up_timeout
    while time.monotonic() < end:
        if UP_MARK.encode() in log.read_bytes():
            return log
        if p.poll() is not None:
            raise ControllerError(f"qemu exited with status {p.returncode} before the guest came up:\n{_tail(log)}")
        time.sleep(0.2)
    power_off(doc)
    raise ControllerError(f"guest not up within {up_timeout:g} s (killed):\n{_tail(log)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--state", type=Path, required=True)
    sub = ap.add_subparsers(dest="action", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--host", required=True)
    s.add_argument("--root", type=Path, required=True)
    s.add_argument("--repo", type=Path, required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--lifetime", type=int, default=3600, help="seconds any one qemu may live")
    s.add_argument("--mem-mb", type=int, default=MEM_MB, help="guest RAM (MiB)")
    b = sub.add_parser("boot")
    b.add_argument("--host", required=True)
    b.add_argument("--kernel", required=True)
    b.add_argument("--initrd", default="")
    b.add_argument("--cmdline", required=True)
    b.add_argument("--midr", default="")
    b.add_argument("--up-timeout", type=float, default=UP_TIMEOUT_S, help="seconds until the guest's up mark")
    t = sub.add_parser("stop")
    t.add_argument("--host", required=True)
    a = ap.parse_args(argv)
    a.state.mkdir(parents=True, exist_ok=True)
    if a.action == "setup":
        doc = {
            "root": str(a.root.resolve()),
            "repo": str(a.repo.resolve()),
            "port": a.port,
            "lifetime_s": a.lifetime,
            "mem_mb": a.mem_mb,
        }
        try:
            power_off(load(a.state, a.host))
        except ControllerError:
            pass
        save(a.state, a.host, doc)
        return 0
    doc = load(a.state, a.host)
    power_off(doc)
    doc.pop("pgid", None)
    save(a.state, a.host, doc)
    if a.action == "stop":
        return 0
    argv = qemu_argv(doc, a.kernel, a.initrd or None, a.cmdline, a.midr or None)
    log = power_on(a.state, a.host, doc, argv, a.up_timeout)
    print(f"{a.host}: cold boot {doc['boots']} up ({a.kernel}, midr {a.midr or MODEL}); console {log}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ControllerError as e:
        print(f"boot_controller: {e}", file=sys.stderr)
        sys.exit(1)
