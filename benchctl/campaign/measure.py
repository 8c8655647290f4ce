"""On the host, after a reboot: check the boot, measure it, pack what was measured -- one process.

`benchctl campaign measure` is the playbook's one step between the reboot and
the fetch. Verification comes first and a mismatch stops before anything is
measured (nothing is recorded under the wrong label); then the suite runs
through the same engine as `benchctl run`; then the boot's folder
(verify.json and the run folders) is packed into FOLDER.tar.gz for the
controller to fetch. One Python process instead of three matters on slow
hosts: under emulation every Ansible module and every interpreter start costs
seconds. Errors are one line prefixed with the step ("verify: ...", "run:
...", "pack: ..."), which the controller shows as where the host stopped.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchctl.campaign.verify import Verification, verify
from benchctl.errors import BenchctlError, ResourceError, RunFailed
from benchctl.osutil.fsutil import atomic_write_json, atomic_write_text
from benchctl.results.store import make_private_dir


@dataclass
class RunSpec:
    """What `benchctl run` does on every boot (plan.json's run section)."""

    suite: str | None = None
    workloads: list[str] = field(default_factory=list)
    preset: str | None = None
    sets: list[str] = field(default_factory=list)
    perf: bool = True


def check_boot(arm: str, expect: dict[str, Any], root: Path, output: Path | None) -> Verification:
    """The fingerprint against the arm's expectation; the record (with the fingerprint) into `output`."""
    from benchctl.env.fingerprint import collect

    fp = collect(root)
    v = verify(fp, arm, expect)
    if output is not None:
        make_private_dir(output.parent)
        atomic_write_json(output, {**v.as_dict(), "env": fp})
    return v


def _run(arm: str, spec: RunSpec, results: Path, root: Path) -> None:
    from benchctl.run import engine
    from benchctl.run.specs import parse_overrides
    from benchctl.run.suite import run_suite

    opts = engine.RunOptions(
        arm=arm,
        preset=spec.preset,
        overrides=parse_overrides(spec.sets),
        results=results,
        perf=spec.perf,
        probe_root=None if Path(root).resolve() == Path("/") else root,
    )
    if spec.suite:
        run_suite(spec.suite, opts)
    for workload in spec.workloads:
        engine.run_workload(workload, opts)


def pack(folder: Path) -> Path:
    """FOLDER.tar.gz beside FOLDER (its one top entry is FOLDER's name), replaced atomically."""
    archive = folder.parent / f"{folder.name}.tar.gz"
    fd, tmp = tempfile.mkstemp(prefix=f".{archive.name}.", dir=folder.parent)
    os.close(fd)
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            tar.add(folder, arcname=folder.name)
        os.replace(tmp, archive)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return archive


BOOT_LOG = "boot-log.txt"  # the kernel log since boot, beside verify.json


def save_boot_log(path: Path, root: Path) -> None:
    """The kernel log since boot beside verify.json (what `bisect --bad-if log:` searches): /dev/kmsg
    (or dmesg) live, ROOT/dmesg.txt for a recorded tree. A log that cannot be read is left out, and
    a log criterion then has no evidence for this boot (never "no match")."""
    from benchctl.env.kmsg import DmesgError, read_kmsg, run_dmesg

    try:
        if Path(root) == Path("/"):
            try:
                text = "".join(r.message + "\n" for r in read_kmsg())
            except OSError:
                text = run_dmesg()
        else:
            text = (Path(root) / "dmesg.txt").read_text(errors="replace")
    except (OSError, DmesgError):
        return
    atomic_write_text(path, text)


def measure(arm: str, expect: dict[str, Any], folder: Path, spec: RunSpec, root: Path = Path("/")) -> Path:
    """verify -> run -> pack; returns the archive. Each step's failure is one line naming the step."""
    folder = Path(folder)
    v = check_boot(arm, expect, root, folder / "verify.json")
    if not v.ok:
        raise RunFailed(f"verify: {v.line()}")
    save_boot_log(folder / BOOT_LOG, root)
    try:
        _run(arm, spec, folder / "runs", root)
    except BenchctlError as e:
        raise BenchctlError(f"run: {e}", e.exit_code) from None
    try:
        return pack(folder)
    except OSError as e:
        raise ResourceError(f"pack: cannot write {folder}.tar.gz: {e.strerror or e}") from None
