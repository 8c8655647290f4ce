"""What a scenario left on the host: processes, mounts, loop and dm devices, ramdisks, temp files, knobs.

Other engineers' tests run on this machine at the same time, so a global
before/after diff of /proc/mounts or `losetup -a` would blame their loop
devices on us. Everything a faulted run creates is instead made
attributable: the run gets a private TMPDIR (every temp dir, tmpfs, image
file and mount point it makes lives under the scenario root), and a scope
token in its environment that every child inherits (memcached, the load
generator, perf, fio, xfs_io). A leftover is then anything alive or present
that carries the token or sits under the root -- found by scanning the real
tables (/proc/*/environ, /proc/self/mountinfo, /sys/block/loop*/loop/
backing_file, /sys/block/dm-*/dm/name, /sys/module/brd), not by asking
benchctl's own ledger.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

SCOPE_ENV = "BENCHCTL_FAULTS_SCOPE"

# Kernel knobs a run could plausibly change (THP, governor, perf paranoia, NMI watchdog, caches).
WATCHED_KNOBS = [
    "/proc/sys/kernel/perf_event_paranoid",
    "/proc/sys/kernel/nmi_watchdog",
    "/proc/sys/kernel/kptr_restrict",
    "/proc/sys/kernel/randomize_va_space",
    "/proc/sys/vm/swappiness",
    "/proc/sys/vm/dirty_ratio",
    "/proc/sys/vm/dirty_background_ratio",
    "/sys/kernel/mm/transparent_hugepage/enabled",
    "/sys/kernel/mm/transparent_hugepage/defrag",
    "/sys/devices/system/cpu/smt/control",
]


def _zombie_or_gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2 :].split()[0] in ("Z", "X")


def scoped_processes(token: str, exclude: set[int] = frozenset()) -> list[str]:
    """Live processes whose environment carries SCOPE_ENV=token (zombies hold nothing: not counted)."""
    needle = f"{SCOPE_ENV}={token}".encode()
    out = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) in exclude or int(p.name) == os.getpid():
            continue
        try:
            env = (p / "environ").read_bytes()
        except OSError:
            continue
        if needle in env.split(b"\0") and not _zombie_or_gone(int(p.name)):
            try:
                cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                cmd = "?"
            out.append(f"process {p.name}: {cmd[:80]}")
    return out


def scoped_comms(token: str) -> list[str]:
    """Command names (/proc/PID/comm) of the live processes carrying the scope token."""
    out = []
    for line in scoped_processes(token):
        pid = line.split()[1].rstrip(":")
        try:
            out.append(Path(f"/proc/{pid}/comm").read_text().strip())
        except OSError:
            pass
    return out


def _unescape(s: str) -> str:
    return s.encode().decode("unicode_escape") if "\\" in s else s


def mounts() -> list[tuple[str, str, str]]:
    """(target, fstype, source) of every mount in our namespace."""
    rows = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        parts = line.split(" ")
        if "-" not in parts[6:]:
            continue
        sep = parts.index("-", 6)
        rows.append((_unescape(parts[4]), parts[sep + 1], _unescape(parts[sep + 2]) if len(parts) > sep + 2 else ""))
    return rows


def loop_devices() -> list[tuple[str, str]]:
    """(device, backing file) of every attached loop device, from sysfs (what `losetup -a` prints)."""
    out = []
    for d in sorted(Path("/sys/block").glob("loop*")):
        try:
            out.append((f"/dev/{d.name}", (d / "loop" / "backing_file").read_text().strip()))
        except OSError:
            continue
    return out


def dm_names() -> set[str]:
    out = set()
    for d in Path("/sys/block").glob("dm-*"):
        try:
            out.add((d / "dm" / "name").read_text().strip())
        except OSError:
            pass
    if Path("/dev/mapper").is_dir():
        out |= {p.name for p in Path("/dev/mapper").iterdir() if p.name != "control"}
    return out


def knobs() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for k in WATCHED_KNOBS + sorted(
        str(p) for p in Path("/sys/devices/system/cpu").glob("cpu*/cpufreq/scaling_governor")
    ):
        try:
            out[k] = Path(k).read_text().strip()
        except OSError:
            out[k] = None
    return out


WATCHED_MODULES = {"brd", "dm_crypt", "dm_mod"}


def modules() -> set[str]:
    try:
        return {ln.split()[0] for ln in Path("/proc/modules").read_text().splitlines() if ln.strip()}
    except OSError:
        return set()


@dataclass
class Snapshot:
    dm: set[str]
    brd: bool
    knobs: dict[str, str | None]
    modules: set[str] = field(default_factory=set)


def snapshot() -> Snapshot:
    return Snapshot(dm=dm_names(), brd=Path("/sys/module/brd").exists(), knobs=knobs(), modules=modules())


@dataclass
class Scope:
    """Where one scenario's run lives and how to recognise what it made."""

    root: Path  # everything of the scenario: results, state, TMPDIR
    token: str
    exclude_pids: set[int] = field(default_factory=set)  # decoys we started ourselves
    exclude_paths: set[str] = field(default_factory=set)  # decoy mounts / loop backings

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def results(self) -> Path:
        return self.root / "results"

    def env(self, **extra: str) -> dict[str, str]:
        from tests.faults.common import ROOT

        env = dict(
            os.environ,
            BENCHCTL_STATE_DIR=str(self.state),
            TMPDIR=str(self.tmp),
            PYTHONPATH=str(ROOT),
            **{SCOPE_ENV: self.token},
        )
        env.update(extra)
        return env

    def _ours(self, path: str) -> bool:
        p = path.removesuffix(" (deleted)")
        if any(p == x or p.startswith(x.rstrip("/") + "/") for x in self.exclude_paths):
            return False
        return p.startswith(str(self.root) + "/")

    def leftovers(self, before: Snapshot) -> list[str]:
        """Everything of this scenario still on the host (empty = clean)."""
        found = scoped_processes(self.token, self.exclude_pids)
        found += [f"mount {t} ({fs} from {src})" for t, fs, src in mounts() if self._ours(t) or self._ours(src)]
        found += [f"loop {dev} -> {bf}" for dev, bf in loop_devices() if self._ours(bf)]
        found += [f"dm mapping {n}" for n in sorted(dm_names() - before.dm)]
        if Path("/sys/module/brd").exists() and not before.brd:
            found.append("brd module loaded")
        found += [f"module {m} loaded" for m in sorted((modules() - before.modules) & WATCHED_MODULES - {"brd"})]
        if self.tmp.is_dir():
            found += [
                f"temp {p}"
                for p in sorted(self.tmp.iterdir())
                if not any(str(p).startswith(x) for x in self.exclude_paths)
            ]
        now = knobs()
        found += [f"knob {k}: {before.knobs.get(k)!r} -> {v!r}" for k, v in now.items() if before.knobs.get(k) != v]
        led = self.state / "ledgers"
        if led.is_dir():
            found += [f"ledger {p.name} still open" for p in sorted(led.glob("*.json"))]
        return found
