"""benchctl's storage workloads on a real Debian kernel with brd and dm-crypt, in a nested VM.

Part of `make test` (BENCHCTL_VM=1; it boots a kernel under qemu TCG for about two minutes):

    BENCHCTL_VM=1 .venv/bin/python -m pytest -m vm tests/vm -v

Work dir (kernel download, initramfs, outputs): $BENCHCTL_VM_WORK or
/var/tmp/benchctl-vm. See tests/vm/harness.py for how the guest is built.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import harness  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchctl.run.storage import dmcrypt  # noqa: E402

pytestmark = pytest.mark.vm


def _skip_reason() -> str | None:
    if os.environ.get("BENCHCTL_VM") != "1":
        return "nested-VM test: set BENCHCTL_VM=1 to boot a Debian kernel under qemu (about 2 minutes)"
    for tool in ("qemu-system-x86_64", "apt-get", "dpkg", "depmod", "cpio", "busybox"):
        if shutil.which(tool) is None:
            return f"nested-VM test: {tool} is not installed"
    if os.geteuid() != 0:
        return "nested-VM test: needs root (qemu's 9p export of / and the guest's mounts)"
    return None


if _skip_reason():
    pytest.skip(_skip_reason(), allow_module_level=True)


@pytest.fixture(scope="module")
def guest() -> dict:
    work = Path(os.environ.get("BENCHCTL_VM_WORK", "/var/tmp/benchctl-vm"))
    t0 = time.monotonic()
    meta = harness.build(work)
    t_build = time.monotonic() - t0
    out = work / f"out-{time.strftime('%Y%m%dT%H%M%S')}"
    res = harness.run_guest(meta, out, ["fio-dmcrypt", "seqread-xfs"])
    res["build_s"] = round(t_build, 1)
    print(f"\nnested VM: build {t_build:.1f} s, guest run {res['wall_s']} s, outputs in {out}")
    return res


def _marks(guest: dict) -> list[str]:
    return [m for _, m in guest["marks"]]


def _run_dir(guest: dict, workload: str) -> Path:
    dirs = sorted(Path(guest["out"]).glob(f"results/*/*-{workload}-*"))
    assert dirs, f"no run folder for {workload}; see {guest['out']}/run-{workload}.log"
    return dirs[-1]


def _kib(size: str) -> int:
    """'32M' -> 32768 (the sizes in harness.GUEST_RUNS)."""
    return int(size[:-1]) * {"K": 1, "M": 1024, "G": 1024**2}[size[-1].upper()]


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(ln) for ln in (run_dir / "records.jsonl").read_text().splitlines() if ln.strip()]


def test_guest_booted_and_finished(guest: dict) -> None:
    marks = _marks(guest)
    assert not [m for m in marks if m.startswith(("fail", "insmod-failed"))], marks
    assert any(m.startswith("guest-done") for m in marks), marks
    assert "rc run-fio-dmcrypt 0" in " ".join(marks) and "rc run-seqread-xfs 0" in " ".join(marks), marks
    assert (Path(guest["out"]) / "uname.txt").read_text().strip() == json.loads(
        (Path(guest["out"]).parent / "build.json").read_text()
    )["kver"]


def test_fio_dmcrypt_real_stack(guest: dict) -> None:
    d = _run_dir(guest, "fio-dmcrypt")
    run = json.loads((d / "run.json").read_text())
    want = harness.GUEST_RUNS["fio-dmcrypt"]
    assert run["status"] == "complete" and run["iterations_done"] == want["iterations"]
    stack = run["run_info"]["stack"]
    assert stack["backing"] == "brd" and stack["crypt"] == "dm-crypt" and stack["fs"] == "ext4"
    dm = stack["dm_crypt"]
    assert dm["table"]["cipher"] == "aes-xts-plain64" and dm["table"]["key_bits"] == 512
    assert dm["status"]["type"] == "PLAIN" and dm["status"]["keysize"] == "512 bits"
    assert dm["driver"].startswith("xts-aes")
    recs = [r for r in _records(d) if not r["warmup"]]
    metrics = {r["metric"] for r in recs}
    assert {"iops", "bandwidth_kib_s", "clat_mean_us", "clat_p50_us", "clat_p99_us", "clat_p999_us"} <= metrics
    for r in recs:
        if r["metric"] in ("iops", "bandwidth_kib_s", "clat_mean_us"):
            assert r["note"]["crypt"] == "dm-crypt" and r["note"]["backing"] == "brd" and r["value"] > 0
    fio = json.loads((d / "raw/iter-0001/fio.json").read_text())
    assert fio["jobs"][0]["error"] == 0 and fio["jobs"][0]["write"]["io_kbytes"] == _kib(want["set"]["size"])
    everything = "".join(p.read_text(errors="replace") for p in d.rglob("*") if p.is_file())
    assert not re.search(r"[0-9a-f]{128}", everything.replace("0" * 128, "")), (
        "a 512-bit key leaked into the run folder"
    )


def test_seqread_xfs_on_brd(guest: dict) -> None:
    d = _run_dir(guest, "seqread-xfs")
    run = json.loads((d / "run.json").read_text())
    assert run["status"] == "complete" and run["run_info"]["stack"]["backing"] == "brd"
    recs = [r for r in _records(d) if not r["warmup"]]
    bw = [r for r in recs if r["metric"] == "bandwidth_bytes_s"]
    assert len(bw) == harness.GUEST_RUNS["seqread-xfs"]["iterations"] and all(
        r["value"] > 1e6 and r["note"]["fs"] == "xfs" for r in bw
    )
    assert all(r["value"] == 1.0 for r in recs if r["metric"] == "resident_fraction")


def test_nothing_left_in_the_guest(guest: dict) -> None:
    for f in sorted(Path(guest["out"]).glob("leftovers-after-*.txt")):
        lines = [ln for ln in f.read_text().splitlines() if ln and not ln.startswith("## ")]
        assert lines == [], f"{f.name}: {lines}"


def test_recorded_dm_outputs_parse(guest: dict) -> None:
    fx = Path(guest["out"]) / "fixtures"
    t = dmcrypt.parse_table((fx / "dmsetup-table.txt").read_text())
    assert t["cipher"] == "aes-xts-plain64" and t["key_bits"] == 512
    assert dmcrypt.parse_status((fx / "cryptsetup-status.txt").read_text())["type"] == "PLAIN"


def test_guest_ran_single_threaded_tcg(guest: dict) -> None:
    """thread=multi froze the guest in kernel text patching under perf stat -a (tests/vm/README.md)."""
    assert "tcg,thread=single" in guest["argv"]


def test_fits_ci_budget(guest: dict) -> None:
    total = guest["build_s"] + guest["wall_s"]
    print(f"nested VM total {total:.0f} s")
    assert total < 600, f"the nested-VM test took {total:.0f} s"


def test_sigint_on_real_stack_leaves_nothing(guest: dict) -> None:
    marks = " ".join(_marks(guest))
    assert "rc sigint 130" in marks, marks
    assert "interrupted (SIGINT)" in (Path(guest["out"]) / "sigint.log").read_text()


def test_sigkill_then_cleanup_removes_dm_and_brd(guest: dict) -> None:
    out = Path(guest["out"])
    killed = out / "state-after-sigkill.txt"
    assert "/dev/mapper/benchctl-" in killed.read_text() and "/sys/module/brd" in killed.read_text(), (
        "SIGKILL should have left the stack up for cleanup to remove"
    )
    log = (out / "cleanup.log").read_text()
    for kind in ("mount", "dm-crypt", "brd", "tempdir"):
        assert any(ln.split()[1:2] == [kind] and ln.rstrip().endswith("removed") for ln in log.splitlines()), log
    assert "rc cleanup 0" in " ".join(_marks(guest))
