"""The block stack the storage workloads measure: ramdisk -> [dm-crypt] -> filesystem -> private mount.

Built the same way on every boot and every arm, so the only thing that
differs between arms is the kernel. Bottom up:

1. backing: `brd` (a real ramdisk, `rd_size` from the preset) when the module
   can be loaded by us; otherwise a loop device over a sparse file in a
   private tmpfs (memory-backed too, but with the loop driver and a second
   page cache in the path -- recorded as `backing: loop-tmpfs`, so analyze
   never mixes the two); or a user device, after blockdev.check_user_device.
2. dm-crypt (`cryptsetup open --type plain`, random key on a pipe), or none.
3. mkfs (ext4 with lazy init off, so no background ext4lazyinit writes
   during the measurement; or xfs).
4. a mount at a private temporary directory.

Every resource is written to the run's ledger BEFORE it is created and
marked removed after; teardown runs in reverse, checks what is actually
there, and is safe after a partial setup and when called twice. The kinds
registered at the bottom let `benchctl cleanup` remove the same things
after a SIGKILL, and only when they are provably ours.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchctl.env.mounts import mounted, mounts
from benchctl.errors import InputError, ResourceError, RunFailed, ToolMissingError
from benchctl.human import parse_size  # noqa: F401  (drivers import it from here)
from benchctl.run.kinds import handler, register_kind, same_inode
from benchctl.run.storage import blockdev, dmcrypt

LOOP_DETACH_S = 10.0  # a busy loop device detaches when its last user closes it
UMOUNT_BUSY_S = 10.0  # a tmpfs stays busy until the detached loop device's release drops its image
TMPFS_SLACK = 64 << 20  # tmpfs holds the sparse image plus nothing else
# No lazy init (no background writes during passes) and no discard: mkfs's discard would punch the
# written-once loop image (BlockStack._loop) full of holes again; every pass must find the backing as built.
MKFS_OPTIONS = {
    "ext4": ["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0,nodiscard"],
    "xfs": ["mkfs.xfs", "-q", "-f", "-K"],
}


@dataclass
class StackSpec:
    size: int  # ramdisk / tmpfs image size in bytes
    fs: str = "ext4"  # ext4 | xfs
    crypt: str = "dm-crypt"  # dm-crypt | none
    cipher: str = dmcrypt.DEFAULT_CIPHER
    key_bits: int = dmcrypt.DEFAULT_KEY_BITS
    backing: str = "auto"  # auto | brd | loop | device
    device: str | None = None
    confirm_destroy: str | None = None

    def validate(self) -> None:
        if self.fs not in MKFS_OPTIONS:
            raise InputError(f"fs={self.fs!r}: expected one of {', '.join(MKFS_OPTIONS)}")
        if self.crypt not in ("dm-crypt", "none"):
            raise InputError(f"crypt={self.crypt!r}: expected dm-crypt or none")
        if self.backing not in ("auto", "brd", "loop", "device"):
            raise InputError(f"backing={self.backing!r}: expected auto, brd, loop or device")
        if self.device and self.backing not in ("auto", "device"):
            raise InputError(f"device= is given but backing={self.backing}")
        if self.backing == "device" and not self.device:
            raise InputError("backing=device needs --set device=/dev/...")


def require_device_mapper(root: Path = blockdev.ROOT, try_load: bool = True) -> None:
    """Refuse a crypt stack where device-mapper is missing, saying how to run without it."""
    if not blockdev.has_device_mapper(root) and try_load and root == blockdev.ROOT:
        _quiet(["modprobe", "dm_crypt"])
    if not blockdev.has_device_mapper(root):
        raise ResourceError(
            "this kernel has no device-mapper (no /dev/mapper/control, dm_mod not loaded and modprobe "
            "failed), so dm-crypt cannot be built; run without encryption with --set crypt=none "
            "(recorded in every record, never compared with crypt runs)"
        )


def _quiet(argv: list[str]) -> int:
    try:
        return subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60).returncode
    except (OSError, subprocess.TimeoutExpired):
        return -1


class BlockStack:
    """Build with `build()` (returns the mount point), undo with `teardown()`."""

    def __init__(
        self,
        spec: StackSpec,
        ledger: Any,
        log_command: Callable[..., None] | None = None,
        warn: Callable[[str], None] | None = None,
    ):
        spec.validate()
        self.spec = spec
        self.ledger = ledger
        self._log = log_command or (lambda *a, **k: None)
        self._warn = warn or (lambda msg: None)
        self.undo: list[tuple[str, str, dict[str, Any]]] = []  # (kind, ledger id, attrs) in creation order
        self.info: dict[str, Any] = {"fs": spec.fs, "crypt": spec.crypt, "size_bytes": spec.size}
        self.device: str | None = None
        self.mountpoint: Path | None = None
        self.workdir: Path | None = None

    # -- helpers ---------------------------------------------------------------
    def _run(self, argv: list[str], *, input: bytes | None = None, timeout: float = 3600) -> str:
        try:
            proc = subprocess.run(argv, input=input, capture_output=True, timeout=timeout)
        except FileNotFoundError:
            raise ToolMissingError(f"{argv[0]} is not installed") from None
        self._log(argv, rc=proc.returncode)
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip().splitlines()
            raise RunFailed(f"{' '.join(argv[:2])} failed (rc {proc.returncode}): {err[-1] if err else ''}")
        return proc.stdout.decode(errors="replace")

    def _add(self, kind: str, **attrs: Any) -> str:
        rid = self.ledger.add(kind, **attrs)
        self.undo.append((kind, rid, self.ledger.entry(rid)["attrs"]))
        return rid

    def _name(self) -> str:
        return f"benchctl-{self.ledger.token[:12]}"

    # -- build -----------------------------------------------------------------
    def build(self) -> Path:
        s = self.spec
        if s.crypt == "dm-crypt":
            require_device_mapper()
        rid, self.workdir = self.ledger.make_tempdir(prefix="benchctl-stack-")
        self.undo.append(("tempdir", rid, self.ledger.entry(rid)["attrs"]))
        self.device = self._backing()
        if s.crypt == "dm-crypt":
            self.device = self._crypt(self.device)
        argv = [*MKFS_OPTIONS[s.fs], self.device]
        self.info["mkfs"] = argv[:-1]
        self._run(argv)
        self.mountpoint = self._mount(self.device, self.workdir / "mnt", s.fs)
        return self.mountpoint

    def _backing(self) -> str:
        s = self.spec
        if s.device or s.backing == "device":
            name = blockdev.check_user_device(s.device or "", s.confirm_destroy)
            self.info.update(backing="device", device=f"/dev/{name}")
            return f"/dev/{name}"
        if s.backing in ("auto", "brd"):
            dev = self._brd()
            if dev:
                return dev
            if s.backing == "brd":
                raise ResourceError(
                    "backing=brd: the brd module could not be loaded by benchctl "
                    f"({self.info.get('brd_reason')}); use backing=auto or loop"
                )
        return self._loop()

    def _brd(self) -> str | None:
        if blockdev.has_module("brd"):
            # someone else's ramdisks: their /dev/ramN may hold data, and rd_size is not ours to choose
            self.info["brd_reason"] = "brd already loaded (not by benchctl)"
            return None
        kb = (self.spec.size + 1023) // 1024
        rid = self._add("brd", rd_size_kb=kb, loaded_by="benchctl")
        argv = ["modprobe", "brd", "rd_nr=1", f"rd_size={kb}", "max_part=0"]
        rc = subprocess.run(argv, capture_output=True).returncode
        self._log(argv, rc=rc)
        if rc != 0 or not Path("/dev/ram0").exists():
            kind, rid, _ = self.undo.pop()
            self.ledger.removed(rid)
            self.info["brd_reason"] = f"modprobe brd failed (rc {rc})"
            return None
        self.ledger.created(rid)
        self.info.update(backing="brd", device="/dev/ram0", rd_size_kb=kb)
        return "/dev/ram0"

    def _loop(self) -> str:
        assert self.workdir is not None
        ram = self.workdir / "ram"
        ram.mkdir(mode=0o700)
        size = self.spec.size
        rid = self._add("mount", path=str(ram), fstype="tmpfs", source="benchctl-ram")
        self._run(["mount", "-t", "tmpfs", "-o", f"size={size + TMPFS_SLACK},mode=0700", "benchctl-ram", str(ram)])
        self.ledger.created(rid)
        image = ram / "disk.img"
        rid = self._add("file", path=str(image))
        fd = os.open(image, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
        try:
            os.ftruncate(fd, size)
            # Every page of the image written once now: else the first passes that reach a block
            # allocate tmpfs pages and later ones overwrite them (fio's 128M passes: 73k and 85k IOPS for
            # the two that allocated most, 99k-130k once the image stopped growing; 2G passes on a 4G
            # image, fallocated: the first measured pass 136k, the next five 258k-285k; written once, two
            # runs: first passes 282k and 211k, the others 176k-296k): fallocated pages pay on first write.
            write_once(fd, size)
            st = os.fstat(fd)
        finally:
            os.close(fd)
        self.ledger.created(rid, dev=st.st_dev, ino=st.st_ino)
        rid = self._add("loop", backing=str(image))
        dev = self._run(["losetup", "--find", "--show", str(image)]).strip()
        self.ledger.created(rid, device=dev)
        self.info.update(backing="loop-tmpfs", device=dev, brd_unavailable=self.info.pop("brd_reason", None))
        return dev

    def _crypt(self, lower: str) -> str:
        s = self.spec
        name = self._name()
        rid = self._add("dm-crypt", name=name)
        dmcrypt.open_mapping(lower, name, s.cipher, s.key_bits, log_command=self._log)
        self.ledger.created(rid)
        dev = f"/dev/mapper/{name}"
        desc = dmcrypt.describe(name, log_command=self._log)
        try:
            desc["driver"] = dmcrypt.crypto_driver(s.cipher, Path("/proc/crypto").read_text())
        except OSError:
            desc["driver"] = None
        self.info["dm_crypt"] = {"cipher": s.cipher, "key_bits": s.key_bits, **desc}
        return dev

    def _mount(self, device: str, target: Path, fstype: str) -> Path:
        target.mkdir(mode=0o700)
        rid = self._add("mount", path=str(target), fstype=fstype, source=device)
        self._run(["mount", "-t", fstype, device, str(target)])
        if not mounted(str(target)):
            raise RunFailed(f"mount of {device} at {target} did not take effect")
        self.ledger.created(rid)
        self.info["mountpoint"] = str(target)
        return target

    def missing(self) -> list[str]:
        """What this stack built and no longer finds (an unmounted filesystem, a detached loop device, a
        removed mapping): a pass on what remains would not measure the stack as built (benchctl.run.quiesce)."""
        gone = []
        for kind, _rid, attrs in self.undo:
            h = handler(kind)
            if h is not None and h.present is not None and not h.present(attrs):
                gone.append(f"{kind} {attrs.get('path') or attrs.get('name') or attrs.get('backing') or ''}".rstrip())
        return gone

    # -- teardown --------------------------------------------------------------
    def teardown(self) -> list[str]:
        """Remove everything in reverse order; returns what could not be removed (also warned)."""
        errors = []
        while self.undo:
            kind, rid, attrs = self.undo[-1]
            h = handler(kind)
            try:
                if h is None:
                    raise RunFailed(f"no handler registered for {kind}")
                if h.present is None or h.present(attrs):
                    h.remove(attrs)
                self.ledger.removed(rid)
            except Exception as e:  # keep going: later (lower) layers may still be removable
                errors.append(f"{kind} {attrs}: {e}")
                self._warn(f"teardown: could not remove {kind} {attrs}: {e}")
            self.undo.pop()
        return errors


# -- resource kinds: present / owned / remove from ledger attributes alone ---------


def write_once(fd: int, size: int) -> None:
    """Write zeros over the whole file, so each of its tmpfs pages exists and has been written once."""
    chunk = bytes(1 << 20)
    done = 0
    while done < size:
        done += os.pwrite(fd, chunk[: min(len(chunk), size - done)], done)


def _mount_present(a: dict) -> bool:
    return mounted(a.get("path", ""))


def _mount_owned(a: dict) -> bool:
    path = a.get("path", "")
    if "/benchctl-" not in path:
        return False
    rows = [m for m in mounts() if m["target"] == path]
    return (
        bool(rows)
        and rows[-1]["fstype"] == a.get("fstype")
        and (
            a.get("source") is None
            or rows[-1]["source"] == a.get("source")
            or os.path.realpath(rows[-1]["source"]) == os.path.realpath(a["source"])
        )
    )


def _mount_remove(a: dict) -> None:
    """umount; "busy" is retried until UMOUNT_BUSY_S: the loop device's backing_file is gone from sysfs
    before the kernel drops its last reference to the image (and frees its pages, seconds for GiBs),
    and until then the tmpfs under it is busy (seen twice in one `make perf`, 4G images)."""
    subprocess.run(["sync", "-f", a["path"]], capture_output=True, timeout=600)
    deadline = time.monotonic() + UMOUNT_BUSY_S
    while True:
        p = subprocess.run(
            ["umount", a["path"]], capture_output=True, text=True, timeout=600, env={**os.environ, "LC_ALL": "C"}
        )
        if p.returncode == 0 or not mounted(a["path"]):
            return
        if "busy" not in p.stderr or time.monotonic() >= deadline:
            raise RunFailed(f"umount {a['path']}: {p.stderr.strip()}")
        time.sleep(0.1)


def _loops_of(backing: str) -> list[str]:
    out = []
    sysblock = Path("/sys/block")
    for d in sysblock.glob("loop*"):
        try:
            bf = (d / "loop" / "backing_file").read_text().strip()
        except OSError:
            continue
        if bf == backing or bf == f"{backing} (deleted)":
            out.append(f"/dev/{d.name}")
    return out


def _loop_present(a: dict) -> bool:
    return bool(_loops_of(a.get("backing", "")))


def _loop_owned(a: dict) -> bool:
    return "/benchctl-" in a.get("backing", "") and _loop_present(a)


def _loop_remove(a: dict) -> None:
    for dev in _loops_of(a["backing"]):
        p = subprocess.run(["losetup", "-d", dev], capture_output=True, text=True, timeout=60)
        if p.returncode != 0 and dev in _loops_of(a["backing"]):
            raise RunFailed(f"losetup -d {dev}: {p.stderr.strip()}")
    # A device still open (udev probing it after the umount) is only marked autoclear by
    # losetup -d; it keeps the backing file busy until closed, so wait for it to go.
    deadline = time.monotonic() + LOOP_DETACH_S
    while _loops_of(a["backing"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _loops_of(a["backing"]):
        raise RunFailed(f"loop device over {a['backing']} still attached {LOOP_DETACH_S:g} s after losetup -d")


def _dm_present(a: dict) -> bool:
    name = a.get("name", "")
    for d in Path("/sys/block").glob("dm-*"):
        try:
            if (d / "dm" / "name").read_text().strip() == name:
                return True
        except OSError:
            continue
    return bool(name) and os.path.lexists(f"/dev/mapper/{name}")


def _dm_owned(a: dict) -> bool:
    return a.get("name", "").startswith("benchctl-") and _dm_present(a)


def _dm_remove(a: dict) -> None:
    p = subprocess.run(dmcrypt.close_argv(a["name"]), capture_output=True, text=True, timeout=120)
    if p.returncode != 0 and _dm_present(a):
        p2 = subprocess.run(["dmsetup", "remove", a["name"]], capture_output=True, text=True, timeout=120)
        if p2.returncode != 0 and _dm_present(a):
            raise RunFailed(f"cryptsetup close {a['name']}: {p.stderr.strip()}")


def _brd_present(a: dict) -> bool:
    return blockdev.has_module("brd")


def _brd_owned(a: dict) -> bool:
    return a.get("loaded_by") == "benchctl" and _brd_present(a)


def _brd_remove(a: dict) -> None:
    p = subprocess.run(["rmmod", "brd"], capture_output=True, text=True, timeout=120)
    if p.returncode != 0 and blockdev.has_module("brd"):
        raise RunFailed(f"rmmod brd: {p.stderr.strip()}")


def _file_present(a: dict) -> bool:
    return os.path.lexists(a.get("path", ""))


def _file_owned(a: dict) -> bool:
    if a.get("ino") is None:  # killed between create and record: only inside our own temp dirs
        return "/benchctl-" in a.get("path", "") and os.path.isfile(a["path"]) and not os.path.islink(a["path"])
    return same_inode(a, stat.S_ISREG)


def _file_remove(a: dict) -> None:
    try:
        os.unlink(a["path"])
    except FileNotFoundError:
        pass


for _kind, _remove, _owned, _present in (
    ("mount", _mount_remove, _mount_owned, _mount_present),
    ("loop", _loop_remove, _loop_owned, _loop_present),
    ("dm-crypt", _dm_remove, _dm_owned, _dm_present),
    ("brd", _brd_remove, _brd_owned, _brd_present),
    ("file", _file_remove, _file_owned, _file_present),
):
    register_kind(_kind, remove=_remove, owned=_owned, present=_present)
