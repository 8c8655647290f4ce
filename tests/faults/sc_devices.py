"""Devices: a user-given `device=` is refused unless it is safe to destroy; benchctl formats only its own.

Real loop devices are created here (removed in `finally`, and by the scope
clean-up if a scenario dies). Every refusal scenario runs benchctl with a
TRIPWIRE PATH: mkfs.*, fio, xfs_io, wipefs and dd are shims that log their
argv and fail, so even a broken gate could not format anything, and the log
proves nothing was attempted. The positive scenarios run with LOGGING shims
that record argv and exec the real tool: every mkfs/fio/xfs_io target must
be a device or mount benchctl created (from the run's ledger) or the device
the user confirmed.

Holders cannot be made here without device-mapper/md; that refusal is
checked on a /sys tree copied from this machine's loop device with a
holder added (blockdev takes an injected root).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

from tests.faults import probe
from tests.faults.common import Outcome, benchctl, check, kept_records, one_line_error, scope
from tests.faults.registry import Skip, add

GUARDED = ["mkfs.ext4", "mkfs.xfs", "mkfs", "fio", "xfs_io", "wipefs", "dd", "mke2fs"]
SIGNATURE = b"USER-DATA-DO-NOT-FORMAT\n" * 64


def shims(s: probe.Scope, mode: str) -> tuple[Path, Path]:
    """A bin dir of shims for GUARDED tools: 'tripwire' (log + fail) or 'log' (log + exec the real tool)."""
    d = s.root / f"shims-{mode}"
    log = s.root / f"shims-{mode}.log"
    if d.is_dir():
        return d, log
    d.mkdir()
    for tool in GUARDED:
        real = shutil.which(tool)
        body = f'case "$*" in -V|--version) exec {real or "false"} "$@";; esac\n'  # version probes of benchctl env
        body += f'printf "%s\\n" "{tool} $*" >> {log}\n'
        body += f'exec {real} "$@"\n' if (mode == "log" and real) else "exit 99\n"
        (d / tool).write_text("#!/bin/sh\n" + body)
        (d / tool).chmod(0o755)
    return d, log


def env_with(s: probe.Scope, bindir: Path) -> dict[str, str]:
    return s.env(PATH=f"{bindir}:{os.environ['PATH']}")


def make_loop(s: probe.Scope, name: str, size: int = 400 << 20, partitioned: bool = False) -> tuple[str, Path]:
    img = s.root / "userdisks" / f"{name}.img"
    img.parent.mkdir(exist_ok=True)
    s.exclude_paths.add(str(img.parent))
    with open(img, "wb") as f:
        f.truncate(size)
        if partitioned:  # an MBR with one Linux partition from sector 2048 to the end
            entry = struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x83, b"\0\0\0", 2048, size // 512 - 2048)
            f.seek(446)
            f.write(entry)
            f.seek(510)
            f.write(b"\x55\xaa")
        f.seek(1 << 20)
        f.write(SIGNATURE)
    argv = ["losetup", "--find", "--show"] + (["-P"] if partitioned else []) + [str(img)]
    dev = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    return dev, img


def detach(dev: str) -> None:
    subprocess.run(["losetup", "-d", dev], capture_output=True, timeout=60)


def untouched(img: Path) -> bool:
    with open(img, "rb") as f:
        f.seek(1 << 20)
        return f.read(len(SIGNATURE)) == SIGNATURE


def _refused(s: probe.Scope, workload: str, device: str, confirm: str | None, why: str) -> str:
    bindir, log = shims(s, "tripwire")
    args = ["run", workload, "--preset", "quick", "--arm", "x", "-o", str(s.results), "--set", f"device={device}"]
    if workload == "fio-dmcrypt":
        args += ["--set", "crypt=none"]
    if confirm:
        args += ["--set", f"confirm_destroy={confirm}"]
    p = benchctl(s, args, env=env_with(s, bindir))
    check(p.returncode == 5, f"{workload} device={device}: rc {p.returncode} (want 5 refused): {p.stderr[-600:]}")
    msg = one_line_error(p)
    check(why in msg, f"refusal does not say {why!r}: {msg}")
    check(not log.exists(), f"a guarded tool was run: {log.read_text() if log.exists() else ''}")
    return msg


def _with_scope(name: str, fn, fast: bool = True) -> None:
    def run() -> Outcome:
        if os.geteuid() != 0 or not shutil.which("losetup"):
            raise Skip("needs root and losetup")
        with scope("dev") as s:
            before = probe.snapshot()
            detail = fn(s)
            return Outcome(leftovers=s.leftovers(before), detail=detail)

    add(name, "devices", run, fast=fast)


def unconfirmed(s: probe.Scope) -> str:
    dev, img = make_loop(s, "plain")
    try:
        for wl in ("seqread-xfs", "fio-dmcrypt"):
            _refused(s, wl, dev, None, "confirm_destroy")
            _refused(s, wl, dev, "/dev/loop-typo", "confirm_destroy")
        _refused(s, "seqread-xfs", "/dev/does-not-exist", "/dev/does-not-exist", "not a block device")
        check(untouched(img), "the unconfirmed device was written to")
    finally:
        detach(dev)
    return "no or mismatched confirm_destroy, missing device: refused, nothing run"


def mounted(s: probe.Scope) -> str:
    dev, img = make_loop(s, "mounted")
    mnt = s.root / "userdisks" / "mnt"
    mnt.mkdir()
    try:
        subprocess.run(["mkfs.ext4", "-q", "-F", dev], check=True, capture_output=True, timeout=120)
        subprocess.run(["mount", dev, str(mnt)], check=True, timeout=60)
        (mnt / "precious").write_text("keep me")
        for wl in ("seqread-xfs", "fio-dmcrypt"):
            _refused(s, wl, dev, dev, "is mounted")
        check((mnt / "precious").read_text() == "keep me", "user file changed")
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True, timeout=60)
        detach(dev)
    return "mounted device: refused (exit 5)"


def partition_in_use(s: probe.Scope) -> str:
    dev, img = make_loop(s, "parted", partitioned=True)
    mnt = s.root / "userdisks" / "pmnt"
    mnt.mkdir()
    part = f"{dev}p1"
    try:
        if not Path(part).exists():
            subprocess.run(["partx", "-a", dev], capture_output=True, timeout=60)
        if not Path(part).exists():
            raise Skip(f"the kernel did not create {part} (no loop partition scan)")
        subprocess.run(["mkfs.ext4", "-q", "-F", part], check=True, capture_output=True, timeout=120)
        subprocess.run(["mount", part, str(mnt)], check=True, timeout=60)
        _refused(s, "seqread-xfs", dev, dev, "in use")
        _refused(s, "fio-dmcrypt", dev, dev, "in use")
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True, timeout=60)
        detach(dev)
    return f"whole disk with mounted {Path(part).name}: refused"


def root_device(s: probe.Scope) -> str:
    from benchctl.run.storage import blockdev

    roots = sorted(blockdev.root_devices())
    if not roots:
        raise Skip("/ is not on a block device here")
    for name in roots:
        _refused(s, "seqread-xfs", f"/dev/{name}", f"/dev/{name}", "root filesystem")
        _refused(s, "fio-dmcrypt", f"/dev/{name}", f"/dev/{name}", "root filesystem")
    return f"/dev/{', /dev/'.join(roots)} (backs /) refused even when confirmed"


def holders(s: probe.Scope) -> str:
    """A copy of this machine's sysfs entry for a loop device, with a dm holder added."""
    from benchctl.errors import ResourceError
    from benchctl.run.storage import blockdev

    dev, img = make_loop(s, "held")
    name = Path(dev).name
    try:
        tree = s.root / "tree"
        sb = tree / "sys" / "class" / "block" / name
        (sb / "holders" / "dm-0").mkdir(parents=True)
        (sb / "dev").write_text(Path(f"/sys/class/block/{name}/dev").read_text())
        (tree / "dev").mkdir()
        (tree / "dev" / name).touch()
        (tree / "proc" / "self").mkdir(parents=True)
        (tree / "proc" / "self" / "mountinfo").write_text(Path("/proc/self/mountinfo").read_text())
        (tree / "proc" / "swaps").write_text("Filename Type Size Used Priority\n")
        try:
            blockdev.check_user_device(dev, dev, root=tree)
        except ResourceError as e:
            check("holders" in str(e) and "dm-0" in str(e), str(e))
        else:
            raise AssertionError("a device with a dm holder was accepted")
        (sb / "holders" / "dm-0").rmdir()
        check(blockdev.check_user_device(dev, dev, root=tree) == name, "the same tree without holder is refused")
    finally:
        detach(dev)
    return "holder dm-0 on a recorded loop entry: refused; without it: accepted"


def only_own_devices(s: probe.Scope) -> str:
    """Real runs under logging shims: every mkfs/fio/xfs_io target is benchctl's own or the confirmed device."""
    bindir, log = shims(s, "log")
    checked = 0
    dev, img = make_loop(s, "victim-neighbour")  # a bystander device that must stay untouched
    mine, mimg = make_loop(s, "given", size=512 << 20)
    try:
        runs = [
            ["seqread-xfs", "--preset", "quick", "--iterations", "1", "--warmup", "0"],
            ["fio-dmcrypt", "--preset", "quick", "--iterations", "1", "--warmup", "0", "--set", "crypt=none"],
            [
                "fio-dmcrypt",
                "--preset",
                "quick",
                "--iterations",
                "1",
                "--warmup",
                "0",
                "--set",
                "crypt=none",
                "--set",
                f"device={mine}",
                "--set",
                f"confirm_destroy={mine}",
            ],
        ]
        for args in runs:
            if log.exists():
                log.unlink()
            p = benchctl(s, ["run", *args, "--arm", "x", "-o", str(s.results)], env=env_with(s, bindir))
            check(p.returncode == 0, f"{args}: rc {p.returncode}: {p.stderr[-600:]}")
            run_dir = Path(p.stdout.strip().splitlines()[-1])
            led = json.loads((run_dir / "resources.json").read_text())
            own = {e["attrs"].get("device") for e in led["resources"] if e["kind"] == "loop"}
            own |= {e["attrs"].get("path") for e in led["resources"] if e["kind"] == "mount"}
            if "device=" in " ".join(args):
                own.add(mine)
            own.discard(None)
            for line in log.read_text().splitlines():
                tool, *argv = line.split()
                if tool.startswith("mkfs") or tool == "mke2fs":
                    check(argv[-1] in own, f"{tool} on {argv[-1]}, not one of benchctl's {sorted(own)}")
                elif tool == "fio":
                    d = [a.split("=", 1)[1] for a in argv if a.startswith("--directory=")]
                    check(d and d[0] in own, f"fio in {d}, not on benchctl's mount {sorted(own)}")
                elif tool == "xfs_io":
                    target = argv[-1]
                    check(any(target.startswith(m + "/") for m in own), f"xfs_io on {target}")
                elif tool in ("wipefs", "dd"):
                    raise AssertionError(f"unexpected {line}")
                checked += 1
        check(untouched(img), "the bystander loop device was written to")
    finally:
        detach(dev)
        detach(mine)
    return f"{checked} mkfs/fio/xfs_io calls, all on benchctl's own devices/mounts or the confirmed one"


_with_scope("device= not confirmed / mistyped / missing", unconfirmed)
_with_scope("device= mounted", mounted)
_with_scope("device= with a partition in use", partition_in_use, fast=False)
_with_scope("device= backs the root filesystem", root_device)
_with_scope("device= with holders (recorded /sys tree)", holders)
_with_scope("mkfs/fio only on what benchctl created", only_own_devices)


def user_storage_killed(kind: str, signame: str) -> Outcome:
    """The user's own XFS directory (dir=) or confirmed device (device=): a killed run leaves theirs alone.

    benchctl may remove only what it created there (its data file; its mount of
    the device). The user's files, mount and loop device must survive the run,
    the signal and `benchctl cleanup`.
    """
    import signal as _signal

    from tests.faults.common import read_records, run_dirs, start, wait_for

    if os.geteuid() != 0:
        raise Skip("needs root")
    sig = {"SIGINT": _signal.SIGINT, "SIGKILL": _signal.SIGKILL}[signame]
    with scope(f"user-{kind}-{signame}") as s:
        before = probe.snapshot()
        dev, img = make_loop(s, "userxfs", size=1 << 30)
        mnt = s.root / "userdisks" / "xfs"
        mnt.mkdir()
        try:
            if kind == "dir":
                subprocess.run(["mkfs.xfs", "-q", "-f", dev], check=True, capture_output=True, timeout=120)
                subprocess.run(["mount", dev, str(mnt)], check=True, timeout=60)
                (mnt / "thesis.tex").write_text("years of work\n")
                args = ["--set", f"dir={mnt}"]
            else:
                args = ["--set", f"device={dev}", "--set", f"confirm_destroy={dev}"]
            mark, hold = s.root / "mark", s.root / "hold"
            hold.touch()
            args += ["--set", "size=256M"]  # fits the 1 GiB user disk whatever the preset says
            proc = start(
                s,
                [
                    "run",
                    "seqread-xfs",
                    "--preset",
                    "quick",
                    *args,
                    "--iterations",
                    "2",
                    "--warmup",
                    "0",
                    "--arm",
                    "x",
                    "-o",
                    str(s.results),
                ],
                s.env(FAULTS_MARK=str(mark), FAULTS_PAUSE="measure:2", FAULTS_HOLD=str(hold)),
            )
            try:

                def paused() -> bool:
                    if proc.poll() is not None:
                        raise AssertionError(
                            f"run ended (rc {proc.returncode}): {proc.communicate(timeout=30)[1][-500:]}"
                        )
                    return mark.exists() and "paused" in mark.read_text()

                wait_for(paused, 90, "iteration 2")
                (run_dir,) = run_dirs(s.results)
                kept = read_records(run_dir)
                proc.send_signal(sig)
                hold.unlink()
                proc.communicate(timeout=90)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate(timeout=30)
            if sig == _signal.SIGKILL:
                cl = benchctl(s, ["cleanup"])
                check(cl.returncode == 0, f"cleanup rc {cl.returncode}: {cl.stdout[-600:]}")
            check(any(d == dev for d, _ in probe.loop_devices()), "the user's loop device was detached")
            if kind == "dir":
                check(any(t == str(mnt) for t, _, _ in probe.mounts()), "the user's XFS mount was unmounted")
                check((mnt / "thesis.tex").read_text() == "years of work\n", "the user's file changed")
                ours = sorted(p.name for p in mnt.iterdir() if p.name != "thesis.tex")
                check(not ours, f"benchctl's files left in the user's directory: {ours}")
            else:
                check(not any(src == dev for _, _, src in probe.mounts()), "the user's device is still mounted")
            lost = len(set(kept) - set(kept_records(run_dir)))
            left = s.leftovers(before)
        finally:
            subprocess.run(["umount", str(mnt)], capture_output=True, timeout=60)
            detach(dev)
        return Outcome(
            leftovers=left,
            records_lost=lost,
            detail=f"{signame}: the user's {'mount and file' if kind == 'dir' else 'loop device'} intact, "
            "benchctl's own file/mount gone",
        )


for _kind in ("dir", "device"):
    for _sn in ("SIGINT", "SIGKILL"):
        add(
            f"user's own {'XFS dir=' if _kind == 'dir' else 'device='} {_sn} mid-run",
            "devices",
            lambda k=_kind, sn=_sn: user_storage_killed(k, sn),
            fast=(_kind, _sn) == ("dir", "SIGKILL"),
        )
