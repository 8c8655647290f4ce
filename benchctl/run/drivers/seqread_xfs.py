"""seqread-xfs: sequential reads of a page-cache-resident file on XFS with xfs_io.

The claim (+150 % bandwidth) is about copying page-cache pages to user space
through the kernel's linear map, so the file must be resident: after
writing it, benchctl reads it once, then before every measured pass asks
mincore(2) how much of it is resident. A pass below `resident_threshold` is
still recorded, with `not_cached: true` in its note, so analyze can drop it
rather than compare a device read with a cache read.

Backing, in order of preference: a device given with `device=` (refused
unless blockdev.check_user_device passes, including the explicit
`confirm_destroy=`), an existing XFS directory given with `dir=` (benchctl
creates and removes only its own file there), or by default a ramdisk (brd)
or loop-on-tmpfs built by benchctl (blockstack).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchctl.errors import InputError, ResourceError, RunFailed
from benchctl.osutil.fsutil import atomic_write_json
from benchctl.parsers import Measurement, ParseError, parse
from benchctl.run import proctree
from benchctl.run.drivers.base import IterationResult, RunContext
from benchctl.run.storage import blockdev, pagecache
from benchctl.run.storage.blockstack import BlockStack, StackSpec, parse_size

FILE_PREFIX = "benchctl-seqread-"
XFS_OVERHEAD = 1.06  # log, AG headers and free-space slack around the file
XFS_MIN_EXTRA = 320 << 20  # mkfs.xfs refuses filesystems under 300 MiB


def default_ramdisk(size: int) -> int:
    return int(size * XFS_OVERHEAD) + XFS_MIN_EXTRA


def read_argv(path: Path | str, bs: str, size: str, quiet: bool = False) -> list[str]:
    cmd = f"pread {'-q ' if quiet else ''}-b {bs} 0 {size}"
    return ["xfs_io", "-c", cmd, str(path)]


def write_argv(path: Path | str, size: str) -> list[str]:
    return ["xfs_io", "-c", f"pwrite -q -b 1m 0 {size}", "-c", "fsync", str(path)]


def fstype_of(path: Path, root: Path = blockdev.ROOT) -> str | None:
    """Filesystem type of the mount holding `path` (the longest matching mount point)."""
    real = os.path.realpath(path)
    best = None
    for m in blockdev.mounts(root):
        t = m["target"].rstrip("/") or "/"
        if real == t or real.startswith(t.rstrip("/") + "/") or t == "/":
            if best is None or len(t) >= len(best["target"]):
                best = m
    return best["fstype"] if best else None


class SeqreadXfs:
    name = "seqread-xfs"

    def requirements(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        req = [("xfs_io", "xfsprogs")]
        if not params.get("dir"):
            req += [("mkfs.xfs", "xfsprogs"), ("losetup", "mount"), ("mount", "mount")]
        return req

    def _sizes(self, p: dict[str, Any]) -> tuple[int, int]:
        size = parse_size(p["size"], "size")
        rd = p.get("ramdisk_size") or "auto"
        ramdisk = default_ramdisk(size) if rd == "auto" else parse_size(rd, "ramdisk_size")
        return size, ramdisk

    def check(self, ctx: RunContext) -> list[str]:
        p = ctx.params
        size, ramdisk = self._sizes(p)
        avail = blockdev.meminfo_kb().get("MemAvailable", 0) * 1024
        warnings: list[str] = []
        if p.get("dir"):
            d = Path(p["dir"])
            if not d.is_dir():
                raise InputError(f"dir={d}: not a directory")
            fs = fstype_of(d)
            if fs != "xfs":
                raise InputError(f"dir={d}: is on {fs}, not XFS; give a directory on an XFS filesystem")
            st = os.statvfs(d)
            if st.f_bavail * st.f_frsize < size:
                raise ResourceError(
                    f"dir={d}: {st.f_bavail * st.f_frsize / 2**30:.1f} GiB free, the {p['size']} file does not fit"
                )
            need = size
        elif p.get("device"):
            blockdev.check_user_device(p["device"], p.get("confirm_destroy"))
            need = size
        else:
            if ramdisk < size:
                raise InputError(f"ramdisk_size={p.get('ramdisk_size')} is smaller than size={p['size']}")
            need = ramdisk + size  # the ramdisk holds the file once, the page cache once more
        if avail < need + (1 << 30):
            raise ResourceError(
                f"seqread-xfs with size={p['size']} needs about {(need + (1 << 30)) / 2**30:.1f} GiB "
                f"of free memory (file in page cache{' + ramdisk' if need > size else ''}); "
                f"MemAvailable is {avail / 2**30:.1f} GiB: use --preset quick or --set size="
            )
        return warnings

    def setup(self, ctx: RunContext) -> None:
        p = ctx.params
        size, ramdisk = self._sizes(p)
        if p.get("dir"):
            directory = Path(p["dir"])
            info: dict[str, Any] = {"backing": "user-dir", "dir": str(directory), "fs": fstype_of(directory)}
        else:
            spec = StackSpec(
                size=ramdisk,
                fs="xfs",
                crypt="none",
                backing="device" if p.get("device") else p.get("backing", "auto"),
                device=p.get("device") or None,
                confirm_destroy=p.get("confirm_destroy") or None,
            )
            stack = BlockStack(spec, ctx.ledger, log_command=ctx.log_command, warn=ctx.warn)
            ctx.state["stack"] = stack
            directory = stack.build()
            info = stack.info
        path = directory / f"{FILE_PREFIX}{secrets.token_hex(6)}.dat"
        rid = ctx.ledger.add("file", path=str(path))
        ctx.state["file_rid"] = rid
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
        st = os.fstat(fd)
        os.close(fd)
        ctx.ledger.created(rid, dev=st.st_dev, ino=st.st_ino)
        ctx.state["file"] = path
        argv = write_argv(path, str(p["size"]))
        proc = proctree.run(argv)
        ctx.log_command(argv, rc=proc.returncode)
        if proc.returncode != 0 or os.path.getsize(path) != size:
            raise RunFailed(f"xfs_io could not write the {p['size']} test file: {proc.stdout.strip()[-200:]}")
        info = dict(info, file=str(path), file_bytes=size, bs=p["bs"])
        ctx.state["note"] = {"backing": info.get("backing"), "fs": info.get("fs") or "xfs", "bs": str(p["bs"])}
        ctx.state["run_info"] = {"stack": info}
        atomic_write_json(Path(ctx.run_dir) / "stack.json", info)
        self._read(ctx, quiet=True)  # populate the page cache (the write left it mostly resident already)

    def _read(self, ctx: RunContext, quiet: bool, wrap: Callable[[list[str]], list[str]] | None = None):
        argv = read_argv(ctx.state["file"], str(ctx.params["bs"]), str(ctx.params["size"]), quiet=quiet)
        run = wrap(argv) if wrap else argv
        proc = proctree.run(run)  # perf + xfs_io die together on an interrupt
        ctx.log_command(run, rc=proc.returncode)
        if proc.returncode != 0:
            raise RunFailed(
                f"xfs_io pread failed (rc {proc.returncode}): {(proc.stderr or proc.stdout).strip()[-200:]}"
            )
        return argv, proc

    def warmup(self, ctx: RunContext, index: int) -> None:
        self._read(ctx, quiet=True)

    def prepare(self, ctx: RunContext, iteration: int) -> None:
        """Before a measured pass: the test file is still there (its residency is checked in measure)."""
        if not os.path.isfile(ctx.state["file"]):
            raise RunFailed(f"the test file {ctx.state['file']} is gone; nothing more is measured")

    def measure(self, ctx: RunContext, iteration: int, perf_wrap: Callable[[list[str]], list[str]]) -> IterationResult:
        frac = pagecache.resident_fraction(ctx.state["file"])
        threshold = float(ctx.params.get("resident_threshold", 0.99))
        argv, proc = self._read(ctx, quiet=False, wrap=perf_wrap)
        try:
            res = parse("xfs_io", proc.stdout)
        except ParseError as e:
            raise RunFailed(f"xfs_io output could not be parsed: {e}") from None
        total = res.info["commands"][-1]["total"]
        if total != parse_size(ctx.params["size"], "size"):
            raise RunFailed(f"xfs_io read {total} bytes, expected {ctx.params['size']}")
        note = dict(ctx.state.get("note", {}), resident_fraction=round(frac, 6))
        if frac < threshold:
            note["not_cached"] = True
            ctx.warn(
                f"seqread-xfs iteration {iteration}: only {frac:.1%} of the file was in the page cache "
                f"(threshold {threshold:.0%}); marked not_cached"
            )
        bw = res.measurements[-1]
        ms = [
            Measurement("bandwidth_bytes_s", bw.value, bw.unit, dict(bw.note)),
            Measurement("resident_fraction", frac, "fraction"),
        ]
        return IterationResult(
            measurements=ms, raw={"xfs_io.txt": proc.stdout, "xfs_io.stderr": proc.stderr}, argv=argv, note=note
        )

    def teardown(self, ctx: RunContext) -> None:
        path = ctx.state.get("file")
        rid = ctx.state.get("file_rid")
        if path is not None:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError as e:
                ctx.warn(f"could not remove {path}: {e}")
            if rid:
                ctx.ledger.removed(rid)
            ctx.state["file"] = None
        stack = ctx.state.get("stack")
        if stack is not None:
            stack.teardown()


DRIVER = SeqreadXfs()
