"""The change itself, measured: Debian's 6.18 on a CPU the kernel trusts, rebooted by Ansible.

The guest is what a lab host looks like to `benchctl campaign`: a Debian
trixie arm64 tree (tests/vm/arm64_guest.py: the newest 6.17.x and 6.18.x
from trixie-backports, python3, kexec-tools, sshd) shared read-only over 9p,
a small initramfs per kernel (/boot/initrd.img-KVER: static busybox, the
virtio/9p/net modules, sshd in a chroot), sshd on a 127.0.0.1 port that
qemu forwards, and this checkout's benchctl as /repo.

Two designs, each ABAB, every boot verified (release, command line, MIDR,
BBML2 line, linear map seen in /proc/kcore) before boot-memory runs:

- same-kernel: the newest 6.18.x both arms; block = AmpereOne MIDR (the
  kernel trusts it: BBML2_NOABORT, block-mapped linear map), pte = Neoverse
  N1 (PTE-mapped). The CPU identity cannot change across kexec, so every
  boot of both arms is a cold boot by tests/vm/boot_controller.py (the
  `command` boot method): no cold-vs-kexec confound.
- before-after: the newest 6.17.x (before) vs 6.18.x (after) on the
  AmpereOne MIDR, by kexec from one cold boot. The arms differ in
  everything between the two releases, not just the change; analyze says so.
- three-arms: same-kernel plus a third arm, noalias: the AmpereOne MIDR with
  rodata=noalias (block-mapped without alias protection: the arm of the
  "on par with rodata=on" claim); a campaign of three arms, ABCABC.

    python3 tests/vm/arm64_campaign.py demo [--design same-kernel|before-after|three-arms|both] [--boots N]
        [--mem-mb 1024,2048,4096,8192]     # one campaign per guest RAM size: the scaling claim

prints every boot (id, arm, release, MIDR, linear map and its source,
MemTotal, boot method) and analyze's boot-memory verdicts with the
prediction of `benchctl model pagetables` beside them.

Every wait has a deadline (tests/support/deadline.py, boot_controller.py); qemu runs
under a lifetime cap and is stopped on the way out.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import arm64_guest  # noqa: E402
import boot_controller  # noqa: E402
import deadline  # noqa: E402  (tests/support/deadline.py)
from arm64_env import initramfs  # noqa: E402
from campaign_fleet import kill_control_masters  # noqa: E402
from harness import REPO  # noqa: E402

from benchctl.analyze.report.common import verdict_word  # noqa: E402

PRELOAD = ["virtio_pci", "9pnet_virtio", "9p", "virtio_net"]
BASE_CMDLINE = arm64_guest.BASE_CMDLINE
CONTROLLER = Path(__file__).parent / "boot_controller.py"
MIDR = {"ampereone": "0xc00fac30", "neoverse-n1": "0x414fd0c1"}
GUEST_LIFETIME_S = 1800  # any one qemu process (boot_controller's cap)
REBOOT_TIMEOUT_S = 300
DESIGNS = ("same-kernel", "before-after", "three-arms")

INIT = (
    r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
fail() { echo "MARK fail $*"; echo o > /proc/sysrq-trigger; sleep 5; poweroff -f; }
echo "MARK init $(cut -d' ' -f1 /proc/uptime)"
hostname benchctl-arm64
KVER=$(uname -r)
while read -r m; do insmod "/lib/modules/$KVER/$m" || echo "MARK insmod-failed $m"; done < /preload.list
R=/newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose root $R || fail root
mount -t proc proc $R/proc || fail proc
mount -t sysfs sys $R/sys || fail sys
mount -t devtmpfs dev $R/dev || fail dev
mkdir -p $R/dev/pts; mount -t devpts devpts $R/dev/pts
mount -t tmpfs -o mode=0755 tmpfs $R/run || fail run
mount -t tmpfs -o mode=1777 tmpfs $R/tmp || fail tmp
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose repo $R/repo || fail repo
"""
    + arm64_guest.MODPROBE_HELPER
    + r"""ip link set lo up; ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2
mkdir -p $R/run/sshd $R/run/benchctl
chroot $R /usr/sbin/sshd -E /run/sshd.log || fail sshd
echo "MARK up $(cut -d' ' -f1 /proc/uptime) $(cat /proc/sys/kernel/random/boot_id) $(cat /proc/cmdline)"
while true; do sleep 3600; done
"""
)

SSHD_CONFIG = """\
Port 22
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile /run/sshd.pid
Subsystem sftp /usr/lib/openssh/sftp-server
"""


@dataclass
class Guest:
    root: Path
    kernels: dict[str, str]  # side ("with", "without") -> release
    key: Path
    known_hosts: Path
    state: Path  # boot_controller's folder
    port: int = 0

    @property
    def console_logs(self) -> list[Path]:
        return sorted(self.state.glob("arm64-*.console.log"))


def _run(argv: list[str], timeout: float, **kw) -> subprocess.CompletedProcess:
    return deadline.run(argv, timeout=timeout, check=True, **kw)


def build(work: Path) -> Guest:
    """The trixie tree (arm64_guest, cached), sshd set up in it, an initramfs per kernel as
    /boot/initrd.img-KVER (Debian's name, so `--arm LABEL=KVER:...` needs nothing special)."""
    doc = arm64_guest.build_root(work)
    root = doc["root"]
    for d in ("root/.ssh", "etc/ssh", "run", "tmp", "repo"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n")
    (root / "etc/group").write_text("root:x:0:\nnogroup:x:65534:\n")
    (root / "etc/shadow").write_text("root:*:19000:0:99999:7:::\nsshd:*:19000:0:99999:7:::\n")
    (root / "etc/hostname").write_text("benchctl-arm64\n")
    (root / "etc/ssh/sshd_config").write_text(SSHD_CONFIG)
    if not (root / "etc/ssh/ssh_host_ed25519_key").exists():
        _run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "etc/ssh/ssh_host_ed25519_key")],
            timeout=60,
        )
    key = work / "id_ed25519"
    if not key.exists():
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], timeout=60)
    (root / "root/.ssh/authorized_keys").write_text(key.with_suffix(".pub").read_text())
    for kver in doc["kernels"].values():
        initrd = root / "boot" / f"initrd.img-{kver}"
        stamp = work / f"campaign-initrd-{kver}.init"
        if not initrd.exists() or not stamp.exists() or stamp.read_text() != INIT:
            initrd.write_bytes(initramfs(root, kver, PRELOAD, INIT, work / "initramfs"))
            stamp.write_text(INIT)
    return Guest(root=root, kernels=doc["kernels"], key=key, known_hosts=work / "known_hosts", state=work / "state")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def controller_argv(guest: Guest, *args: str) -> list[str]:
    return [sys.executable, str(CONTROLLER), "--state", str(guest.state), *args]


def start(
    guest: Guest, kver: str, identity: str, cmdline: str = BASE_CMDLINE, mem_mb: int = arm64_guest.MEM_MB
) -> Guest:
    """Set the guest up with boot_controller and cold-boot it once (the campaign's first boot
    command, or kexec, takes it from there)."""
    guest.state.mkdir(parents=True, exist_ok=True)
    guest.port = _free_port()
    _run(
        controller_argv(
            guest,
            "setup",
            "--host",
            "arm64",
            "--root",
            str(guest.root),
            "--repo",
            str(REPO),
            "--port",
            str(guest.port),
            "--lifetime",
            str(GUEST_LIFETIME_S),
            "--mem-mb",
            str(mem_mb),
        ),
        timeout=60,
    )
    boot = controller_argv(
        guest,
        "boot",
        "--host",
        "arm64",
        "--kernel",
        f"/boot/vmlinuz-{kver}",
        "--initrd",
        f"/boot/initrd.img-{kver}",
        "--cmdline",
        cmdline,
        "--midr",
        MIDR[identity],
    )
    r = deadline.run(boot, timeout=boot_controller.UP_TIMEOUT_S + 60, phase="cold boot", text=True)
    if r.returncode != 0:
        raise deadline.Failed(f"cold boot failed: {r.stderr.strip()}")
    pub = (guest.root / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()
    guest.known_hosts.write_text(f"[127.0.0.1]:{guest.port} {pub[0]} {pub[1]}\n")
    return guest


def stop(guest: Guest) -> None:
    if (guest.state / "arm64.json").exists():
        deadline.run(controller_argv(guest, "stop", "--host", "arm64"), timeout=60)


def ssh(guest: Guest, command: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return deadline.run(
        [
            "ssh",
            "-p",
            str(guest.port),
            "-i",
            str(guest.key),
            "-o",
            f"UserKnownHostsFile={guest.known_hosts}",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=10",
            "root@127.0.0.1",
            command,
        ],
        timeout=timeout,
        phase=f"ssh {command[:40]}",
        text=True,
    )


def inventory(guest: Guest, path: Path) -> Path:
    """The guest as one host of an INI inventory: only the variables a real host would need (benchctl
    from /repo, run folders on the guest's tmpfs, kexec -i, and a kexec -e that lets the ssh session
    end first: Ansible runs the reboot command on a tty, whose hangup kills a background job unless
    the shell ignores SIGHUP before it forks -- nohup inside the job races with the hangup)."""

    def q(v: object) -> str:
        return "'" + json.dumps(v, separators=(",", ":")) + "'"

    v = {
        "ansible_host": "127.0.0.1",
        "ansible_port": guest.port,
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(guest.key),
        "ansible_ssh_common_args": f"'-o UserKnownHostsFile={guest.known_hosts}'",
        "ansible_python_interpreter": "/usr/bin/python3",
        "ansible_remote_tmp": "/tmp/.ansible",
        "benchctl_command": q(["python3", "-m", "benchctl"]),
        "benchctl_environment": q(
            {
                "PYTHONPATH": "/repo",
                "BENCHCTL_STATE_DIR": "/run/benchctl",
                "HOME": "/tmp",
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        ),
        "benchctl_remote_dir": "/tmp/benchctl-campaign",
        "benchctl_kexec_args": q(["-i"]),
        "benchctl_kexec_exec": '"/bin/sh -c \\"trap \'\' HUP; (sleep 1; kexec -e) </dev/null >/dev/null 2>&1 &\\""',
    }
    path.write_text("[lab]\narm64 " + " ".join(f"{k}={val}" for k, val in v.items()) + "\n")
    return path


def benchctl(*args: str, timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    venv = REPO / ".venv" / "bin" / "python"
    py = str(venv) if venv.exists() else sys.executable
    return deadline.run(
        [py, "-m", "benchctl", *args],
        timeout=timeout,
        phase=f"benchctl {args[0]} {args[1]}",
        env=env,
        cwd=REPO,
        text=True,
    )


def design(guest: Guest, name: str) -> dict:
    """The arms, expectations, boot method and first cold boot of one design."""
    k18, k17 = guest.kernels["with"], guest.kernels["without"]
    source = ["--expect", "{a}:linear_map_source=kcore"]
    if name in ("same-kernel", "three-arms"):
        boot_command = controller_argv(
            guest,
            "boot",
            "--host",
            "{host}",
            "--kernel",
            "{kernel}",
            "--initrd",
            "{initrd}",
            "--cmdline",
            "{cmdline}",
            "--midr",
            "{midr}",
        )
        arms = {"pte": (k18, "neoverse-n1", "no", ""), "block": (k18, "ampereone", "yes", "")}
        if name == "three-arms":  # the "on par with rodata=on" arm: block-mapped without alias protection
            arms["noalias"] = (k18, "ampereone", "yes", " rodata=noalias")
        method = ["--boot-method", "command", "--boot-command", shlex.join(boot_command)]
        first = (k18, "neoverse-n1")
    else:
        arms = {"before": (k17, "ampereone", "no", ""), "after": (k18, "ampereone", "yes", "")}
        method = ["--boot-method", "kexec"]
        first = (k18, "ampereone")
    args: list[str] = []
    for label, (kver, identity, bbml2, extra) in arms.items():
        args += ["--arm", f"{label}={kver}:{BASE_CMDLINE}{extra}"]
        args += ["--expect", f"{label}:midr={MIDR[identity]}", "--expect", f"{label}:bbml2={bbml2}"]
        args += [w.format(a=label) for w in source]
    if name == "before-after":
        args += ["--expect", "before:linear_map=pte", "--expect", "after:linear_map=block"]
    if name == "three-arms":
        args += ["--expect", "noalias:linear_map=block"]
    return {"name": name, "args": args + method, "first": first, "arms": arms}


SUITE_WORKLOADS = ("boot-memory", "memcached", "fio-dmcrypt", "seqread-xfs", "tlb-probe")
# What every boot runs: boot-memory as claimed (the default), or the whole quick bbml2 suite with
# perf (issue 18) in a guest with the memory its quick presets need (arm64_suite.MEM_MB).
WORKLOADS = {
    "boot-memory": (["--workload", "boot-memory", "--preset", "claim", "--no-perf"], 300, arm64_guest.MEM_MB),
    # the bbml2 suite's four workloads and tlb-probe (not in the suite: it calibrates the model)
    "suite": (
        [*(a for w in SUITE_WORKLOADS for a in ("--workload", w)), "--preset", "quick"],
        1800,
        4096,
    ),
}


def campaign(
    work: Path,
    out: Path,
    design_name: str = "same-kernel",
    boots: int = 3,
    workloads: str = "boot-memory",
    mem_mb: int | None = None,
    until: Path | None = None,
) -> dict:
    """Build, cold-boot, plan, run one design; returns timings and the campaign folder (the guest
    is stopped on the way out). `mem_mb` overrides the workloads' guest RAM (a scaling series);
    `until` (a claims file) runs the campaign adaptively: `campaign run --until-decided`."""
    what, suite_timeout, default_mb = WORKLOADS[workloads]
    mem_mb = mem_mb or default_mb
    t0 = time.monotonic()
    guest = build(work)
    t_build = time.monotonic() - t0
    d = design(guest, design_name)
    out.mkdir(parents=True, exist_ok=True)
    r = None
    try:
        start(guest, *d["first"], mem_mb=mem_mb)
        t_boot = time.monotonic() - t0 - t_build
        cold = ssh(guest, "cd /repo && PYTHONPATH=/repo HOME=/tmp python3 -m benchctl env --format json")
        (out / "cold-env.json").write_text(cold.stdout)
        inv = inventory(guest, out / "lab.ini")
        folder = out / "campaign"
        env = {**os.environ, "ANSIBLE_SSH_CONTROL_PATH_DIR": str(out / "cp")}
        r = benchctl(
            "campaign",
            "plan",
            *d["args"],
            "--hosts",
            str(inv),
            "--boots",
            str(boots),
            "--order",
            "abab",
            *what,
            "--reboot-timeout",
            str(REBOOT_TIMEOUT_S),
            "--suite-timeout",
            str(suite_timeout),
            "--connect-timeout",
            "60",
            "-o",
            str(folder),
            timeout=120,
            env=env,
        )
        if r.returncode != 0:
            raise deadline.Failed(f"campaign plan failed: {r.stderr}")
        t_run0 = time.monotonic()
        budget = 2 * boots * (REBOOT_TIMEOUT_S + suite_timeout) + 120
        adaptive = ["--until-decided", "--max-boots", str(boots), "--claims", str(until)] if until else []
        r = benchctl("campaign", "run", str(folder), *adaptive, timeout=budget, env=env)
        t_run = time.monotonic() - t_run0
        (out / "campaign-run.txt").write_text(r.stdout + r.stderr)
        if r.returncode != 0:
            tail = "\n".join((guest.console_logs[-1].read_text(errors="replace").splitlines() or [""])[-30:])
            raise deadline.Failed(f"benchctl campaign run exited {r.returncode}:\n{r.stdout}{r.stderr}\n{tail}")
    finally:
        stop(guest)
        kill_control_masters(out / "cp")
        for log_file in guest.console_logs:
            shutil.copy2(log_file, out / log_file.name)
    return {
        "design": design_name,
        "folder": str(folder),
        "out": str(out),
        "kernels": guest.kernels,
        "build_s": round(t_build, 1),
        "cold_boot_s": round(t_boot, 1),
        "campaign_s": round(t_run, 1),
        "total_s": round(time.monotonic() - t0, 1),
        "run_output": r.stdout if r else "",
        "ups": up_marks(out),
    }


def claims_subset(out: Path, ids: list[str]) -> Path:
    """OUT/claims.toml: these claims of the bundled bbml2 file, as published (the [[claim]] tables
    copied, not rewritten), for an adaptive campaign that decides on them alone."""
    text = (REPO / "analysis/claims/bbml2.toml").read_text()
    tables = [t for t in text.split("[[claim]]")[1:] if any(f'id = "{i}"' in t for i in ids)]
    if len(tables) != len(ids):
        raise deadline.Failed(f"--until-decided {','.join(ids)}: not all are bbml2 claim ids")
    out.mkdir(parents=True, exist_ok=True)
    path = out / "claims.toml"
    path.write_text(
        'format = "benchctl-claims/1"\n\n'
        + "".join("[[claim]]" + t.split("\n\n# ")[0].rstrip() + "\n\n" for t in tables)
    )
    return path


def up_marks(out: Path) -> list[str]:
    """Every 'MARK up' line the guest printed (one per boot: cold or kexec'd), in order."""
    marks = []
    for log_file in sorted(out.glob("arm64-*.console.log")):
        marks += [
            ln.split("MARK up ", 1)[1] for ln in log_file.read_text(errors="replace").splitlines() if "MARK up " in ln
        ]
    return marks


def report(folder: Path) -> str:
    """Each boot as verified on the host before it was measured."""
    lines = []
    for rec in sorted(folder.glob("boots/*/*/boot.json")):
        b = json.loads(rec.read_text())
        v = b["verified"]
        midr = v.get("midr")
        if isinstance(midr, list):
            midr = ",".join(sorted({m.get("value", "?") if isinstance(m, dict) else str(m) for m in midr}))
        lines.append(
            f"boot {b['index'] + 1}: {b['boot_id']}  arm {b['arm']:<6} {v['release']}  MIDR {midr}  "
            f"BBML2 line {v.get('bbml2_dmesg')}  linear map {v['linear_map']} ({v['linear_map_source']})  "
            f"MemTotal {v['mem_total_kb']} kB  via {b['boot_method']}"
        )
    return "\n".join(lines)


def analyze(folder: Path) -> tuple[dict, str]:
    """`benchctl analyze DIR` on the campaign folder: (json result, text report); arms from the plan."""
    claims = str(REPO / "analysis/claims/bbml2.toml")
    r = benchctl("analyze", str(folder), "--claims", claims, "--seed", "1", "--format", "json", timeout=600)
    if r.returncode != 0:
        raise deadline.Failed(f"benchctl analyze {folder} exited {r.returncode}: {r.stderr}")
    t = benchctl("analyze", str(folder), "--claims", claims, "--seed", "1", timeout=600)
    return json.loads(r.stdout), t.stdout


def verdict_lines(doc: dict) -> str:
    """Every claim the campaign measured: the change, its interval (exact for MemTotal), the verdict;
    the model's page-table prediction beside the boot-memory ones."""
    out = []
    for c in doc["claims"]:
        why = (c["warnings"][0].removeprefix("not judged: ") if c["verdict"] == "not-judged" else "")[:160]
        if c.get("change_pct") is None:
            if why.startswith("no "):  # a workload this campaign did not run
                continue
            out.append(f"{c['id']} ({c['metric']}): verdict {verdict_word(c)}: {why}")
            continue
        lo, hi = c["ci_pct"] or (float("nan"), float("nan"))
        ex = c.get("exact")
        interval = (
            f"exact: {ex['candidate'] - ex['baseline']:+.0f} kB ({ex['baseline']:.0f} -> {ex['candidate']:.0f} kB, "
            "the same value on every boot of an arm)"
            if ex
            else f"[{lo:+.3f}, {hi:+.3f}]"
        )
        line = (
            f"{c['id']} ({c['metric']}): measured {c['change_pct']:+.3f} % {interval}, "
            f"claimed {c['claimed_text']}, verdict {verdict_word(c)}" + (f": {why.split(': ', 1)[0]}" if why else "")
        )
        if c["workload"] == "boot-memory":
            p = c.get("prediction") or {}
            pred = (
                f"{p['change_pct']:+.3f} % ({p['saving_kb']:+.0f} kB of PTE tables for {p['ram_bytes'] >> 20} MiB RAM)"
                if p.get("change_pct") is not None
                else p.get("unavailable")
            )
            line += f"; model pagetables (SIMULATED): {pred}"
        out.append(line)
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=["demo", "build"])
    ap.add_argument("--work", type=Path, default=None, help="the guest cache (default: arm64_guest's)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--design", choices=[*DESIGNS, "both"], default="both", help="both: the first two")
    ap.add_argument("--boots", type=int, default=3, help="boots per arm")
    ap.add_argument("--workloads", choices=list(WORKLOADS), default="boot-memory", help="what every boot runs")
    ap.add_argument(
        "--mem-mb",
        default="",
        help="guest RAM in MiB, or a comma list (1024,2048,4096,8192): one campaign per size, "
        "in DESIGN-MMMMm folders (the scaling claim's series)",
    )
    ap.add_argument(
        "--until-decided",
        metavar="ID[,ID]",
        default="",
        help="run adaptively (campaign run --until-decided) on these bbml2 claims; --boots is the maximum per arm",
    )
    a = ap.parse_args()
    work = a.work or arm64_guest.default_work()
    if a.action == "build":
        g = build(work)
        print(json.dumps({"root": str(g.root), "kernels": g.kernels}))
        return 0
    base = (a.out or REPO / "results" / "campaign-demo" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())).resolve()
    sizes = [int(x) for x in a.mem_mb.split(",") if x.strip()] or [None]
    runs = [(name, mb) for name in (DESIGNS[:2] if a.design == "both" else [a.design]) for mb in sizes]
    for name, mb in runs:
        out = base / (f"{name}-{mb}m" if len(sizes) > 1 else name)
        until = claims_subset(out, a.until_decided.split(",")) if a.until_decided else None
        res = campaign(work, out, name, a.boots, a.workloads, mb, until)
        folder = Path(res["folder"])
        print(f"== design {name}: kernels {res['kernels']}")
        print(res["run_output"], end="")
        print(report(folder))
        doc, text = analyze(folder)
        (out / "report.txt").write_text(text)
        for pair in doc["pairs"] if doc.get("multi") else [doc]:
            if doc.get("multi"):
                print(f"-- {pair['candidate']} vs {pair['baseline']} ({doc['correction']})")
            print(verdict_lines(pair))
            for w in pair["checks"]:
                print(f"check: {w}")
        print(
            f"timings: build {res['build_s']} s, cold boot {res['cold_boot_s']} s, campaign {res['campaign_s']} s, "
            f"total {res['total_s']} s; full report: {out / 'report.txt'}"
        )
        print(f"campaign folder: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
