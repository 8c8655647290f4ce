"""Shared machinery of the fault scenarios: scopes, running benchctl, decoys, forced clean-up.

Every scenario runs inside a Scope (tests/faults/probe.py) under a fresh
directory; `scope()` is a context manager whose exit removes whatever is
left there even when the scenario failed half-way (processes carrying the
scope token, mounts and loop devices under the root, decoys), so a failing
test never leaves the machine dirty either.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.faults import probe

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
TIMEOUT = 120  # no single benchctl invocation of a scenario may take longer


class ScenarioFailed(AssertionError):
    pass


def check(cond: object, msg: str) -> None:
    if not cond:
        raise ScenarioFailed(msg)


@dataclass
class Outcome:
    """What the table prints for one scenario."""

    leftovers: list[str] = field(default_factory=list)
    records_lost: int = 0
    detail: str = ""


# -- scope lifecycle ------------------------------------------------------------


def force_clean(scope: probe.Scope) -> list[str]:
    """Remove everything under the scope, by attribution, whatever state the scenario left it in."""
    done = []
    needle = f"{probe.SCOPE_ENV}={scope.token}".encode()
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) == os.getpid():
            continue
        try:
            if needle in (p / "environ").read_bytes().split(b"\0"):
                os.kill(int(p.name), signal.SIGKILL)
                done.append(f"killed {p.name}")
        except (OSError, ProcessLookupError):
            pass
    for pid in scope.exclude_pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
            reap(pid, 10)
    root = str(scope.root) + "/"
    for _ in range(3):  # deepest first; a loop device can pin a tmpfs until it is detached
        for target, _, _ in sorted(probe.mounts(), key=lambda m: -len(m[0])):
            if target.startswith(root):
                subprocess.run(["umount", target], capture_output=True, timeout=60)
        for dev, bf in probe.loop_devices():
            if bf.removesuffix(" (deleted)").startswith(root):
                subprocess.run(["losetup", "-d", dev], capture_output=True, timeout=60)
    for target, _, _ in sorted(probe.mounts(), key=lambda m: -len(m[0])):
        if target.startswith(root):
            subprocess.run(["umount", "-l", target], capture_output=True, timeout=60)
    if not any(t.startswith(root) for t, _, _ in probe.mounts()):
        shutil.rmtree(scope.root, ignore_errors=True)
    return done


@contextlib.contextmanager
def scope(name: str) -> Iterator[probe.Scope]:
    base = Path(os.environ.get("BENCHCTL_FAULTS_DIR") or tempfile.gettempdir())
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
    root = Path(tempfile.mkdtemp(prefix=f"faults-{safe}-", dir=base))
    s = probe.Scope(root=root, token=secrets.token_hex(8))
    s.tmp.mkdir()
    try:
        yield s
    finally:
        force_clean(s)


# -- running benchctl ------------------------------------------------------------


def benchctl(
    s: probe.Scope,
    args: list[str],
    *,
    hooked: bool = False,
    timeout: float = TIMEOUT,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess:
    mod = "tests.faults.hook" if hooked else "benchctl"
    return subprocess.run(
        [PY, "-m", mod, *args], env=env or s.env(), capture_output=True, text=True, timeout=timeout, cwd=cwd or ROOT
    )


def start(s: probe.Scope, args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [PY, "-m", "tests.faults.hook", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def one_line_error(p: subprocess.CompletedProcess) -> str:
    """The error line of a failed command; fails the scenario on a traceback or a chatty error."""
    check("Traceback" not in p.stderr, f"traceback on stderr:\n{p.stderr[-1500:]}")
    errs = [ln for ln in p.stderr.splitlines() if ln.startswith("benchctl: error:") or ln.startswith("Error:")]
    check(len(errs) == 1, f"expected one error line, got {errs!r}; stderr:\n{p.stderr[-800:]}")
    return errs[0]


def run_dirs(results: Path) -> list[Path]:
    return sorted(p.parent for p in results.rglob("run.json"))


def read_records(run_dir: Path) -> list[tuple]:
    """Complete (newline-terminated, parseable) record lines, as comparable tuples."""
    p = run_dir / "records.jsonl"
    if not p.exists():
        return []
    out = []
    for raw in p.read_bytes().split(b"\n")[:-1]:
        try:
            r = json.loads(raw)
        except ValueError:
            continue
        out.append((r.get("iteration"), r.get("metric"), r.get("value"), r.get("t"), r.get("warmup")))
    return out


def kept_records(run_dir: Path) -> list[tuple]:
    """Records still kept anywhere in the folder: records.jsonl plus what --resume set aside (a torn or
    half-written iteration is moved, byte for byte, to records.set-aside.jsonl and measured again)."""
    out = read_records(run_dir)
    aside = run_dir / "records.set-aside.jsonl"
    if aside.exists():
        for raw in aside.read_bytes().split(b"\n"):
            try:
                r = json.loads(raw)
            except ValueError:
                continue
            if isinstance(r, dict):
                out.append((r.get("iteration"), r.get("metric"), r.get("value"), r.get("t"), r.get("warmup")))
    return out


def export_rows(s: probe.Scope, run_dir: Path) -> list[str]:
    p = benchctl(s, ["export", str(run_dir)])
    check(p.returncode == 0, f"export failed (rc {p.returncode}): {p.stderr[-500:]}")
    check("Traceback" not in p.stderr, f"export traceback: {p.stderr[-800:]}")
    return p.stdout.splitlines()[1:]


def free_port() -> int:
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


# -- decoys: things that look like benchctl's but are not ------------------------


@dataclass
class Decoys:
    memcached: subprocess.Popen | None = None
    loop: str | None = None
    mount: str | None = None
    files: list[Path] = field(default_factory=list)

    def alive(self) -> list[str]:
        """The decoys that are NOT intact any more (empty = all survived)."""
        bad = []
        if self.memcached is not None and self.memcached.poll() is not None:
            bad.append(f"decoy memcached {self.memcached.pid} was killed")
        if self.loop and not any(d == self.loop for d, _ in probe.loop_devices()):
            bad.append(f"decoy loop {self.loop} was detached")
        if self.mount and not any(t == self.mount for t, _, _ in probe.mounts()):
            bad.append(f"decoy mount {self.mount} was unmounted")
        bad += [f"decoy file {f} was deleted" for f in self.files if not f.exists()]
        return bad

    def remove(self) -> None:
        if self.memcached is not None:
            self.memcached.kill()
            self.memcached.wait(timeout=10)
        if self.mount:
            subprocess.run(["umount", self.mount], capture_output=True, timeout=60)
        if self.loop:
            subprocess.run(["losetup", "-d", self.loop], capture_output=True, timeout=60)


def make_decoys(s: probe.Scope) -> Decoys:
    """A hand-made memcached on loopback, loop device and tmpfs, named like benchctl's own."""
    d = Decoys()
    base = s.root / "decoy" / "benchctl-stack-decoy"
    base.mkdir(parents=True)
    s.exclude_paths.add(str(s.root / "decoy"))
    if shutil.which("memcached"):
        env = {k: v for k, v in os.environ.items() if k != probe.SCOPE_ENV}
        d.memcached = subprocess.Popen(
            [
                "memcached",
                "-l",
                "127.0.0.1",
                "-p",
                str(free_port()),
                "-U",
                "0",
                "-t",
                "1",
                "-m",
                "16",
                "-c",
                "64",
                "-u",
                "root",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        s.exclude_pids.add(d.memcached.pid)
    img = base / "disk.img"
    with open(img, "wb") as f:
        f.truncate(8 << 20)
    d.loop = subprocess.run(
        ["losetup", "--find", "--show", str(img)], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    mnt = base / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "benchctl-ram", str(mnt)], check=True, timeout=60)
    d.mount = str(mnt)
    (mnt / "precious").write_text("user data\n")
    d.files.append(mnt / "precious")
    return d


def reap(pid: int, timeout: float) -> None:
    """Collect a child of ours that was killed, for at most `timeout` s (never a blocking waitpid)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if os.waitpid(pid, os.WNOHANG)[0]:
                return
        except (ChildProcessError, OSError):
            return
        time.sleep(0.02)


def wait_paused(proc: subprocess.Popen, mark: Path, what: str, timeout: float = 90, text: str = "paused"):
    """Wait until the hooked run writes `text` to its mark file; fail at once if it ended instead."""

    def ready() -> bool:
        if proc.poll() is not None:
            err = proc.communicate(timeout=30)[1] if proc.stderr and not proc.stderr.closed else ""
            raise ScenarioFailed(f"the run ended (rc {proc.returncode}) before {what}: {(err or '')[-600:]}")
        return mark.exists() and text in mark.read_text()

    return wait_for(ready, timeout, what)


def wait_for(pred, timeout: float, what: str, step: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise ScenarioFailed(f"timed out after {timeout:.0f} s waiting for {what}")
