#!/usr/bin/python3
"""A stand-in for kexec on the campaign test hosts: a "reboot" that only changes a recorded tree.

    campaign_fake_kexec.py HOSTDIR -l KERNEL [--initrd=F] (--append=CMDLINE | --reuse-cmdline) [-i]
    campaign_fake_kexec.py HOSTDIR -e

HOSTDIR/root is the host's /proc and /sys as benchctl reads them (`--root`):
a copy of a tree recorded in a real arm64 6.1 guest. `-l` remembers what to
boot; `-e` "boots" it: the tree recorded with that rodata= mode (full: the
PTE-mapped one, on: the block-mapped one) becomes the new root, with the
planned command line and a fresh boot id. The host's sshd keeps running, so
Ansible's reboot module sees just what it checks on a real host: the boot id
changed. HOSTDIR/behaviour.json makes a host misbehave on purpose:
{"stuck_tree": NAME} always boots that tree (a wrong-arm boot), {"die_at_boot": N,
"base": B} kills every process of the host's network namespace at its N-th
reboot after the B-th (a host that never comes back). Standard library only (it runs as the host's python3).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "arm64"
TREES = {"full": "qemu-n1-6.1-4k-rodatafull", "on": "qemu-n1-6.1-4k-rodataon"}


def rodata_of(cmdline: str) -> str:
    value = "full"  # Debian 6.1's default (CONFIG_RODATA_FULL_DEFAULT_ENABLED=y)
    for word in shlex.split(cmdline):
        if word.startswith("rodata="):
            value = word.split("=", 1)[1]
    return value


def make_root(hostdir: Path, tree: str, cmdline: str, hostname: str) -> None:
    """Build the new tree beside the old one and swap them with renames."""
    new, root, old = hostdir / "root.new", hostdir / "root", hostdir / "root.old"
    shutil.rmtree(new, ignore_errors=True)
    shutil.copytree(FIXTURES / tree, new)
    (new / "proc/cmdline").write_text(cmdline + "\n")
    (new / "proc/sys/kernel/hostname").write_text(hostname + "\n")
    (new / "proc/sys/kernel/random/boot_id").write_text(Path("/proc/sys/kernel/random/uuid").read_text())
    shutil.rmtree(old, ignore_errors=True)
    if root.exists():
        root.rename(old)
    new.rename(root)
    shutil.rmtree(old, ignore_errors=True)


def die(hostdir: Path) -> None:
    """Every process in this host's network namespace goes, this one last: the host is gone."""
    ns = json.loads((hostdir / "host.json").read_text())["netns"]
    pids = subprocess.run(
        ["ip", "netns", "pids", ns], capture_output=True, text=True, check=False, timeout=20
    ).stdout.split()
    for pid in pids:
        if int(pid) != os.getpid():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
    os.kill(os.getpid(), signal.SIGKILL)


def main(argv: list[str]) -> int:
    hostdir, args = Path(argv[0]), argv[1:]
    behaviour = json.loads((hostdir / "behaviour.json").read_text()) if (hostdir / "behaviour.json").exists() else {}
    loaded = hostdir / "kexec-loaded.json"
    if "-l" in args:
        kernel = args[args.index("-l") + 1]
        cmdline = None
        for a in args:
            if a.startswith("--append="):
                cmdline = a.split("=", 1)[1]
        if "--reuse-cmdline" in args:
            cmdline = (hostdir / "root/proc/cmdline").read_text().strip()
        if cmdline is None:
            print("fake kexec: no --append or --reuse-cmdline", file=sys.stderr)
            return 1
        if not Path(kernel).name.startswith("vmlinuz-"):
            print(f"fake kexec: {kernel}: not a kernel image", file=sys.stderr)
            return 1
        loaded.write_text(json.dumps({"kernel": kernel, "cmdline": cmdline}))
        return 0
    if "-e" in args:
        if not loaded.exists():
            print("kexec: no kernel loaded (kexec -l first)", file=sys.stderr)
            return 1
        want = json.loads(loaded.read_text())
        loaded.unlink()
        boots = hostdir / "boots.log"
        n = len(boots.read_text().splitlines()) + 1 if boots.exists() else 1
        with boots.open("a") as f:
            f.write(json.dumps(want) + "\n")
        if behaviour.get("die_at_boot") == n - behaviour.get("base", 0):
            die(hostdir)
        tree = behaviour.get("stuck_tree") or TREES.get(rodata_of(want["cmdline"]), TREES["full"])
        make_root(hostdir, tree, want["cmdline"], json.loads((hostdir / "host.json").read_text())["name"])
        return 0
    print("usage: campaign_fake_kexec.py HOSTDIR -l KERNEL ... | -e", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
