"""Block-device facts read from /sys and /proc, and the safety gate for user-given devices.

benchctl runs as root and formats what it builds; a typo in `--set device=`
must never cost a user a disk. Everything here is a pure function over an
injected root (`root / "sys"`, `root / "proc"`), so every refusal is tested on
constructed trees as well as live on loop devices.

A user-given device is refused when it (or any of its partitions):
- is mounted or used as swap,
- has holders (dm, md, bcache ... stacked on it),
- backs the root filesystem (directly, as a partition, or below a dm/md stack),
- or the user did not confirm destruction by naming the same device in
  `confirm_destroy=`.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchctl.env.mounts import ROOT, mounts
from benchctl.env.probes.memory import parse_meminfo
from benchctl.errors import ResourceError


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def block_name(device: str, root: Path = ROOT) -> str:
    """Kernel name (`loop3`, `sda1`) of a device path such as /dev/loop3 or /dev/disk/by-id/...

    Symlinks are resolved inside `root` so constructed trees behave like the real one.
    """
    p = Path(device)
    if not p.is_absolute():
        p = Path("/dev") / p
    real = Path(os.path.realpath(root / p.relative_to("/")))
    return real.name


def sys_block(name: str, root: Path = ROOT) -> Path:
    return root / "sys" / "class" / "block" / name


def is_partition(name: str, root: Path = ROOT) -> bool:
    return (sys_block(name, root) / "partition").exists()


def parent_disk(name: str, root: Path = ROOT) -> str:
    """The whole disk a partition belongs to (itself for a whole disk)."""
    if not is_partition(name, root):
        return name
    real = Path(os.path.realpath(sys_block(name, root)))
    return real.parent.name


def partitions(disk: str, root: Path = ROOT) -> list[str]:
    """Partitions of a whole disk, from the subdirectories that carry a `partition` file."""
    d = sys_block(disk, root)
    try:
        entries = sorted(os.listdir(os.path.realpath(d)))
    except OSError:
        return []
    return [e for e in entries if (Path(os.path.realpath(d)) / e / "partition").exists()]


def holders(name: str, root: Path = ROOT) -> list[str]:
    try:
        return sorted(os.listdir(sys_block(name, root) / "holders"))
    except OSError:
        return []


def slaves(name: str, root: Path = ROOT) -> list[str]:
    try:
        return sorted(os.listdir(sys_block(name, root) / "slaves"))
    except OSError:
        return []


def devnum(name: str, root: Path = ROOT) -> str | None:
    """"major:minor" of a block device from sysfs."""
    text = _read(sys_block(name, root) / "dev")
    return text.strip() if text else None


def swaps(root: Path = ROOT) -> list[str]:
    """Kernel names of block devices in use as swap."""
    text = _read(root / "proc" / "swaps") or ""
    return [Path(line.split()[0]).name for line in text.splitlines()[1:] if line.split()]


def mounted_at(name: str, root: Path = ROOT) -> list[str]:
    """Mount points of a block device, matched by major:minor and by source name."""
    num = devnum(name, root)
    out = []
    for m in mounts(root):
        if (num and m["devnum"] == num) or (m["source"].startswith("/dev/") and
                                             block_name(m["source"], root) == name):
            out.append(m["target"])
    return out


def _below(name: str, root: Path, seen: set[str] | None = None) -> set[str]:
    """`name` and everything it is built on: slaves (dm/md) recursively and the disk of a partition."""
    seen = set() if seen is None else seen
    if name in seen:
        return seen
    seen.add(name)
    disk = parent_disk(name, root)
    if disk != name:
        _below(disk, root, seen)
    for s in slaves(name, root):
        _below(s, root, seen)
    return seen


def root_devices(root: Path = ROOT) -> set[str]:
    """Every block device the root filesystem sits on (empty when / is not on a block device)."""
    rows = [m for m in mounts(root) if m["target"] == "/"]
    if not rows:
        return set()
    top = rows[-1]  # the last mount on / is the visible one
    by_num = {}
    block_dir = root / "sys" / "class" / "block"
    try:
        names = os.listdir(block_dir)
    except OSError:
        names = []
    for n in names:
        num = devnum(n, root)
        if num:
            by_num[num] = n
    names_found = set()
    if top["devnum"] in by_num:
        names_found.add(by_num[top["devnum"]])
    if top["source"].startswith("/dev/"):
        src = block_name(top["source"], root)
        if (block_dir / src).exists():
            names_found.add(src)
    out: set[str] = set()
    for n in names_found:
        out |= _below(n, root)
    return out


def check_user_device(device: str, confirm: str | None, root: Path = ROOT) -> str:
    """Refuse a user-given device unless it is safe to destroy; return its kernel name.

    Raises ResourceError with the reason and what to do instead.
    """
    if not device:
        raise ResourceError("device= is empty")
    name = block_name(device, root)
    if not sys_block(name, root).exists():
        raise ResourceError(f"device={device}: not a block device (no /sys/class/block/{name})")
    if not confirm or block_name(confirm, root) != name:
        raise ResourceError(
            f"device={device} will be formatted and its contents destroyed; "
            f"to confirm, add --set confirm_destroy={device}")
    disk = parent_disk(name, root)
    family = [name] if disk != name else [name, *partitions(name, root)]
    if root_devices(root) & set(family):
        raise ResourceError(f"device={device}: refused, it backs the root filesystem")
    swap = set(swaps(root))
    for member in family:
        held = holders(member, root)
        if held:
            raise ResourceError(f"device={device}: refused, /dev/{member} has holders ({', '.join(held)}): "
                                "something (dm, md, ...) is built on it")
        where = mounted_at(member, root)
        if where:
            what = "is mounted" if member == name else f"has partition /dev/{member} in use"
            raise ResourceError(f"device={device}: refused, it {what} (at {where[0]})")
        if member in swap:
            raise ResourceError(f"device={device}: refused, /dev/{member} is in use as swap")
    return name


# -- kernel capabilities -------------------------------------------------------

def has_device_mapper(root: Path = ROOT) -> bool:
    """device-mapper is usable: the dm_mod module is loaded/built in and its control node exists."""
    misc = _read(root / "proc" / "misc") or ""
    return ((root / "sys" / "module" / "dm_mod").exists() or "device-mapper" in misc) and \
        (root / "dev" / "mapper" / "control").exists()


def has_module(name: str, root: Path = ROOT) -> bool:
    return (root / "sys" / "module" / name).exists()


def meminfo_kb(root: Path = ROOT) -> dict[str, int]:
    return parse_meminfo(_read(root / "proc" / "meminfo") or "")
