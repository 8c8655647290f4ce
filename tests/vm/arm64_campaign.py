"""A real arm64 campaign: Debian's arm64 kernel under qemu (TCG), rebooted by kexec, driven by Ansible.

The guest is what a lab host looks like to `benchctl campaign`: Debian 12's
arm64 kernel, sshd on a 127.0.0.1 port forwarded by qemu's user network,
python3, kexec-tools, and this checkout's benchctl (shared read-only over 9p
as /repo). Its root filesystem is a Debian bookworm arm64 tree made with
`mmdebstrap --variant=extract` and shared read-only over 9p; a small
initramfs (static busybox, the virtio/9p/net modules) mounts it, brings up
eth0 and starts sshd in a chroot. The initramfs lives in the tree as
/boot/initrd.img-KVER, Debian's name, so `benchctl campaign plan --arm
pte=KVER:...` needs nothing special for it.

    python3 tests/vm/arm64_campaign.py demo [--work DIR]   # what `make campaign-demo` runs

builds (cached in the work dir: the tree, keys, initramfs), cold-boots the
guest, plans two arms -- pte = rodata=full (Debian 6.1's default: a
PTE-mapped linear map), block = rodata=on (block-mapped) -- 2 boots each in
ABAB order with real kexec reboots, runs `benchctl campaign run`, and prints
every boot's boot id, arm, rodata and linear-map state, then analyze's
boot-memory verdict with `benchctl model pagetables`' prediction.

Every wait has a deadline (tests/deadline.py); qemu is killed on the way out.
Standard library only (plus tests/deadline.py), like the other VM harnesses.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import deadline  # noqa: E402  (tests/deadline.py)
from arm64_env import MIRRORS, initramfs  # noqa: E402
from campaign_fleet import kill_control_masters  # noqa: E402
from harness import REPO, log  # noqa: E402

PACKAGES = [
    "linux-image-arm64",
    "kexec-tools",
    "python3",
    "python3-click",
    "python3-psutil",
    "openssh-server",
    "busybox-static",
    "kmod",
    "coreutils",
    "base-files",
]
PRELOAD = ["virtio_pci", "9pnet_virtio", "9p", "virtio_net"]
BASE_CMDLINE = "console=ttyAMA0 panic=-1 loglevel=3 nokaslr"
COLD_CMDLINE = BASE_CMDLINE + " rodata=full"
MEM_MB = 2048
QEMU_TIMEOUT_S = 1500  # the guest's whole life: cold boot + campaign
BUILD_TIMEOUT_S = 900

INIT = r"""#!/bin/busybox sh
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
ip link set lo up; ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2
mkdir -p $R/run/sshd $R/run/benchctl
chroot $R /usr/sbin/sshd -E /run/sshd.log || fail sshd
echo "MARK up $(cut -d' ' -f1 /proc/uptime) $(cat /proc/sys/kernel/random/boot_id) $(cat /proc/cmdline)"
while true; do sleep 3600; done
"""

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
    kver: str
    key: Path
    known_hosts: Path
    port: int = 0
    console: deadline.Console | None = None


def _run(argv: list[str], timeout: float, **kw) -> subprocess.CompletedProcess:
    return deadline.run(argv, timeout=timeout, check=True, **kw)


def build(work: Path) -> Guest:
    """The arm64 tree (cached), sshd set up in it, the initramfs as /boot/initrd.img-KVER."""
    work.mkdir(parents=True, exist_ok=True)
    root = work / "root"
    stamp = work / "root.packages"
    want = ",".join(PACKAGES)
    if not stamp.exists() or stamp.read_text() != want or not (root / "usr/sbin/sshd").exists():
        shutil.rmtree(root, ignore_errors=True)
        stamp.unlink(missing_ok=True)
        t0 = time.monotonic()
        log("mmdebstrap arm64 root (extract): " + want)
        _run(
            ["mmdebstrap", "--arch=arm64", "--variant=extract", f"--include={want}", "bookworm", str(root), *MIRRORS],
            timeout=BUILD_TIMEOUT_S,
        )
        stamp.write_text(want)
        log(f"root built in {time.monotonic() - t0:.0f} s")
    kver = sorted(p.name for p in (root / "lib/modules").iterdir())[-1]
    moddir = root / "lib/modules" / kver
    if not (moddir / "modules.dep").exists():
        _run(["depmod", "-b", str(root), kver], timeout=120)
    for d in ("proc", "sys", "dev", "run", "tmp", "repo", "root/.ssh", "etc/ssh"):
        (root / d).mkdir(parents=True, exist_ok=True)
    sh = root / "bin/sh"
    if not sh.exists() and not sh.is_symlink():
        sh.symlink_to("busybox")
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
    (root / "boot" / f"initrd.img-{kver}").write_bytes(initramfs(root, kver, PRELOAD, INIT, work / "initramfs"))
    return Guest(root=root, kver=kver, key=key, known_hosts=work / "known_hosts")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(guest: Guest, out: Path, timeout: float = QEMU_TIMEOUT_S) -> Guest:
    """Cold-boot the guest (rodata=full) and wait until its sshd is up; the console goes to out/console.log."""
    out.mkdir(parents=True, exist_ok=True)
    guest.port = _free_port()
    argv = [
        "qemu-system-aarch64",
        "-M",
        "virt,dtb-randomness=off",
        "-cpu",
        "neoverse-n1",
        "-smp",
        "2",
        "-m",
        str(MEM_MB),
        "-accel",
        "tcg,thread=single",
        "-nographic",
        "-no-reboot",
        "-kernel",
        str(guest.root / "boot" / f"vmlinuz-{guest.kver}"),
        "-initrd",
        str(guest.root / "boot" / f"initrd.img-{guest.kver}"),
        "-append",
        COLD_CMDLINE,
        "-virtfs",
        f"local,path={guest.root},mount_tag=root,security_model=none,readonly=on,multidevs=remap",
        "-virtfs",
        f"local,path={REPO},mount_tag=repo,security_model=none,readonly=on,multidevs=remap",
        "-netdev",
        f"user,id=n0,restrict=off,hostfwd=tcp:127.0.0.1:{guest.port}-:22",
        "-device",
        "virtio-net-pci,netdev=n0",
    ]
    guest.console = deadline.Console(
        argv, log=out / "console.log", timeout=timeout, name="arm64 guest", stdin=subprocess.DEVNULL
    )
    guest.console.expect(r"^MARK up ", timeout=240)
    pub = (guest.root / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()
    guest.known_hosts.write_text(f"[127.0.0.1]:{guest.port} {pub[0]} {pub[1]}\n")
    return guest


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


def stop(guest: Guest) -> None:
    if guest.console is not None:
        guest.console.close()


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


def campaign(work: Path, out: Path, boots: int = 2) -> dict:
    """Build, cold-boot, plan, run; returns timings and the campaign folder (the guest is stopped)."""
    t0 = time.monotonic()
    guest = build(work)
    t_build = time.monotonic() - t0
    try:
        start(guest, out)
        t_boot = time.monotonic() - t0 - t_build
        cold = ssh(guest, "cd /repo && PYTHONPATH=/repo HOME=/tmp python3 -m benchctl env --format json")
        (out / "cold-env.json").write_text(cold.stdout)
        inv = inventory(guest, out / "lab.ini")
        folder = out / "campaign"
        arms = [f"pte={guest.kver}:{BASE_CMDLINE} rodata=full", f"block={guest.kver}:{BASE_CMDLINE} rodata=on"]
        env = {**os.environ, "ANSIBLE_SSH_CONTROL_PATH_DIR": str(out / "cp")}
        r = benchctl(
            "campaign",
            "plan",
            "--arm",
            arms[0],
            "--arm",
            arms[1],
            "--hosts",
            str(inv),
            "--boots",
            str(boots),
            "--order",
            "abab",
            "--workload",
            "boot-memory",
            "--preset",
            "claim",
            "--no-perf",
            "--reboot-timeout",
            "180",
            "--suite-timeout",
            "300",
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
        r = benchctl("campaign", "run", str(folder), timeout=QEMU_TIMEOUT_S - 300, env=env)
        t_run = time.monotonic() - t_run0
        (out / "campaign-run.txt").write_text(r.stdout + r.stderr)
        if r.returncode != 0:
            guest.console.fail(f"benchctl campaign run exited {r.returncode}:\n{r.stdout}{r.stderr}")
    finally:
        stop(guest)
        kill_control_masters(out / "cp")
    return {
        "folder": str(folder),
        "out": str(out),
        "kver": guest.kver,
        "build_s": round(t_build, 1),
        "cold_boot_s": round(t_boot, 1),
        "campaign_s": round(t_run, 1),
        "total_s": round(time.monotonic() - t0, 1),
        "run_output": r.stdout,
        "marks": guest.console.marks if guest.console else [],
    }


def report(folder: Path) -> str:
    """Each boot's id, arm, rodata and linear-map state (as verified on the host before measuring)."""
    lines = []
    for rec in sorted(folder.glob("boots/*/*/boot.json")):
        b = json.loads(rec.read_text())
        v = b["verified"]
        lines.append(
            f"boot {b['index'] + 1}: {b['boot_id']}  arm {b['arm']:<5}  rodata {v['rodata']:<7}  "
            f"linear map {v['linear_map']} ({v['linear_map_source']})  MemTotal {v['mem_total_kb']} kB  "
            f"via {b['boot_method']}"
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
    """The boot-memory verdicts (MemFree, MemTotal) with the model's page-table prediction beside each."""
    out = []
    for c in doc["claims"]:
        if c["workload"] != "boot-memory":
            continue
        lo, hi = c["ci_pct"] or (float("nan"), float("nan"))
        interval = "exact (the same value on every boot of an arm)" if c.get("exact") else f"[{lo:+.3f}, {hi:+.3f}]"
        p = c.get("prediction") or {}
        pred = (
            f"{p['change_pct']:+.3f} % ({p['saving_kb']:+.0f} kB of PTE tables for {p['ram_bytes'] >> 20} MiB RAM)"
            if p.get("change_pct") is not None
            else p.get("unavailable")
        )
        out.append(
            f"{c['id']} ({c['metric']}): measured {c['change_pct']:+.3f} % {interval}, "
            f"claimed {c['claimed_text']}, verdict {c['verdict']}; model pagetables (SIMULATED): {pred}"
        )
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=["demo", "build"])
    ap.add_argument(
        "--work", type=Path, default=Path(os.environ.get("BENCHCTL_VM_WORK", "/var/tmp/benchctl-vm")) / "arm64-campaign"
    )
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    if a.action == "build":
        g = build(a.work)
        print(json.dumps({"root": str(g.root), "kver": g.kver}))
        return 0
    out = (a.out or REPO / "results" / "campaign-demo" / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())).resolve()
    res = campaign(a.work, out)
    folder = Path(res["folder"])
    print(res["run_output"], end="")
    print(report(folder))
    doc, text = analyze(folder)
    (out / "report.txt").write_text(text)
    print(verdict_lines(doc))
    print(
        f"timings: build {res['build_s']} s, cold boot {res['cold_boot_s']} s, campaign {res['campaign_s']} s, "
        f"total {res['total_s']} s; full report: {out / 'report.txt'}"
    )
    print(f"campaign folder: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
