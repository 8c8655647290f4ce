"""Device safety: the gate in front of every mkfs/fio on a user-given device.

Constructed /sys + /proc trees cover every refusal (holders need dm or md,
which this host lacks); live tests repeat the refusals on real loop devices.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import deadline  # tests/support/deadline.py: waits with a deadline
import pytest

from benchctl.env import mounts
from benchctl.errors import ResourceError
from benchctl.run.storage import blockdev
from benchctl.run.storage.blockdev import check_user_device

# -- constructed trees -------------------------------------------------------------


def _mountinfo(rows: list[tuple[str, str, str, str]]) -> str:
    """(devnum, target, fstype, source) -> mountinfo lines."""
    return "".join(
        f"{20 + i} 1 {num} / {target} rw,relatime shared:1 - {fs} {src} rw\n"
        for i, (num, target, fs, src) in enumerate(rows)
    )


class Tree:
    """A fake root with /sys/class/block, /sys/devices/... and /proc/self/mountinfo."""

    def __init__(self, root: Path):
        self.root = root
        (root / "sys/class/block").mkdir(parents=True)
        (root / "dev").mkdir()
        (root / "proc/self").mkdir(parents=True)
        self.mounts: list[tuple[str, str, str, str]] = []
        self.write_mounts()
        (root / "proc/swaps").write_text("Filename\tType\tSize\tUsed\tPriority\n")

    def disk(self, name: str, num: str, parts: dict[str, str] | None = None) -> None:
        d = self.root / "sys/devices/virtual/block" / name
        for sub in ("holders", "slaves"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "dev").write_text(num + "\n")
        (self.root / "sys/class/block" / name).symlink_to(d)
        (self.root / "dev" / name).touch()
        for p, pnum in (parts or {}).items():
            pd = d / p
            (pd / "holders").mkdir(parents=True)
            (pd / "dev").write_text(pnum + "\n")
            (pd / "partition").write_text("1\n")
            (self.root / "sys/class/block" / p).symlink_to(pd)
            (self.root / "dev" / p).touch()

    def hold(self, lower: str, upper: str) -> None:
        (self.root / "sys/class/block" / lower / "holders" / upper).touch()
        (self.root / "sys/class/block" / upper / "slaves" / lower).touch()

    def mount(self, num: str, target: str, fs: str, src: str) -> None:
        self.mounts.append((num, target, fs, src))
        self.write_mounts()

    def write_mounts(self) -> None:
        (self.root / "proc/self/mountinfo").write_text(_mountinfo(self.mounts))


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    t = Tree(tmp_path)
    t.disk("sda", "8:0", {"sda1": "8:1", "sda2": "8:2"})
    t.disk("sdb", "8:16", {"sdb1": "8:17"})
    t.disk("dm-0", "254:0")
    t.disk("loop3", "7:3")
    t.hold("sda2", "dm-0")  # root on dm-0 on sda2
    t.mount("254:0", "/", "ext4", "/dev/dm-0")
    t.mount("8:1", "/boot", "ext4", "/dev/sda1")
    return t


def test_free_device_with_confirmation_passes(tree: Tree) -> None:
    assert check_user_device("/dev/sdb", "/dev/sdb", tree.root) == "sdb"
    assert check_user_device("/dev/loop3", "/dev/loop3", tree.root) == "loop3"


@pytest.mark.parametrize("confirm", [None, "", "/dev/sda", "/dev/loop3"])
def test_no_or_wrong_confirmation_is_refused(tree: Tree, confirm) -> None:
    with pytest.raises(ResourceError, match=r"confirm_destroy=/dev/sdb"):
        check_user_device("/dev/sdb", confirm, tree.root)


def test_device_backing_root_through_dm_is_refused(tree: Tree) -> None:
    assert blockdev.root_devices(tree.root) == {"dm-0", "sda2", "sda"}
    with pytest.raises(ResourceError, match="backs the root filesystem"):
        check_user_device("/dev/sda", "/dev/sda", tree.root)
    with pytest.raises(ResourceError, match="backs the root filesystem"):
        check_user_device("/dev/sda2", "/dev/sda2", tree.root)
    with pytest.raises(ResourceError, match="backs the root filesystem"):
        check_user_device("/dev/dm-0", "/dev/dm-0", tree.root)


def test_device_with_holders_is_refused(tree: Tree) -> None:
    tree.disk("dm-1", "254:1")
    tree.hold("sdb1", "dm-1")
    with pytest.raises(ResourceError, match=r"has holders \(dm-1\)"):
        check_user_device("/dev/sdb", "/dev/sdb", tree.root)
    tree.hold("loop3", "dm-1")
    with pytest.raises(ResourceError, match="holders"):
        check_user_device("/dev/loop3", "/dev/loop3", tree.root)


def test_mounted_device_and_partition_in_use_are_refused(tree: Tree) -> None:
    tree.mount("8:17", "/srv", "xfs", "/dev/sdb1")
    with pytest.raises(ResourceError, match="partition /dev/sdb1 in use"):
        check_user_device("/dev/sdb", "/dev/sdb", tree.root)
    with pytest.raises(ResourceError, match=r"is mounted \(at /srv\)"):
        check_user_device("/dev/sdb1", "/dev/sdb1", tree.root)


def test_mount_matched_by_source_name_when_devnum_differs(tree: Tree) -> None:
    tree.mount("0:99", "/mnt/x", "btrfs", "/dev/loop3")  # btrfs reports an anonymous devnum
    with pytest.raises(ResourceError, match="mounted"):
        check_user_device("/dev/loop3", "/dev/loop3", tree.root)


def test_swap_is_refused(tree: Tree) -> None:
    (tree.root / "proc/swaps").write_text("Filename\tType\tSize\tUsed\tPriority\n/dev/sdb1 partition 1 0 -2\n")
    with pytest.raises(ResourceError, match="swap"):
        check_user_device("/dev/sdb", "/dev/sdb", tree.root)


def test_not_a_block_device(tree: Tree) -> None:
    with pytest.raises(ResourceError, match="not a block device"):
        check_user_device("/dev/nvme9n1", "/dev/nvme9n1", tree.root)
    with pytest.raises(ResourceError, match="empty"):
        check_user_device("", "", tree.root)


def test_symlinked_device_name_resolves(tree: Tree) -> None:
    (tree.root / "dev/disk/by-id").mkdir(parents=True)
    (tree.root / "dev/disk/by-id/wwn-x").symlink_to("../../sdb")
    assert check_user_device("/dev/disk/by-id/wwn-x", "/dev/sdb", tree.root) == "sdb"


def test_mountinfo_escapes_and_capabilities(tmp_path: Path) -> None:
    rows = mounts.parse_mountinfo("36 35 98:0 / /mnt/my\\040disk rw,noatime master:1 - ext3 /dev/root rw\n")
    assert rows == [{"devnum": "98:0", "target": "/mnt/my disk", "fstype": "ext3", "source": "/dev/root"}]
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/misc").write_text(" 1 psaux\n")
    assert not blockdev.has_device_mapper(tmp_path)
    (tmp_path / "proc/misc").write_text("236 device-mapper\n")
    assert not blockdev.has_device_mapper(tmp_path)  # the control node is missing
    (tmp_path / "dev/mapper").mkdir(parents=True)
    (tmp_path / "dev/mapper/control").touch()
    assert blockdev.has_device_mapper(tmp_path)


# -- live, on real loop devices ------------------------------------------------------


def _root_ok() -> str | None:
    if os.geteuid() != 0:
        return "needs root (loop devices)"
    if not Path("/dev/loop-control").exists():
        return "no /dev/loop-control"
    return None


live = pytest.mark.skipif(_root_ok() is not None, reason=_root_ok() or "")


@pytest.fixture
def loopdev(tmp_path: Path):
    """A loop device over a 64 MiB file with an MBR holding one partition."""
    img = tmp_path / "disk.img"
    with img.open("wb") as f:
        f.truncate(64 << 20)
        mbr = bytearray(512)
        mbr[446:462] = struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x83, b"\0\0\0", 2048, (64 << 20) // 512 - 2048)
        mbr[510:512] = b"\x55\xaa"
        f.seek(0)
        f.write(mbr)
    dev = deadline.run(
        ["losetup", "-P", "--find", "--show", str(img)], timeout=60, text=True, check=True
    ).stdout.strip()
    mounted: list[str] = []
    try:
        yield dev, mounted
    finally:
        for m in mounted:
            deadline.run(["umount", m], timeout=60)
        deadline.run(["losetup", "-d", dev], timeout=60)


@pytest.mark.live
@live
def test_live_free_loop_passes_and_needs_confirmation(loopdev) -> None:
    dev, _ = loopdev
    name = Path(dev).name
    with pytest.raises(ResourceError, match="confirm_destroy"):
        check_user_device(dev, None)
    assert check_user_device(dev, dev) == name


@pytest.mark.live
@live
def test_live_mounted_partition_and_device_refused(loopdev, tmp_path: Path) -> None:
    dev, mounted = loopdev
    part = f"{dev}p1"
    if not Path(part).exists():
        pytest.skip(
            "this kernel made no partition device for an MBR on a loop device "
            "(no msdos partition support); the constructed-tree test covers partitions"
        )
    deadline.run(["mkfs.ext4", "-q", "-F", part], timeout=120, check=True)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    deadline.run(["mount", part, str(mnt)], timeout=60, check=True)
    mounted.append(str(mnt))
    with pytest.raises(ResourceError, match=f"partition /dev/{Path(part).name} in use"):
        check_user_device(dev, dev)
    with pytest.raises(ResourceError, match="is mounted"):
        check_user_device(part, part)


@pytest.mark.live
def test_live_root_device_refused() -> None:
    rows = [m for m in mounts.mounts() if m["target"] == "/"]
    if not rows or not rows[-1]["source"].startswith("/dev/"):
        pytest.skip(f"/ is not on a block device here ({rows[-1]['source'] if rows else 'no mount'})")
    src = rows[-1]["source"]
    with pytest.raises(ResourceError, match="backs the root filesystem"):
        check_user_device(src, src)


@pytest.mark.live
@live
def test_live_mounted_loop_refused(loopdev, tmp_path: Path) -> None:
    dev, mounted = loopdev
    deadline.run(["mkfs.ext4", "-q", "-F", dev], timeout=120, check=True)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    deadline.run(["mount", dev, str(mnt)], timeout=60, check=True)
    mounted.append(str(mnt))
    with pytest.raises(ResourceError, match=rf"is mounted \(at {mnt}\)"):
        check_user_device(dev, dev)
