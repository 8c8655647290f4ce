"""The whole quick bbml2 suite on one arm64 boot under qemu (TCG), and `benchctl cleanup` after a SIGKILL.

Debian's 6.18 boots as an AmpereOne (tests/vm/arm64_suite.py): every
workload must record something, the TLB-walk events qemu's PMU does not
implement must be "unsupported" with the reason (never 0, no MPKI from them),
and nothing may be left behind; a second boot SIGKILLs a suite run while
fio-dmcrypt holds brd -> dm-crypt -> ext4 mounted, and `benchctl cleanup`
must remove all of it.

    BENCHCTL_VM=1 .venv/bin/python -m pytest tests/vm/test_arm64_suite.py -v -s
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import arm64_memtier  # noqa: E402
import arm64_suite  # noqa: E402

pytestmark = pytest.mark.vm

WORKLOADS = ("boot-memory", "memcached", "fio-dmcrypt", "seqread-xfs", "tlb-probe")
TLB_WALKS = ("dtlb_walk_k", "itlb_walk_k")
MPKI = ("kernel_dtlb_walk_mpki", "kernel_tlb_walk_mpki")
COUNTED = ("memcached", "fio-dmcrypt", "seqread-xfs")  # run under perf stat (boot-memory and tlb-probe are not)


def _skip_reason() -> str | None:
    if os.environ.get("BENCHCTL_VM") != "1":
        return "arm64 suite: set BENCHCTL_VM=1 to boot Debian's arm64 kernel under qemu (two boots, minutes)"
    for tool in ("qemu-system-aarch64", "mmdebstrap", "depmod", "cpio"):
        if shutil.which(tool) is None:
            return f"arm64 suite: {tool} is not installed (scripts/setup.sh with BENCHCTL_VM=1)"
    if os.geteuid() != 0:
        return "arm64 suite: needs root (mmdebstrap, qemu's 9p export, the memtier build's chroot)"
    if arm64_memtier.why_not():
        return f"arm64 suite: memtier_benchmark cannot be built for arm64: {arm64_memtier.why_not()}"
    return None


if _skip_reason():
    pytest.skip(_skip_reason(), allow_module_level=True)


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("arm64-suite")
    facts = arm64_suite.boot(out, arm64_suite.SUITE, arm64_suite.SUITE_TIMEOUT_S)
    print(f"\narm64 suite: boot to poweroff {facts['wall_s']} s; per command {arm64_suite.walls(out)}")
    assert facts["rc"] == 0, (out / "stderr.txt").read_text()[-2000:]
    return out


@pytest.fixture(scope="module")
def killed(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("arm64-kill")
    facts = arm64_suite.boot(out, arm64_suite.KILL, arm64_suite.KILL_TIMEOUT_S)
    print(f"\narm64 SIGKILL + cleanup: boot to poweroff {facts['wall_s']} s")
    assert not (out / "kill-error.txt").exists(), (out / "kill-error.txt").read_text()
    return out


def test_every_workload_records_on_arm64(suite):
    walls = arm64_suite.walls(suite)
    assert walls["suite"]["rc"] == 0 and walls["tlb-probe"]["rc"] == 0, (suite / "suite.err").read_text()[-3000:]
    runs = arm64_suite.runs(suite)
    for name in WORKLOADS:
        assert name in runs, f"no run folder for {name}: {sorted(runs)}"
        assert runs[name]["run"]["status"] == "complete", (name, runs[name]["run"].get("error"))
        assert runs[name]["records"], f"{name} recorded nothing"
        env = json.loads((runs[name]["folder"] / "env-before.json").read_text())
        assert env["host"]["arch"] == "aarch64", env["host"]
    gen = runs["memcached"]["run"]["run_info"]
    assert "memtier" in json.dumps(gen), gen


def test_tlb_walks_are_unsupported_with_a_reason_never_zero(suite):
    for name, r in arm64_suite.runs(suite).items():
        perf = r["run"].get("perf") or {}
        if not perf.get("enabled"):
            continue
        for metric in TLB_WALKS:
            assert metric not in r["records"], f"{name}: {metric} recorded {r['records'][metric]}"
            assert "not implemented by this CPU's PMU" in perf["unsupported"][metric], perf
        for metric in MPKI:
            assert metric not in r["records"], f"{name}: {metric} computed from unsupported events"
        if name in COUNTED:
            assert "cycles_k" in r["records"], f"{name}: CPU_CYCLES, which qemu implements, was not counted"


def test_nothing_left_behind_after_the_suite(suite):
    left = arm64_suite.sections(suite / "leftovers.txt")
    assert "end" in left, "the leftovers listing did not finish"
    assert not any(left[k] for k in left if k != "end"), left


def test_cleanup_after_a_sigkilled_suite_removes_the_stack(killed):
    before = arm64_suite.sections(killed / "left-before.txt")
    assert before["dm"] and before["mounts"] and before["ramdisks"], f"the stack was not up when killed: {before}"
    walls = arm64_suite.walls(killed)
    assert walls["cleanup"]["rc"] == 0, (killed / "cleanup.err").read_text()
    after = arm64_suite.sections(killed / "left-after.txt")
    for key in ("mounts", "dm", "loop", "ramdisks", "tmp", "processes"):
        assert not after[key], f"{key} still present after benchctl cleanup: {after[key]}"
