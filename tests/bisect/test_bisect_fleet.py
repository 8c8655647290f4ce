"""`benchctl bisect` for real: Ansible against a real sshd host in a network namespace, whose
"kexec" swaps a /proc tree recorded in a real arm64 guest (tests/support/campaign_fake_kexec.py: rodata=on
boots the block-mapped tree, anything else the PTE-mapped one). The real arm64 kernels are bisected
by `make bisect-demo` (tests/vm/arm64_bisect.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from campaign_fleet import Fleet, skip_reason

pytestmark = [pytest.mark.live, pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")]

BASE = "console=ttyAMA0 panic=-1"
# five "kernels": the change (a block-mapped linear map) arrives with k3
KERNELS = [f"k{i}=6.1.192:{BASE} rodata={'on' if i >= 3 else 'full'}" for i in range(1, 6)]
TIMEOUTS = ["--reboot-timeout", "8", "--connect-timeout", "5", "--suite-timeout", "120"]
DEADLINE_S = 600


@pytest.fixture(scope="module")
def fleet():
    with Fleet(["b1"]) as f:
        yield f


def bc(fleet: Fleet, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "benchctl", *args],
        capture_output=True,
        text=True,
        env=fleet.env(),
        timeout=DEADLINE_S,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
    )


def start(fleet: Fleet, tmp: Path, bad_if: str, kernels: list[str] = KERNELS, extra: tuple[str, ...] = ()) -> Path:
    inv = fleet.inventory(tmp / "lab.ini", ["b1"])
    out = tmp / "bisect"
    args = [a for k in kernels for a in ("--kernel", k)] + list(extra)
    r = bc(fleet, "bisect", "start", *args, "--bad-if", bad_if, "--hosts", str(inv), *TIMEOUTS, "-o", str(out))
    assert r.returncode == 0, r.stderr
    return out


def new_repo(path: Path):
    """An empty git repository and a `git(*args)` for it (a deadline on every call)."""
    path.mkdir()

    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=path, capture_output=True, text=True, check=True, timeout=60).stdout

    git("init", "-q")
    git("config", "user.email", "t@example.org")
    git("config", "user.name", "t")
    return git


def test_bisect_finds_the_first_block_mapped_kernel(fleet, tmp_path):
    out = start(fleet, tmp_path, "fact:linear_map.state=block")
    r = bc(fleet, "bisect", "run", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(bc(fleet, "bisect", "log", str(out), "--format", "json").stdout)
    assert doc["answer"] == {"kind": "culprit", "first_bad": "k3", "last_good": "k2", "candidates": []}
    decided = {d["kernel"]: d["decision"] for d in doc["steps"]}
    assert decided["k1"] == "good" and decided["k5"] == "bad" and decided["k3"] == "bad"
    assert len(doc["steps"]) <= 4 and all(len(d["boots"]) == 1 for d in doc["steps"])
    # every decision names its boot and what it saw
    log = bc(fleet, "bisect", "log", str(out)).stdout.splitlines()
    assert max(map(len, log)) <= 72
    k3 = next(ln for ln in log if ln.startswith("git bisect bad k3"))
    assert "state=block" in k3 and doc["steps"][-1]["boots"][0][:8] in " ".join(log)
    assert "# first bad: k3 (last good k2)" in log
    # the step folders are campaigns: analyze reads them as runs
    assert len(list(out.glob("steps/*/boots/b1/*/boot.json"))) == len(doc["steps"])
    # run again: nothing left to boot
    again = bc(fleet, "bisect", "run", str(out))
    assert again.returncode == 0 and "booting" not in again.stdout


def test_a_kernel_log_criterion_and_no_change(fleet, tmp_path):
    # every kernel here prints the recorded log of its tree: "rodata=on" only on the block-mapped one
    out = start(fleet, tmp_path, "log:Kernel command line: .*rodata=on", KERNELS[:2])
    r = bc(fleet, "bisect", "run", str(out))
    assert r.returncode == 0, r.stderr
    doc = json.loads(bc(fleet, "bisect", "log", str(out), "--format", "json").stdout)
    assert doc["answer"]["kind"] == "no-change"
    assert "no change found" in bc(fleet, "bisect", "log", str(out)).stdout


def test_git_bisect_run_drives_the_step_with_a_skip(fleet, tmp_path):
    out = start(fleet, tmp_path, "fact:linear_map.state=block", KERNELS[:2])
    repo = tmp_path / "linux"
    git = new_repo(repo)
    # commit c4 builds a kernel kexec refuses (not a vmlinuz image): its step is a skip
    specs = [f"c{i}=6.1.192:{BASE} rodata={'on' if i >= 4 else 'full'}" for i in range(1, 7)]
    specs[3] = f"c4=/boot/bzImage-broken:{BASE} rodata=on"
    for s in specs:
        (repo / "kernel.txt").write_text(s + "\n")
        git("add", "kernel.txt")
        git("commit", "-q", "-m", s.split("=", 1)[0])
    commits = git("rev-list", "--reverse", "HEAD").split()
    git("bisect", "start", commits[-1], commits[0])
    step = f'{sys.executable} -m benchctl bisect step {out} --kernel "$(cat kernel.txt)"'
    r = subprocess.run(
        ["git", "bisect", "run", "sh", "-c", step],
        cwd=repo,
        capture_output=True,
        text=True,
        env=fleet.env(),
        timeout=DEADLINE_S,
    )
    # c4 cannot be booted (skip), c3 is good, c5 bad: git names both as the possible first bad commit
    assert "The first bad commit could be any of:" in r.stdout, r.stdout + r.stderr
    named = r.stdout.split("could be any of:", 1)[1].split()[:2]
    assert sorted(named) == sorted([commits[3], commits[4]])
    log = json.loads(bc(fleet, "bisect", "log", str(out), "--format", "json").stdout)
    decided = {d["kernel"]: d["decision"] for d in log["steps"]}
    assert (decided["c3"], decided["c4"], decided["c5"]) == ("good", "skip", "bad")
    assert any("not a kernel image" in e for e in next(d for d in log["steps"] if d["kernel"] == "c4")["evidence"])


def test_step_errors_stop_git_bisect(fleet, tmp_path):
    r = bc(fleet, "bisect", "step", str(tmp_path / "nope"), "--kernel", "k1")
    assert r.returncode == 128 and r.stderr.startswith("benchctl: error: ") and "not a bisect folder" in r.stderr


def test_a_git_range_built_installed_and_booted_by_benchctl(fleet, tmp_path):
    """--git: benchctl drives git bisect itself; each commit's --build and --install run here under
    their deadlines (logs kept), the commit's kernel is booted and judged. The stand-in host takes
    the installed kernel's command line from its current one (kexec --reuse-cmdline), so --install
    writes what the commit's kernel would boot with; a commit that does not build is skipped."""
    repo = tmp_path / "linux"
    git = new_repo(repo)
    for i in range(1, 8):
        (repo / "version").write_text(f"{i}\n")
        (repo / "cmdline").write_text(f"{BASE} rodata={'on' if i >= 5 else 'full'}\n")
        if i == 6:
            (repo / "broken").write_text("does not build\n")
        elif (repo / "broken").exists():
            (repo / "broken").unlink()
        git("add", "-A")
        git("commit", "-q", "-m", f"c{i}")
    commits = git("rev-list", "--reverse", "HEAD").split()
    host_cmdline = fleet.hosts["b1"].dir / "root" / "proc" / "cmdline"
    inv = fleet.inventory(tmp_path / "lab.ini", ["b1"])
    out = tmp_path / "bisect"
    r = bc(
        fleet, "bisect", "start", "--git", str(repo), "--good", commits[0], "--bad", commits[-1],
        "--build", "sh -c 'test ! -e broken'", "--install", f"cp cmdline {host_cmdline}",
        "--kernel-of", "{rev}=6.1.192", "--bad-if", "fact:linear_map.state=block", "--hosts", str(inv),
        *TIMEOUTS, "-o", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = bc(fleet, "bisect", "run", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(bc(fleet, "bisect", "log", str(out), "--format", "json").stdout)
    assert doc["answer"]["kind"] == "culprit" and commits[4].startswith(doc["answer"]["first_bad"]), doc["answer"]
    assert (out / "git-answer.txt").read_text().startswith(commits[4])
    skipped = [d for d in doc["steps"] if d["decision"] == "skip"]
    assert skipped and all(d["kernel"] == commits[5][:12] and "build exited 1" in d["evidence"][0] for d in skipped)
    assert (out / "builds" / f"{commits[5][:12]}.build.log").is_file()
    assert all(d["boots"] for d in doc["steps"] if d["decision"] != "skip")
    assert "# first bad: " + commits[4][:12] in bc(fleet, "bisect", "log", str(out)).stdout


def test_a_claim_step_stops_booting_once_its_sequence_decides(fleet, tmp_path):
    """A claim criterion: the reference boots its --boots; a later step is judged after every boot on
    the anytime-valid rule and stops once decided. MemTotal is exact (decided at 2 boots), and the
    stand-in hosts' kexec does not change this machine's MemTotal: no change, after 2 of 4 boots."""
    out = start(fleet, tmp_path, "claim:boot-memory-total", KERNELS[:2], ("--boots", "4"))
    r = bc(fleet, "bisect", "run", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    doc = json.loads(bc(fleet, "bisect", "log", str(out), "--format", "json").stdout)
    assert doc["answer"]["kind"] == "no-change"
    boots = {d["kernel"]: len(d["boots"]) for d in doc["steps"]}
    assert boots == {"k1": 4, "k2": 2}, doc["steps"]
    (k2,) = [d for d in doc["steps"] if d["kernel"] == "k2"]
    assert k2["decision"] == "good" and "not-reproduced after 2 pair(s)" in k2["evidence"][0], k2
    assert "bisect: k2: boot-memory-total vs k1: " in r.stdout and "-> skip" in r.stdout  # judged after boot 1
