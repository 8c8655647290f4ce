"""Campaigns for real: Ansible against real sshd hosts in network namespaces made here.

The hosts (tests/support/campaign_fleet.py) are real ssh servers; what is stood in
is only the kernel: each host's /proc and /sys are a tree recorded in a real
arm64 guest, and its "kexec" swaps that tree and the boot id. Everything
else -- ansible-playbook, the reboot module waiting for a new boot id,
`benchctl campaign verify`, `benchctl run`, packing and fetching, the
books -- runs as it would against a lab.

Each CLI call has a deadline (subprocess timeout); the fleet is removed by a
fixture finaliser, so a failing test leaves no namespace, veth or sshd.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from campaign_fleet import Fleet, skip_reason

from benchctl.campaign.playbook import reap_leftovers

pytestmark = [pytest.mark.live, pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")]

ARMS = [
    "--arm",
    "pte=6.1.192:console=ttyAMA0 panic=-1 rodata=full",
    "--arm",
    "block=6.1.192:console=ttyAMA0 panic=-1 rodata=on",
]
QUICK = [
    "--workload",
    "boot-memory",
    "--preset",
    "quick",
    "--no-perf",
    "--reboot-timeout",
    "8",
    "--connect-timeout",
    "5",
]
CLI_DEADLINE_S = 150
TEXT_WIDTH = 72


@pytest.fixture(scope="module")
def fleet():
    with Fleet(["h1", "h2", "h3"]) as f:
        yield f


@pytest.fixture(autouse=True)
def _well_behaved(fleet):
    for h in fleet.hosts.values():
        h.behave()
    yield


def bc(fleet: Fleet, *args: str, timeout: float = CLI_DEADLINE_S) -> subprocess.CompletedProcess:
    """Run the CLI; its text output (not JSON) must fit a 72-column mail."""
    r = subprocess.run(
        [sys.executable, "-m", "benchctl", *args],
        capture_output=True,
        text=True,
        check=False,
        env=fleet.env(),
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if "json" not in args:
        # A path longer than a line is one word, the one thing that cannot wrap.
        wide = [line for line in r.stdout.splitlines() if len(line) > TEXT_WIDTH and " " in line.strip()]
        assert not wide, f"text output over {TEXT_WIDTH} columns: {wide}"
    return r


def unwrap(text: str) -> list[str]:
    """The logical lines of wrapped output: a continuation is indented 4 past its line's start."""
    out: list[tuple[int, str]] = []
    for ln in text.splitlines():
        lead = len(ln) - len(ln.lstrip())
        if out and ln.strip() and lead >= out[-1][0] + 4:
            out[-1] = (out[-1][0], out[-1][1] + " " + ln.strip())
        else:
            out.append((lead, ln.strip()))
    return [t for _, t in out]


def plan(
    fleet: Fleet,
    tmp: Path,
    names: list[str],
    *extra: str,
    boots: int = 2,
    arms: list[str] = ARMS,
    inventory_extra: dict | None = None,
) -> Path:
    inv = fleet.inventory(tmp / "lab.ini", names, inventory_extra)
    out = tmp / "campaign"
    r = bc(fleet, "campaign", "plan", *arms, "--hosts", str(inv), "--boots", str(boots), *QUICK, *extra, "-o", str(out))
    assert r.returncode == 0, r.stderr
    return out


def one_error_line(r: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in r.stderr, r.stderr
    assert len(lines) == 1 and lines[0].startswith("benchctl: error: "), r.stderr
    return lines[0]


def status(fleet: Fleet, folder: Path) -> dict:
    r = bc(fleet, "campaign", "status", str(folder), "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def boot_records(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("boots/*/*/boot.json"))]


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the controller exited ({proc.returncode}) first")
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout} s")


def test_campaign_killed_controller_failing_wrong_arm_unreachable_resume(fleet, tmp_path):
    """plan -> select -> reboot -> verify -> suite -> fetch on four hosts at once: h1 is fine, h2 dies at
    its second reboot, h3 always boots the other arm, h9 does not exist. The controller is killed after
    the first boots of h1 and h2 are booked and resumed; then h2 comes back and its last boot is done with --limit."""
    t0 = time.monotonic()
    folder = plan(fleet, tmp_path, ["h1", "h2", "h3", "h9"], boots=1)
    fleet.hosts["h2"].behave(die_at_boot=2)  # its second reboot never comes back
    fleet.hosts["h3"].behave(stuck_tree="qemu-n1-6.1-4k-rodataon")  # always comes up block-mapped
    log = open(tmp_path / "controller-1.log", "w")
    ctl = subprocess.Popen(
        [sys.executable, "-m", "benchctl", "campaign", "run", str(folder)],
        env=fleet.env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(
            lambda: (
                (folder / "progress.json").exists()
                # h1's and h2's first boots both booked: a kill between the two left h2's boot to be
                # redone, and its redo is the reboot h2 dies at (a race of the test, not of the product)
                and all(json.loads((folder / "progress.json").read_text())["hosts"][h]["done"] for h in ("h1", "h2"))
            ),
            120,
            "the first finished boots of h1 and h2",
            ctl,
        )
        os.kill(ctl.pid, signal.SIGKILL)  # the controller only: its ansible-playbook lives on
        ctl.wait(timeout=10)
    finally:
        if ctl.poll() is None:
            os.killpg(ctl.pid, signal.SIGKILL)
            ctl.wait(timeout=10)
        log.close()
    assert 1 <= status(fleet, folder)["boots_done"] < 4
    try:
        resumed_and_finished(fleet, folder, tmp_path)
    finally:  # whatever failed: nothing of the killed controller's round keeps running
        reap_leftovers(json.loads((folder / "plan.json").read_text())["id"], lambda _: None)
    print(f"\ncampaign fleet test: {time.monotonic() - t0:.0f} s")


def resumed_and_finished(fleet: Fleet, folder: Path, tmp_path: Path) -> None:
    r = bc(fleet, "campaign", "run", str(folder))
    assert r.returncode == 1, r.stdout + r.stderr  # hosts stopped: exit 1, documented
    st = status(fleet, folder)["hosts"]
    assert st["h1"]["done"] == {"pte": 1, "block": 1} and st["h1"]["last_error"] is None
    assert st["h2"]["done"] == {"pte": 1, "block": 0} and st["h2"]["next"] == 1
    # h2 went at its second reboot: in this round's reboot step, or already in the killed controller's
    # round (then this round found it unreachable); either way it keeps its finished boot
    phase = st["h2"]["last_error"]["phase"]
    assert phase in ("reboot", "reach") and st["h2"]["last_error"]["index"] == 1
    assert st["h3"]["done"] == {"pte": 0, "block": 0} and st["h3"]["last_error"]["phase"] == "verify"
    assert st["h9"]["done"] == {"pte": 0, "block": 0} and st["h9"]["last_error"]["phase"] == "reach"
    err = one_error_line(r)
    assert f"h2 (boot 1, {phase})" in err and "h3 (boot 0, verify)" in err and "h9 (boot 0, reach)" in err
    assert "finished boots are kept" in err
    lines = unwrap(r.stdout)
    assert any(ln.startswith("h1: boot 2/2 block: boot ") for ln in lines), r.stdout
    assert any(ln.startswith(f"h2: boot 2/2 block: STOPPED in {phase}:") for ln in lines), r.stdout
    wrong = [ln for ln in lines if ln.startswith("h3: boot 1/2 pte: STOPPED in verify: ")]
    assert len(wrong) == 1 and "is not arm pte: " in wrong[0], r.stdout
    assert "linear_map.state is block (ptdump), planned pte" in wrong[0] and "benchctl: error" not in wrong[0]
    assert any(ln.startswith("h9: boot 1/2 pte: STOPPED in reach: ") for ln in lines), r.stdout
    assert any("ETA" in ln for ln in lines)
    text = bc(fleet, "campaign", "status", str(folder)).stdout
    assert "3/8 boots done" in text and f"last error (boot 1, {phase}" in text
    assert not list(folder.glob("boots/h3/*")) and not list(folder.glob("boots/h9/*"))  # nothing mislabelled
    assert not list(fleet.hosts["h3"].dir.glob("remote/*/*/runs"))  # nor measured

    # h2 comes back (sshd restarted, no more dying): its last boot, alone
    fleet.hosts["h2"].behave()
    fleet.start_sshd("h2")
    r = bc(fleet, "campaign", "run", str(folder), "--limit", "h2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "h2: boot 2/2 block" in r.stdout and "STOPPED" not in r.stdout and "h1:" not in r.stdout

    recs = boot_records(folder)
    assert len(recs) == 4
    for host in ("h1", "h2"):
        mine = sorted((r for r in recs if r["host"] == host), key=lambda r: r["index"])
        assert [r["arm"] for r in mine] == ["pte", "block"]  # as planned
        assert all(r["boot_method"] == "kexec" for r in mine)
    assert len({r["boot_id"] for r in recs}) == 4  # every boot a new one
    for rec_path in folder.glob("boots/*/*/boot.json"):
        rec = json.loads(rec_path.read_text())
        runs = [json.loads(p.read_text()) for p in rec_path.parent.glob("runs/*/*/run.json")]
        assert len(runs) == 1 and runs[0]["boot_id"] == rec["boot_id"] and runs[0]["arm"] == rec["arm"]
        assert rec["verified"]["linear_map"] == rec["arm"]
        assert rec["verified"]["rodata"] == {"pte": "full", "block": "noalias"}[rec["arm"]]
    # nothing of the killed round was recorded as a boot, and nothing was thrown away
    events = [json.loads(ln) for ln in (folder / "events.jsonl").read_text().splitlines()]
    assert sum(e["event"] == "boot-done" for e in events) == 4
    assert not (folder / "incoming").exists()

    # analyze on the campaign folder: arms from the plan, the model's page tables beside boot-memory
    claims = str(Path(__file__).resolve().parents[2] / "analysis/claims/bbml2.toml")
    r = bc(fleet, "analyze", str(folder), "--claims", claims, "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["baseline"], doc["candidate"]) == ("pte", "block")
    assert doc["design"]["pte"]["boots"] == 2 and doc["design"]["block"]["boots"] == 2
    pred = {c["id"]: c.get("prediction") for c in doc["claims"]}["boot-memory-total"]
    # the recorded trees are 2 GiB arm64 guests of Debian 12's 6.1 ("Memory: .../2097152K available"): 6.1's
    # rules (kernel image alias in both arms) give 4048 kB, measured on them 4052 (tests/model/test_releases.py)
    assert pred["simulated"] and pred["ram_bytes"] == 2 << 30
    assert (pred["release"], pred["saving_kb"]) == ("6.1", 4048.0)
    assert not any("boot method" in w for w in doc["checks"])
    # a boot started another way (here: said to be cold) is flagged
    rec = next(folder.glob("boots/h1/000-pte/boot.json"))
    rec.write_text(rec.read_text().replace('"boot_method": "kexec"', '"boot_method": "cold"'))
    r = bc(fleet, "analyze", str(folder), "--claims", claims)
    assert r.returncode == 0, r.stderr
    assert "boot method differs between boots (pte: cold 1, kexec 1; block: kexec 2)" in " ".join(r.stdout.split())
    assert "model pagetables (SIMULATED" in r.stdout


def test_leftovers_of_a_killed_controller_are_reaped(tmp_path):
    """What a killed controller's round left running is found by its environment marker and killed."""
    from benchctl.campaign.playbook import MARKER

    env = {**os.environ, MARKER: "c-test-reap"}
    child = subprocess.Popen(["sleep", "60"], env=env, start_new_session=True)
    other = subprocess.Popen(["sleep", "60"], env={**os.environ, MARKER: "another-campaign"}, start_new_session=True)
    try:
        said: list[str] = []
        reap_leftovers("c-test-reap", said.append)
        assert child.wait(timeout=10) == -signal.SIGKILL
        assert other.poll() is None and said and "killed 1 process" in said[0]
    finally:
        for p in (child, other):
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)


def test_playbook_runs_unchanged_by_hand(fleet, tmp_path):
    folder = plan(fleet, tmp_path, ["h1"], boots=1)
    before = fleet.hosts["h1"].boot_id()
    env = fleet.env()
    env.pop("ANSIBLE_CONFIG", None)
    r = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "campaign.yml", "-e", "boot=1"],
        cwd=folder,
        capture_output=True,
        text=True,
        env=env,
        timeout=CLI_DEADLINE_S,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 0, r.stdout[-3000:]
    assert fleet.hosts["h1"].boot_id() != before
    archives = list(folder.glob("incoming/h1/boot-001/boot-001.*.tar.gz"))
    assert len(archives) == 1
    assert (fleet.hosts["h1"].root / "proc/cmdline").read_text().split()[-1] == "rodata=on"  # boot 1 = block


def test_controller_disk_full(fleet, tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "benchctl-test", str(mnt)], check=True, timeout=20)
    try:
        folder = plan(fleet, mnt, ["h1"], boots=1)
        (mnt / "filler").write_bytes(b"\0" * (3 << 20))
        before = (folder / "plan.json").read_text()
        r = bc(fleet, "campaign", "run", str(folder), "--min-free", "2M")
        assert r.returncode == 5, r.stdout + r.stderr
        line = one_error_line(r)
        assert "controller disk" in line and "free space" in line
        assert (folder / "plan.json").read_text() == before and not (folder / "progress.json").exists()
        before_id = fleet.hosts["h1"].boot_id()
        assert fleet.hosts["h1"].boot_id() == before_id  # nothing was rebooted
    finally:
        subprocess.run(["umount", str(mnt)], check=True, timeout=20)


def test_malformed_inventory(fleet, tmp_path):
    bad = tmp_path / "bad.ini"
    bad.write_text("[lab\nh1 ansible_host=10.77.0.2\n")
    r = bc(fleet, "campaign", "plan", *ARMS, "--hosts", str(bad), *QUICK, "-o", str(tmp_path / "c"))
    assert r.returncode == 3
    line = one_error_line(r)
    assert str(bad) in line and "not an Ansible inventory" in line
    assert not (tmp_path / "c").exists()


def test_plan_edited_into_nonsense(fleet, tmp_path):
    folder = plan(fleet, tmp_path, ["h1"], boots=1)
    path = folder / "plan.json"
    good = json.loads(path.read_text())
    for edit, words in [
        (lambda p: p["hosts"]["h1"][1].update(arm="purple"), "hosts.h1[1].arm: 'purple' is not an arm"),
        (lambda p: p.update(boot_method="prayer"), "boot_method: 'prayer' is not one of"),
        (lambda p: p["timeouts"].update(reboot_s=-5), "timeouts.reboot_s: -5 is not a positive"),
        (lambda p: p["arms"].pop("block"), "candidate: 'block' is not an arm of this plan"),
    ]:
        doc = json.loads(json.dumps(good))
        edit(doc)
        path.write_text(json.dumps(doc))
        for cmd in ("run", "status"):
            r = bc(fleet, "campaign", cmd, str(folder))
            assert r.returncode == 3, (cmd, r.stderr)
            line = one_error_line(r)
            assert words in line and "plan.json" in line, line
    path.write_text('{"format": "benchctl-campaign-plan/1", "arms": ')
    r = bc(fleet, "campaign", "status", str(folder))
    assert r.returncode == 3 and "not valid JSON" in one_error_line(r)


def test_fleet_cleans_up_when_a_test_fails(tmp_path):
    with pytest.raises(RuntimeError), Fleet(["x1"], base=tmp_path / "f") as f:
        assert f.hosts["x1"].sshd.poll() is None
        raise RuntimeError("a failing test")
    assert f.leftovers() == []


def test_until_decided_stops_on_the_exact_memory_claim(fleet, tmp_path):
    """--until-decided on MemTotal, exact for a kernel: decided after the 2 boots per arm its exact rule
    asks for, so 4 of the 8 planned boots; the plan records it, analyze says which intervals it used.

    The stand-in hosts' kexec swaps a recorded tree, not the kernel: boot-memory reads this machine's
    /proc/meminfo, the same MemTotal in both arms. The exact change is 0, so the verdict is
    not-reproduced, as decided as a confirmation would be."""
    claims = tmp_path / "memtotal.toml"
    claims.write_text(
        '[[claim]]\nid = "boot-memory-total"\nworkload = "boot-memory"\nmetric = "mem_total_kb"\n'
        'direction = "increase"\nvalue = 0.199\ntolerance = 0.05\n'
        '[[claim]]\nid = "memcached-ops"\nworkload = "memcached"\nmetric = "ops_per_sec"\n'
        'direction = "increase"\nvalue = 3.5\n'
    )
    folder = plan(fleet, tmp_path, ["h1"], boots=4)
    r = bc(fleet, "campaign", "run", str(folder), "--until-decided", "--claims", str(claims), timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = unwrap(r.stdout)
    assert "campaign: adaptive, at most 4 boots per arm (plan.json)" in lines, r.stdout
    # after the first pair the exact rule cannot apply yet (one boot a side): undecided, one more pair
    first = [ln for ln in lines if ln.startswith("claim boot-memory-total:")]
    assert first[0].startswith("claim boot-memory-total: inconclusive after 1 pair(s)"), r.stdout
    assert first[-1].startswith("claim boot-memory-total: not-reproduced [+0, +0] % after 2 pair(s); decided")
    assert len(first) == 2, r.stdout
    ops = [ln for ln in lines if ln.startswith("claim memcached-ops:")]  # the campaign does not run memcached
    left_out = "not in this campaign's data: left out of the stopping rule"
    assert ops and all(ln.endswith(left_out) for ln in ops), r.stdout
    assert any(ln.startswith("campaign: every claim decided after 4 boots (adaptive") for ln in lines), r.stdout
    assert status(fleet, folder)["boots_done"] == 4 and len(boot_records(folder)) == 4
    doc = json.loads((folder / "plan.json").read_text())
    assert doc["adaptive"]["max_boots"] == 4 and doc["adaptive"]["claims"] == str(claims)
    books = json.loads((folder / "progress.json").read_text())["adaptive"]
    assert books["decided"] and books["boots_done"] == 4
    text = bc(fleet, "campaign", "status", str(folder)).stdout
    assert "adaptive: every claim decided" in text and "boot-memory-total: not-reproduced after 2 pair(s)" in text
    assert "memcached-ops: not-judged after 0 pair(s)" in text
    # resumed: nothing left to decide, no boot
    r = bc(fleet, "campaign", "run", str(folder))
    assert r.returncode == 0 and "round" not in r.stdout, r.stdout
    r = bc(fleet, "analyze", str(folder), "--format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    claim, ops_claim = out["claims"]
    assert ops_claim["verdict"] == "not-judged"
    assert claim["verdict"] == "not-reproduced" and claim["sequential"]["decided"]
    assert claim["ci_pct"][0] == claim["ci_pct"][1] and claim["exact"]
    assert claim["warnings"][0].startswith("adaptive campaign: an exact metric is decided by its exact rule")
    assert any(n.startswith("adaptive campaign (plan.json)") for n in out["notes"])
