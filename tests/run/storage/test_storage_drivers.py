"""Storage drivers live on this machine: real loop devices, tmpfs, mkfs, fio and xfs_io.

Each test checks that nothing is left behind (mounts, loop devices, temp
dirs), also after SIGINT and, with `benchctl cleanup`'s code path, after
SIGKILL. dm-crypt and brd are not available here: their paths run in the
nested VM (tests/vm/) and on recorded outputs (test_storage_dmcrypt.py).
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path

import deadline  # tests/support/deadline.py: waits with a deadline
import pytest
from storage_drive import drive  # noqa: E402

from benchctl.env import mounts
from benchctl.errors import InputError, ResourceError
from benchctl.run.cleanup import cleanup
from benchctl.run.drivers import boot_memory
from benchctl.run.ledger import Ledger
from benchctl.run.storage import blockdev, pagecache

REPO = Path(__file__).resolve().parents[3]
ARM64 = Path(__file__).parents[2] / "fixtures" / "arm64"


def _why_not_live() -> str | None:
    if os.geteuid() != 0:
        return "needs root (mount, losetup)"
    if not Path("/dev/loop-control").exists():
        return "no loop devices (/dev/loop-control missing)"
    for tool in ("fio", "xfs_io", "mkfs.xfs", "mkfs.ext4", "losetup"):
        if not any(Path(d, tool).exists() for d in os.environ.get("PATH", "").split(":") + ["/usr/sbin", "/sbin"]):
            return f"{tool} not installed"
    return None


needs_live = pytest.mark.skipif(_why_not_live() is not None, reason=_why_not_live() or "")


def leftovers(base: str | None = None) -> dict[str, list[str]]:
    """What a storage run could leave under `base` (default: the temp dir): mounts, loop devices, temp dirs.

    Only paths under our own temp dir count: other benchctl runs on the host
    (other test sessions) are not ours to judge.
    """
    base = base or tempfile.gettempdir()
    mine = os.path.join(base, "benchctl-")
    mounted = [m["target"] for m in mounts.mounts() if m["target"].startswith(mine)]
    loops = [
        ln for ln in deadline.run(["losetup", "-a"], timeout=60, text=True).stdout.splitlines() if f"({mine}" in ln
    ]
    tmp = [p.name for p in Path(base).glob("benchctl-stack-*")]
    return {"mounts": mounted, "loops": loops, "tempdirs": tmp}


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch) -> Path:
    """A temp dir of this test's own, for this process (tempfile) and its children (TMPDIR)."""
    d = tmp_path / "tmp"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    monkeypatch.setenv("TMPDIR", str(d))
    return d


@pytest.fixture
def clean(private_tmp: Path):
    before = leftovers(str(private_tmp))
    assert before == {"mounts": [], "loops": [], "tempdirs": []}
    yield before
    after = leftovers(str(private_tmp))
    assert after == before, f"left behind: {after}"


@pytest.mark.live
@needs_live
def test_seqread_xfs_quick_end_to_end(clean) -> None:
    res = drive("seqread-xfs", "quick", iterations=2)
    assert res["error"] is None, res.get("traceback")
    assert res["outstanding"] == []
    assert res["stack"]["backing"] in ("brd", "loop-tmpfs") and res["stack"]["fs"] == "xfs"
    for it in res["iterations"]:
        assert it["measurements"]["bandwidth_bytes_s"] > 1e6
        assert it["measurements"]["resident_fraction"] == 1.0
        assert it["note"]["fs"] == "xfs" and "not_cached" not in it["note"]
        assert it["argv"][:2] == ["xfs_io", "-c"] and it["argv"][2] == "pread -b 1m 0 1G"
    mkfs = [c["argv"] for c in res["commands"] if c["argv"][0].startswith("mkfs")]
    assert mkfs and mkfs[0][-1].startswith("/dev/"), "mkfs ran on something benchctl did not create"


@pytest.mark.live
@needs_live
def test_fio_crypt_none_end_to_end(clean) -> None:
    res = drive("fio-dmcrypt", "quick", {"crypt": "none", "size": "32M"}, iterations=2)
    assert res["error"] is None, res.get("traceback")
    assert res["outstanding"] == []
    assert res["check"] and "crypt=none" in res["check"][0]
    for it in res["iterations"]:
        m = it["measurements"]
        assert set(m) == {"iops", "bandwidth_kib_s", "clat_mean_us", "clat_p50_us", "clat_p99_us", "clat_p999_us"}
        assert m["iops"] > 100 and abs(m["bandwidth_kib_s"] / m["iops"] - 4) < 0.05  # 4 KiB writes
        assert it["note"]["crypt"] == "none"
        assert "--directory=" + res["stack"]["mountpoint"] in it["argv"]


@pytest.mark.live
def test_fio_dmcrypt_refuses_without_device_mapper(clean) -> None:
    if blockdev.has_device_mapper():
        pytest.skip("this kernel has device-mapper: the refusal cannot happen here")
    res = drive("fio-dmcrypt", "quick")
    assert res["error"].startswith("ResourceError: this kernel has no device-mapper")
    assert "--set crypt=none" in res["error"]
    assert res["outstanding"] == [] and res["iterations"] == []


@pytest.mark.live
@needs_live
def test_seqread_not_cached_is_marked(clean) -> None:
    def evict(phase, ctx):
        if phase == "measure":
            pagecache.drop_file_cache(ctx.state["file"])

    res = drive("seqread-xfs", "quick", {"size": "32M"}, iterations=1, phase_hook=evict)
    assert res["error"] is None, res.get("traceback")
    it = res["iterations"][0]
    assert it["note"]["not_cached"] is True and it["measurements"]["resident_fraction"] < 0.99
    assert any("not_cached" in w for w in res["warnings"])


@pytest.mark.live
@needs_live
def test_seqread_user_dir_on_xfs_only_touches_its_file(clean, tmp_path: Path) -> None:
    img, mnt = tmp_path / "xfs.img", tmp_path / "mnt"
    mnt.mkdir()
    with img.open("wb") as f:
        f.truncate(400 << 20)
    deadline.run(["mkfs.xfs", "-q", "-f", str(img)], timeout=120, check=True)
    deadline.run(["mount", "-o", "loop", str(img), str(mnt)], timeout=60, check=True)
    try:
        (mnt / "users-data").write_text("keep me")
        res = drive("seqread-xfs", "quick", {"dir": str(mnt), "size": "16M"}, iterations=1)
        assert res["error"] is None, res.get("traceback")
        assert res["stack"]["backing"] == "user-dir"
        assert sorted(p.name for p in mnt.iterdir()) == ["users-data"]
        assert (mnt / "users-data").read_text() == "keep me"
        assert not [c for c in res["commands"] if c["argv"][0].startswith(("mkfs", "mount", "losetup"))]
    finally:
        deadline.run(["umount", str(mnt)], timeout=60, check=True)


@pytest.mark.live
def test_seqread_user_dir_not_xfs_refused(tmp_path: Path) -> None:
    res = drive("seqread-xfs", "quick", {"dir": str(tmp_path)}, iterations=1)
    assert res["error"].startswith("InputError") and "not XFS" in res["error"]


@pytest.mark.live
@needs_live
def test_seqread_user_device_needs_confirmation(clean, tmp_path: Path) -> None:
    img = tmp_path / "dev.img"
    with img.open("wb") as f:
        f.truncate(400 << 20)
    dev = deadline.run(["losetup", "--find", "--show", str(img)], timeout=60, text=True, check=True).stdout.strip()
    try:
        res = drive("seqread-xfs", "quick", {"device": dev, "size": "16M"}, iterations=1)
        assert "confirm_destroy" in res["error"] and not res["commands"]
        res = drive("seqread-xfs", "quick", {"device": dev, "confirm_destroy": dev, "size": "16M"}, iterations=1)
        assert res["error"] is None, res.get("traceback")
        assert res["stack"]["backing"] == "device" and res["stack"]["device"] == dev
        assert res["outstanding"] == []
    finally:
        deadline.run(["losetup", "-d", dev], timeout=60)


def _spawn(workload: str, pause: str, state: Path, *sets: str) -> deadline.Console:
    """The driver paused at `pause`, its stdout and stderr in state/drive.log; killed at the latest after 300 s."""
    env = dict(os.environ, STORAGE_DRIVE_PAUSE=pause, STORAGE_DRIVE_STATE=str(state))
    return deadline.Console(
        [sys.executable, str(REPO / "tests/support/storage_drive.py"), workload, "--iterations", "1", *sets],
        log=state / "drive.log",
        timeout=300,
        name=f"driver {workload}",
        env=env,
        mark="PHASE ",
    )


@pytest.mark.live
@needs_live
@pytest.mark.parametrize("workload,sets", [("seqread-xfs", ("size=16M",)), ("fio-dmcrypt", ("crypt=none", "size=16M"))])
def test_sigint_mid_run_leaves_nothing(clean, workload, sets, tmp_path: Path) -> None:
    with _spawn(workload, "measure", tmp_path, *sets) as con:
        con.expect("^PHASE measure", timeout=60)
        assert leftovers()["mounts"], "the stack should be up while measuring"
        con.proc.send_signal(signal.SIGINT)
        assert con.wait(timeout=60) != 0
    assert not list((tmp_path / "ledgers").glob("*.json")), "ledger not closed after a clean interrupt"


@pytest.mark.live
@needs_live
def test_sigkill_then_cleanup_removes_everything(clean, tmp_path: Path) -> None:
    with _spawn("seqread-xfs", "measure", tmp_path, "size=16M") as con:
        con.expect("^PHASE measure", timeout=60)
        con.proc.kill()
        con.wait(timeout=30)
    assert leftovers()["mounts"], "SIGKILL should have left the stack up"
    rows = cleanup(tmp_path)
    kinds = {r["kind"]: r["action"] for r in rows}
    assert {"mount", "loop", "file", "tempdir"} <= set(kinds), rows
    assert all(a in ("removed", "already gone") for a in kinds.values()), rows


@pytest.mark.live
def test_cleanup_refuses_what_it_did_not_create(tmp_path: Path) -> None:
    """A ledger naming someone else's mount and loop device: cleanup must not touch them."""
    ledger = Ledger.create("foreign", state=tmp_path)
    ledger.add("mount", path="/", fstype="ext4", source="/dev/vda")
    ledger.add("loop", backing="/var/lib/not-ours.img")
    ledger.add("dm-crypt", name="cryptroot")
    ledger.add("file", path="/etc/hostname")
    ledger.data["owner"]["pid"] = -1
    ledger.save()
    rows = cleanup(tmp_path)
    assert [r["action"] for r in rows if r["kind"] == "mount"] == ["refused: present but not verified as ours"]
    assert [r["action"] for r in rows if r["kind"] == "file"] == ["refused: present but not verified as ours"]
    assert Path("/etc/hostname").exists()


# -- boot-memory (recorded trees) -------------------------------------------------------


def test_boot_memory_on_recorded_arm64_tree() -> None:
    root = ARM64 / "qemu-n1-6.1-4k-rodataon"
    text, mem, uptime = boot_memory.read(root)
    ms, note = boot_memory.measurements(mem, uptime, 600)
    got = {m.metric: m.value for m in ms}
    assert set(got) == {"mem_total_kb", "mem_free_kb", "mem_available_kb", "page_tables_kb"}
    assert got["mem_total_kb"] == mem["MemTotal"] and note["uptime_s"] == 0.97 and note["fresh_boot"] is True
    assert "directmap_kb" not in note  # the Debian arm64 kernel prints no DirectMap lines


def test_boot_memory_directmap_and_staleness() -> None:
    text = (
        "MemTotal:       24684092 kB\nMemFree:        24075784 kB\nMemAvailable:   24207804 kB\n"
        "PageTables:         1924 kB\nDirectMap4k:       30720 kB\nDirectMap2M:     2066432 kB\n"
    )
    mem = boot_memory.parse_meminfo(text)
    ms, note = boot_memory.measurements(mem, 3600.0, 600)
    assert note == {
        "uptime_s": 3600.0,
        "fresh_boot": False,
        "directmap_kb": {"DirectMap4k": 30720, "DirectMap2M": 2066432},
    }
    assert "not fresh" in boot_memory.BootMemory()._stale(3600.0, 600)
    assert boot_memory.BootMemory()._stale(100.0, 600) is None
    with pytest.raises(InputError):
        boot_memory.parse_meminfo("garbage\n")
    with pytest.raises(InputError):
        boot_memory.parse_uptime("")


def test_pagecache_residency_on_disk_file(tmp_path: Path) -> None:
    d = Path("/var/tmp") if mounts.mounts() else tmp_path
    f = Path(tempfile.mkstemp(dir=d)[1])
    try:
        f.write_bytes(os.urandom(4 << 20))
        assert pagecache.resident_pages(f) == (1024, 1024)
        pagecache.drop_file_cache(f)
        if d == Path("/var/tmp") and pagecache.resident_fraction(f) > 0.5:
            pytest.skip("this filesystem kept the pages (tmpfs-like); eviction not observable")
        assert pagecache.resident_fraction(f) < 0.5
        f.read_bytes()
        assert pagecache.resident_fraction(f) == 1.0
    finally:
        f.unlink()


def test_memory_refusal_names_the_fix(tmp_path: Path) -> None:
    from benchctl.run.drivers.fio_dmcrypt import check_memory

    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/meminfo").write_text("MemTotal: 24684092 kB\nMemAvailable: 24207804 kB\n")
    with pytest.raises(ResourceError, match=r"128G ramdisk needs 129.0 GiB.*--preset quick"):
        check_memory({"ramdisk_size": "128G"}, tmp_path)
    check_memory({"ramdisk_size": "256M"}, tmp_path)
