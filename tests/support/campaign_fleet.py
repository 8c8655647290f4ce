"""Stand-in campaign hosts on this machine: a network namespace each, a real sshd, a recorded arm64 tree.

Each host gets its own network namespace joined to this one by a veth pair
(a /30 of 10.77.x.y: only this machine can reach it), a real OpenSSH server
listening on the namespace's side only, a private state folder and a copy of
a /proc+/sys tree recorded in a real arm64 6.1 guest (tests/fixtures/arm64)
as its "root". Ansible reaches it over ssh like any host; benchctl on it
reads the tree (inventory variable benchctl_root -> --root) and its "kexec"
is tests/support/campaign_fake_kexec.py, which swaps the tree and the boot id.

Fleet.stop() removes every namespace, veth and sshd it made, and the ssh
control masters Ansible kept open to them; it runs from a fixture finaliser,
so it runs when a test fails too. A fleet left by a killed test process is
swept by the next one (names carry the owner's pid).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FAKE_KEXEC = Path(__file__).resolve().parent / "campaign_fake_kexec.py"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "arm64"
PREFIX = "bcc"
WAIT_S = 10.0
_SLOTS = itertools.count()  # host slots of this process: namespace names and /30s never repeat

SSHD_CONFIG = """\
ListenAddress {addr}
Port 22
HostKey {hostkey}
AuthorizedKeysFile {pubkey}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile {pidfile}
Subsystem sftp internal-sftp
"""


def skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "campaign fleet: needs root (network namespaces, sshd)"
    for tool in ("ip", "ssh", "ssh-keygen", "/usr/sbin/sshd"):
        if not shutil.which(tool):
            return f"campaign fleet: {tool} is not installed (scripts/setup.sh installs openssh-server/client)"
    if not (Path(sys.executable).parent / "ansible-playbook").exists() and not shutil.which("ansible-playbook"):
        return "campaign fleet: ansible-playbook is not installed (pip install -e '.[campaign]')"
    return None


def _run(argv: list[str], check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=timeout)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def sweep_stale() -> list[str]:
    """Namespaces and veths of fleets whose test process is gone."""
    removed = []
    for line in _run(["ip", "netns", "list"], check=False).stdout.splitlines():
        m = re.match(rf"^({PREFIX}-(\d+)-\d+)\b", line)
        if m and not _alive(int(m[2])):
            _kill_netns(m[1])
            removed.append(m[1])
    for line in _run(["ip", "-o", "link", "show"], check=False).stdout.splitlines():
        m = re.match(rf"^\d+: ({PREFIX}(\d+)h\d+)[@:]", line)
        if m and not _alive(int(m[2])):
            _run(["ip", "link", "del", m[1]], check=False)
            removed.append(m[1])
    for d in Path(tempfile.gettempdir()).glob(f"{PREFIX}-*-*-*"):
        m = re.match(rf"^{PREFIX}-(?:fleet|cp)-(\d+)-", d.name)
        if m and d.is_dir() and not _alive(int(m[1])):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(str(d))
    return removed


def kill_control_masters(cp_dir: Path) -> None:
    """ssh ControlPersist masters Ansible left with sockets in cp_dir (they would linger 60 s)."""
    needle = str(cp_dir).encode()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if needle in (d / "cmdline").read_bytes():
                os.kill(int(d.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue


def _kill_netns(ns: str) -> None:
    pids = _run(["ip", "netns", "pids", ns], check=False).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and _run(["ip", "netns", "pids", ns], check=False).stdout.split():
        time.sleep(0.05)
    _run(["ip", "netns", "del", ns], check=False)


def _ini(value: object) -> str:
    """A list or dict as one INI inventory value (Ansible literal_evals it; no spaces, single-quoted)."""
    return "'" + json.dumps(value, separators=(",", ":")) + "'"


@dataclass
class Host:
    name: str
    netns: str
    veth: str
    addr: str
    dir: Path
    sshd: subprocess.Popen | None = None

    @property
    def root(self) -> Path:
        return self.dir / "root"

    def boot_id(self) -> str:
        return (self.root / "proc/sys/kernel/random/boot_id").read_text().strip()

    def reboots(self) -> int:
        log = self.dir / "boots.log"
        return len(log.read_text().splitlines()) if log.exists() else 0

    def behave(self, **behaviour: object) -> None:
        """Misbehave from now on (die_at_boot counts the reboots after this call)."""
        (self.dir / "behaviour.json").write_text(json.dumps({"base": self.reboots(), **behaviour}))


class Fleet:
    """N stand-in hosts; use as a context manager (or call stop())."""

    def __init__(self, names: list[str], base: Path | None = None):
        sweep_stale()
        self.own_base = base is None  # a folder of our own is removed by stop()
        self.pid = os.getpid()
        # The pid in the names lets sweep_stale() remove what a SIGKILLed test process left.
        self.base = Path(base or tempfile.mkdtemp(prefix=f"{PREFIX}-fleet-{self.pid}-"))
        self.base.mkdir(parents=True, exist_ok=True)
        self.cp_dir = Path(tempfile.mkdtemp(prefix=f"{PREFIX}-cp-{self.pid}-"))  # ssh control sockets: short path
        self.hosts: dict[str, Host] = {}
        self.key = self.base / "id_ed25519"
        self.hostkey = self.base / "ssh_host_ed25519_key"
        self.known_hosts = self.base / "known_hosts"
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.key)])
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.hostkey)])
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
        octet = self.pid % 200 + 20
        try:
            for name in names:
                i = next(_SLOTS)
                if i > 62:
                    raise AssertionError("campaign fleet: more than 63 stand-in hosts in one test process")
                self._add(i, name, f"10.77.{octet}.{4 * i + 2}", f"10.77.{octet}.{4 * i + 1}")
        except BaseException:
            self.stop()
            raise

    def _add(self, i: int, name: str, addr: str, peer: str) -> None:
        ns, veth = f"{PREFIX}-{self.pid}-{i}", f"{PREFIX}{self.pid}h{i}"
        hdir = self.base / name
        hdir.mkdir()
        host = Host(name, ns, veth, addr, hdir)
        self.hosts[name] = host
        _run(["ip", "netns", "add", ns])
        _run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
        _run(["ip", "addr", "add", f"{peer}/30", "dev", veth])
        _run(["ip", "link", "set", veth, "up"])
        _run(["ip", "-n", ns, "addr", "add", f"{addr}/30", "dev", "eth0"])
        _run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        _run(["ip", "-n", ns, "link", "set", "lo", "up"])
        (hdir / "host.json").write_text(json.dumps({"name": name, "netns": ns}))
        (hdir / "state").mkdir()
        (hdir / "remote").mkdir()
        subprocess.run(
            [
                sys.executable,
                str(FAKE_KEXEC),
                str(hdir),
                "-l",
                "/boot/vmlinuz-6.1.192",
                "--append=console=ttyAMA0 panic=-1",
            ],
            check=True,
            timeout=20,
        )
        subprocess.run([sys.executable, str(FAKE_KEXEC), str(hdir), "-e"], check=True, timeout=20)  # the "cold boot"
        self.start_sshd(name)
        pub = self.hostkey.with_suffix(".pub").read_text().split()
        with self.known_hosts.open("a") as f:
            f.write(f"{addr} {pub[0]} {pub[1]}\n")

    def start_sshd(self, name: str) -> None:
        host = self.hosts[name]
        conf = host.dir / "sshd_config"
        conf.write_text(
            SSHD_CONFIG.format(
                addr=host.addr, hostkey=self.hostkey, pubkey=self.key.with_suffix(".pub"), pidfile=host.dir / "sshd.pid"
            )
        )
        with open(host.dir / "sshd.log", "a") as log:
            host.sshd = subprocess.Popen(
                ["ip", "netns", "exec", host.netns, "/usr/sbin/sshd", "-D", "-e", "-f", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + WAIT_S
        while True:  # listening yet? (ssh-keyscan-free: a plain TCP connect from this namespace)
            r = _run(["ip", "netns", "exec", host.netns, "ss", "-Hltn", f"src {host.addr}:22"], check=False)
            if r.stdout.strip():
                return
            if host.sshd.poll() is not None or time.monotonic() > deadline:
                tail = (host.dir / "sshd.log").read_text(errors="replace").splitlines()[-40:]
                raise AssertionError(
                    f"sshd for {name} did not start listening within {WAIT_S} s "
                    f"(rc {host.sshd.poll()}); sshd.log:\n" + "\n".join(tail)
                )
            time.sleep(0.05)

    def inventory(self, path: Path, names: list[str] | None = None, extra: dict[str, dict] | None = None) -> Path:
        """An INI inventory, as a user would write one for real hosts, plus the stand-in variables."""
        lines = ["[lab]"]
        for name in names or list(self.hosts):
            h = self.hosts.get(name)
            addr = h.addr if h else "10.77.255.254"
            hdir = h.dir if h else self.base / name
            v = {
                "ansible_host": addr,
                "ansible_user": "root",
                "ansible_ssh_private_key_file": str(self.key),
                "ansible_ssh_common_args": f"'-o UserKnownHostsFile={self.known_hosts} -o ConnectTimeout=3'",
                "ansible_python_interpreter": "/usr/bin/python3",
                "benchctl_root": str(hdir / "root"),
                "benchctl_command": _ini([sys.executable, "-m", "benchctl"]),
                "benchctl_environment": _ini({"BENCHCTL_STATE_DIR": str(hdir / "state"), "PYTHONPATH": str(REPO)}),
                "benchctl_remote_dir": str(hdir / "remote"),
                "benchctl_kexec": str(FAKE_KEXEC),
                "benchctl_kexec_args": _ini([str(hdir)]),
                "benchctl_kexec_exec": f"'{FAKE_KEXEC} {hdir} -e'",
            }
            v.update((extra or {}).get(name, {}))
            lines.append(name + " " + " ".join(f"{k}={val}" for k, val in v.items()))
        path.write_text("\n".join(lines) + "\n")
        return path

    def env(self) -> dict[str, str]:
        """Environment for the controller: ssh control sockets in this fleet's folder."""
        return {**os.environ, "ANSIBLE_SSH_CONTROL_PATH_DIR": str(self.cp_dir)}

    def stop(self) -> None:
        for host in self.hosts.values():
            if host.sshd is not None and host.sshd.poll() is None:
                try:
                    os.killpg(host.sshd.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    host.sshd.wait(timeout=WAIT_S)
                except subprocess.TimeoutExpired:
                    pass
            _kill_netns(host.netns)
            _run(["ip", "link", "del", host.veth], check=False)
        kill_control_masters(self.cp_dir)
        shutil.rmtree(self.cp_dir, ignore_errors=True)
        if self.own_base:
            shutil.rmtree(self.base, ignore_errors=True)

    def leftovers(self) -> list[str]:
        """What stop() should have removed and did not (for the cleanup test)."""
        out = []
        nss = _run(["ip", "netns", "list"], check=False).stdout
        links = _run(["ip", "-o", "link", "show"], check=False).stdout
        for h in self.hosts.values():
            if re.search(rf"^{re.escape(h.netns)}\b", nss, re.MULTILINE):
                out.append(f"netns {h.netns}")
            if f" {h.veth}@" in links or f" {h.veth}:" in links:
                out.append(f"veth {h.veth}")
            if h.sshd is not None and h.sshd.poll() is None:
                out.append(f"sshd {h.sshd.pid}")
        return out

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
