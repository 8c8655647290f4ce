"""fio-dmcrypt: the published 4k sync-write fio job on ext4 on dm-crypt on a ramdisk.

The measured command is the one in the commit message of a166563e7ec3
(../shared/domain.md), changed only where it must be: --directory points at
benchctl's private mount, --size comes from the preset, and
--output-format=json+ keeps fio's latency histogram. Before every pass
(`prepare`, called by the engine before its quiesce, benchctl.run.quiesce)
the previous pass's file is deleted and the filesystem synced, so each pass
writes a fresh file into the same state of the stack (the first pass of a
reused file would allocate blocks, later ones would not).

Without device-mapper the workload refuses; `--set crypt=none` measures the
same stack without dm-crypt, and says so in every record's note
(`crypt: none`) and in the run's overrides, so analyze never pairs it with an
encrypted run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchctl.errors import ResourceError, RunFailed
from benchctl.osutil.fsutil import atomic_write_json
from benchctl.parsers import ParseError, parse
from benchctl.run import proctree
from benchctl.run.drivers.base import IterationResult, RunContext
from benchctl.run.storage import blockdev
from benchctl.run.storage.blockstack import BlockStack, StackSpec, parse_size, require_device_mapper

JOB_NAME = "iops-test-job"
# The published command, in its published order; --directory and --size are filled in.
PUBLISHED = [
    "--random_generator=lfsr",
    "--norandommap",
    "--randrepeat",
    "1",
    "--status-interval=999",
    "--rw=write",
    "--bs=4k",
    "--loops=1",
    "--ioengine=sync",
    "--iodepth=1",
    "--numjobs=1",
    "--fsync_on_close=1",
    "--group_reporting",
    "--thread",
    f"--name={JOB_NAME}",
    "--eta-newline=1",
]
MEMORY_HEADROOM = 1 << 30


def fio_argv(directory: str | Path, size: str) -> list[str]:
    return ["fio", f"--directory={directory}", *PUBLISHED, "--size", str(size), "--output-format=json+"]


def stack_spec(params: dict[str, Any]) -> StackSpec:
    return StackSpec(
        size=parse_size(params.get("ramdisk_size", "256M"), "ramdisk_size"),
        fs=params.get("fs", "ext4"),
        crypt=params.get("crypt", "dm-crypt"),
        cipher=params.get("cipher", "aes-xts-plain64"),
        key_bits=int(params.get("key_bits", 512)),
        backing=params.get("backing", "auto"),
        device=params.get("device") or None,
        confirm_destroy=params.get("confirm_destroy") or None,
    )


def record_note(info: dict[str, Any]) -> dict[str, Any]:
    """What every record carries so that analyze compares like with like."""
    note = {"crypt": info.get("crypt"), "backing": info.get("backing"), "fs": info.get("fs")}
    if info.get("crypt") == "dm-crypt":
        dm = info.get("dm_crypt", {})
        note["cipher"] = dm.get("cipher")
        note["key_bits"] = dm.get("key_bits")
        if dm.get("driver"):
            note["cipher_driver"] = dm["driver"]
    return note


def check_memory(params: dict[str, Any], root: Path = blockdev.ROOT) -> None:
    """A ramdisk lives in RAM: refuse when it cannot fit (before anything is created)."""
    if params.get("device") or params.get("backing") == "device":
        return
    need = parse_size(params.get("ramdisk_size", "256M"), "ramdisk_size") + MEMORY_HEADROOM
    avail = blockdev.meminfo_kb(root).get("MemAvailable", 0) * 1024
    if avail < need:
        raise ResourceError(
            f"the {params.get('ramdisk_size')} ramdisk needs {need / 2**30:.1f} GiB of free memory but "
            f"MemAvailable is {avail / 2**30:.1f} GiB; use --preset quick or a smaller --set ramdisk_size=/size="
        )


class FioDmcrypt:
    name = "fio-dmcrypt"

    def requirements(self, params: dict[str, Any]) -> list[tuple[str, str]]:
        req = [
            ("fio", "fio"),
            (
                "mkfs.ext4" if params.get("fs", "ext4") == "ext4" else "mkfs.xfs",
                "e2fsprogs" if params.get("fs", "ext4") == "ext4" else "xfsprogs",
            ),
            ("losetup", "mount"),
            ("mount", "mount"),
        ]
        if params.get("crypt", "dm-crypt") == "dm-crypt":
            req += [("cryptsetup", "cryptsetup-bin"), ("dmsetup", "dmsetup")]
        return req

    def host_limits(self, params: dict[str, Any]) -> list[str]:
        """Kernel features this host lacks for these params (shown by `benchctl workloads`)."""
        if params.get("crypt", "dm-crypt") == "dm-crypt" and not blockdev.has_device_mapper(blockdev.ROOT):
            return ["device-mapper (not in this kernel: run with --set crypt=none)"]
        return []

    def check(self, ctx: RunContext) -> list[str]:
        p = ctx.params
        stack_spec(p).validate()
        if not p.get("device") and parse_size(p["size"], "size") > parse_size(
            p.get("ramdisk_size", "256M"), "ramdisk_size"
        ):
            raise ResourceError(f"size={p['size']} does not fit the ramdisk_size={p.get('ramdisk_size')}")
        if p.get("crypt", "dm-crypt") == "dm-crypt":
            require_device_mapper()
        check_memory(p)
        return (
            ["crypt=none: no dm-crypt in the stack; these results are not comparable with encrypted runs"]
            if p.get("crypt") == "none"
            else []
        )

    def setup(self, ctx: RunContext) -> None:
        stack = BlockStack(stack_spec(ctx.params), ctx.ledger, log_command=ctx.log_command, warn=ctx.warn)
        ctx.state["stack"] = stack
        mnt = stack.build()
        ctx.state["dir"] = mnt
        ctx.state["note"] = record_note(stack.info)
        ctx.state["run_info"] = {"stack": stack.info}
        atomic_write_json(Path(ctx.run_dir) / "stack.json", stack.info)

    def prepare(self, ctx: RunContext, iteration: int) -> None:
        """Before a measured pass (the engine, then its quiesce): no file of the previous pass."""
        self._fresh(ctx)

    def _fresh(self, ctx: RunContext) -> None:
        d: Path = ctx.state["dir"]
        for f in d.glob(f"{JOB_NAME}*"):
            f.unlink()
        os.sync()

    def _run_fio(self, ctx: RunContext, argv: list[str]) -> tuple[str, str, int]:
        proc = proctree.run(argv)  # perf + fio die together on an interrupt
        ctx.log_command(argv, rc=proc.returncode)
        return proc.stdout, proc.stderr, proc.returncode

    def warmup(self, ctx: RunContext, index: int) -> None:
        self._fresh(ctx)
        out, err, rc = self._run_fio(ctx, fio_argv(ctx.state["dir"], ctx.params["size"]))
        if rc != 0:
            raise RunFailed(f"fio failed in warm-up (rc {rc}): {(err.strip().splitlines() or [''])[-1]}")

    def measure(self, ctx: RunContext, iteration: int, perf_wrap: Callable[[list[str]], list[str]]) -> IterationResult:
        argv = fio_argv(ctx.state["dir"], ctx.params["size"])
        out, err, rc = self._run_fio(ctx, perf_wrap(argv))
        raw: dict[str, str | bytes] = {"fio.json": out, "fio.stderr": err}
        if rc != 0:
            raise RunFailed(f"fio failed (rc {rc}): {(err.strip().splitlines() or [''])[-1]}")
        try:
            res = parse("fio-json", out)
        except ParseError as e:
            raise RunFailed(f"fio output could not be parsed: {e}") from None
        expected = parse_size(ctx.params["size"], "size")
        written = res.info.get("io_bytes")
        if written != expected:
            raise RunFailed(f"fio wrote {written} bytes, expected {expected}: the run did not do the published job")
        for w in res.warnings:
            ctx.warn(f"fio iteration {iteration}: {w}")
        note = dict(ctx.state.get("note", {}))
        return IterationResult(measurements=res.measurements, raw=raw, argv=argv, note=note)

    def teardown(self, ctx: RunContext) -> None:
        stack = ctx.state.get("stack")
        if stack is not None:
            stack.teardown()


DRIVER = FioDmcrypt()
