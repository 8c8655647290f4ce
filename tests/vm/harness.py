"""Run benchctl on a real Debian kernel under qemu (TCG), with real brd and dm-crypt.

This host's kernel has neither device-mapper nor brd, and KVM does not work
here (../shared/reference/nested-vm.md), so the storage workloads' real
block stacks are exercised in a TCG guest instead:

  build: `apt-get download` Debian's generic amd64 kernel (the cloud kernel
         lacks 9p), unpack it with dpkg -x, keep the modules the guest needs
         (+ their dependencies; depmod -b), and pack a ~10 MB initramfs:
         static busybox, the modules, and an init script.
  run:   qemu-system-x86_64 -accel tcg. The init loads the infrastructure
         modules (virtio, 9p, ext4, xfs, AES/XTS), mounts THIS HOST's root
         filesystem read-only over 9p (-virtfs ... readonly=on), puts tmpfs
         on /run and /dev/shm, a writable 9p share of the output folder on
         /run/out, bind-mounts the guest kernel's modules under /run/modroot,
         points kmod at them (MODPROBE_OPTIONS="-d /run/modroot": the read-only host root has no
         /lib/modules for this kernel), and chroots into the host's root: the guest runs this checkout's
         benchctl with this host's Python, fio, cryptsetup and mkfs. brd and
         dm_crypt are NOT preloaded: benchctl loads them itself, as on a lab
         machine. The guest script writes run folders and logs straight into
         the output share; the serial console carries MARK lines only.

Usage (as root; about a minute on 2 vCPUs):
    python3 tests/vm/harness.py all --work /var/tmp/benchctl-vm --out OUTDIR
    python3 tests/vm/harness.py build --work DIR      # kernel + initramfs, cached
    python3 tests/vm/harness.py run --work DIR --out OUTDIR

Standard library only, so it runs before the venv exists.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import gzip
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import deadline  # noqa: E402  (tests/support/deadline.py: the shared wait-with-deadline mechanism)

REPO = Path(__file__).resolve().parents[2]
KERNEL_META = "linux-image-amd64"
# Loaded by init before the chroot: what a lab kernel would have built in.
PRELOAD = [
    "crc32c_generic",
    "crc32c_intel",
    "virtio_pci",
    "virtio_blk",
    "9pnet_virtio",
    "9p",
    "loop",
    "ext4",
    "xfs",
    "xts",
    "aesni_intel",
    "algif_skcipher",
]
# Shipped but left for benchctl to load (modprobe in the chroot, with depmod's modules.dep).
ON_DEMAND = ["brd", "dm_crypt", "dm_mod"]
TIMEOUT_S = 600  # the whole guest run, boot to poweroff
IDLE_S = 120  # without a TICK or MARK line: the guest prints a TICK every 20 s, so it froze
ALIVE = r"^(TICK|MARK) "  # what proves the guest alive: kernel warnings (soft lockups) do not
TCG_THREAD = os.environ.get("BENCHCTL_VM_TCG_THREAD", "single")  # "multi" only to reproduce the stall
# What `benchctl run` does in the guest: the quick preset on the real stacks (brd, dm-crypt, ext4/xfs),
# scaled down so that the VM tests fit CI's budget (tests/vm/README.md, "Budget"); the tests read
# the expected sizes and counts from here.
GUEST_RUNS: dict[str, dict] = {
    "fio-dmcrypt": {"set": {"size": "32M"}, "iterations": 3},
    "seqread-xfs": {"set": {"size": "256M"}, "iterations": 3},
}

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
hostname benchctl-vm
echo   # the firmware's last console line has no newline: start MARK lines on a line of their own
echo "MARK boot-done $(cut -d' ' -f1 /proc/uptime)"
# Heartbeat every TICK_S (20 s): the host's idle deadline tells a frozen guest (no TICK) from a slow step.
( while sleep 20; do echo "TICK $(cut -d' ' -f1 /proc/uptime)"; done ) &
fail() { echo "MARK fail $*"; echo o > /proc/sysrq-trigger; sleep 5; poweroff -f; }
KVER=$(uname -r)
while read -r m; do insmod "/lib/modules/$KVER/$m" || echo "MARK insmod-failed $m"; done < /preload.list
H=/host
mkdir -p $H
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot $H || fail mount-hostroot
mount -t proc proc $H/proc || fail proc
mount -t sysfs sys $H/sys || fail sys
mount -t devtmpfs dev $H/dev || fail dev
mount -t tmpfs -o mode=0755 tmpfs $H/run || fail run
mkdir -p $H/dev/shm; mount -t tmpfs -o mode=1777 tmpfs $H/dev/shm || fail shm
mkdir -p $H/run/modroot/lib/modules/$KVER $H/run/out $H/run/tmp
mount --bind /lib/modules/$KVER $H/run/modroot/lib/modules/$KVER || fail modules-bind
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out $H/run/out || fail mount-out
echo "MARK chroot $(cut -d' ' -f1 /proc/uptime)"
chroot $H /bin/sh /run/out/guest.sh
echo "MARK guest-rc $?"
sync
umount $H/run/out
echo "MARK poweroff $(cut -d' ' -f1 /proc/uptime)"
echo o > /proc/sysrq-trigger
sleep 5
poweroff -f
"""

GUEST = r"""#!/bin/sh
# Runs inside the guest, chrooted into the host's root filesystem (read-only).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/run/tmp TMPDIR=/run/tmp PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 BENCHCTL_STATE_DIR=/run/benchctl
# the host has no /lib/modules for the guest kernel; kmod's modprobe reads its options from here
export MODPROBE_OPTIONS="-d /run/modroot"
OUT=/run/out
cd "{repo}"
up() {{ cut -d' ' -f1 /proc/uptime; }}
echo "MARK guest-start $(up) $(uname -r)"
uname -r > $OUT/uname.txt
# This boot's code symbols: stall_dump names the functions at a stalled guest's PCs with them.
grep -i ' t ' /proc/kallsyms > $OUT/kallsyms.txt
# logged LOG CMD...: CMD's output into LOG; its warm-up/iteration lines also reach the console as
# "MARK progress ...", so that a stall names the iteration. Returns CMD's status.
logged() {{ log=$1; shift; {{ "$@"; echo $? > /run/tmp/rc; }} 2>&1 | tee "$log" |
  sed -un 's/^benchctl: \(warm-up [0-9]*\/[0-9]*\|iteration [0-9]*\/[0-9]*\).*/MARK progress \1/p'
  return "$(cat /run/tmp/rc)"; }}
snapshot() {{ {{ echo "## mounts"; grep -E 'benchctl|/dev/(loop|ram|mapper)' /proc/mounts; echo "## losetup"; losetup -a;
  echo "## dm"; ls /sys/block | grep '^dm-'; echo "## brd"; ls -d /sys/module/brd 2>/dev/null;
  echo "## tmp"; ls /run/tmp | grep benchctl; }} > $OUT/leftovers-$1.txt 2>&1; }}
snapshot before
for w in {drive}; do   # the drivers without the engine (tests/support/storage_drive.py), when asked for
  echo "MARK drive $w $(up)"
  "{python}" tests/support/storage_drive.py $w --preset quick > $OUT/drive-$w.json 2> $OUT/drive-$w.err
  echo "MARK rc drive-$w $? $(up)"
  snapshot after-drive-$w
done
run_workload() {{ w=$1; shift
  echo "MARK run $w $(up)"
  logged $OUT/run-$w.log "{python}" -m benchctl run $w --preset quick --arm vm-{kver} -o $OUT/results "$@"
  echo "MARK rc run-$w $? $(up)"
  snapshot after-run-$w; }}
{workload_lines}
echo "MARK env $(up)"
"{python}" -m benchctl env --format json > $OUT/env.json 2> $OUT/env.err; echo "MARK rc env $?"
if [ -n "{overhead}" ]; then   # benchctl vs by hand on the real dm-crypt stack
  echo "MARK overhead $(up)"
  "{python}" tests/perf/storage_overhead.py --crypt dm-crypt --only fio-dmcrypt --pairs 7 --fio-size 64M \
      > $OUT/overhead.txt 2>&1; echo "MARK rc overhead $?"
  "{python}" tests/perf/storage_overhead.py --crypt dm-crypt --only fio-dmcrypt --pairs 7 --fio-size 64M \
      --no-perf > $OUT/overhead-no-perf.txt 2>&1; echo "MARK rc overhead-no-perf $?"
fi
# Signals on the real stack (brd + dm-crypt + ext4): SIGINT must clean up; after SIGKILL, `benchctl cleanup` must.
wait_iter() {{ i=0; while ! grep -q "iteration 1/" "$1" 2>/dev/null; do sleep 0.5; i=$((i+1)); [ $i -gt 600 ] && return 1; done;
  echo "MARK progress iteration 1 done"; }}
if [ -n "{signals}" ]; then
  echo "MARK sigint $(up)"
  "{python}" -m benchctl run fio-dmcrypt --preset quick --arm vm-sigint --set size=16M --iterations 50 --warmup 0 \
      -o $OUT/signals > $OUT/sigint.log 2>&1 &
  pid=$!; wait_iter $OUT/sigint.log; kill -INT $pid; echo "MARK progress SIGINT sent"; wait $pid; echo "MARK rc sigint $?"
  snapshot after-sigint
  echo "MARK sigkill $(up)"
  "{python}" -m benchctl run fio-dmcrypt --preset quick --arm vm-sigkill --set size=16M --iterations 50 --warmup 0 \
      -o $OUT/signals > $OUT/sigkill.log 2>&1 &
  pid=$!; wait_iter $OUT/sigkill.log; kill -KILL $pid; echo "MARK progress SIGKILL sent"; wait $pid; echo "MARK rc sigkill $?"
  snapshot killed; mv $OUT/leftovers-killed.txt $OUT/state-after-sigkill.txt
  echo "MARK cleanup $(up)"
  "{python}" -m benchctl cleanup > $OUT/cleanup.log 2>&1; echo "MARK rc cleanup $?"
  snapshot after-cleanup
fi
# Raw dm-crypt outputs for the parsers' fixtures (a throwaway mapping, key zeroed before saving).
echo "MARK fixtures $(up)"
mkdir -p $OUT/fixtures
modprobe dm_crypt
if modprobe brd rd_nr=1 rd_size=65536 max_part=0; then
  head -c 64 /dev/urandom | cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 512 \
      --key-file - --keyfile-size 64 --batch-mode /dev/ram0 benchctl-fixture
  dmsetup table benchctl-fixture > $OUT/fixtures/dmsetup-table.txt 2>&1
  cryptsetup status benchctl-fixture > $OUT/fixtures/cryptsetup-status.txt 2>&1
  dmsetup targets > $OUT/fixtures/dmsetup-targets.txt 2>&1
  cryptsetup --version > $OUT/fixtures/cryptsetup-version.txt 2>&1
  cp /proc/crypto $OUT/fixtures/proc-crypto.txt
  cryptsetup close benchctl-fixture
  rmmod brd
fi
echo "MARK guest-done $(cut -d' ' -f1 /proc/uptime)"
"""


def log(msg: str) -> None:
    print(f"[vm {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(argv: list[str], timeout: float = 300, **kw) -> subprocess.CompletedProcess:
    """A build step: its output captured, killed past `timeout` s (deadline.Stalled names the step).

    A failed step raises RuntimeError with its status and the tail of its error output.
    """
    step = f"build step {Path(argv[0]).name}"
    r = deadline.run(argv, timeout, phase=step, **kw)
    if r.returncode != 0:
        err = r.stderr.decode(errors="replace") if isinstance(r.stderr, bytes) else (r.stderr or "")
        tail = "\n".join(f"  | {ln}" for ln in err.splitlines()[-deadline.TAIL_LINES :])
        raise RuntimeError(f"{step} failed (status {r.returncode}): {' '.join(argv)[:300]}\n{tail}")
    return r


def kernel_package() -> str:
    """The versioned image package the meta package points at (e.g. linux-image-6.1.0-56-amd64)."""
    out = run(["apt-cache", "depends", KERNEL_META], timeout=60, text=True).stdout
    for line in out.splitlines():
        m = re.match(r"\s*Depends:\s*(linux-image-\S+)", line)
        if m:
            return m.group(1)
    raise RuntimeError(f"apt-cache depends {KERNEL_META}: no linux-image dependency (run apt-get update)")


def module_paths(moddir: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """name -> relative .ko path and relative path -> its dependencies, from modules.dep."""
    deps: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        mod, _, rest = line.partition(":")
        deps[mod] = rest.split()
        names[Path(mod).name.split(".ko")[0].replace("-", "_")] = mod
    return names, deps


def load_order(wanted: list[str], names: dict[str, str], deps: dict[str, list[str]]) -> list[str]:
    order: list[str] = []

    def visit(rel: str) -> None:
        if rel in order:
            return
        for d in deps.get(rel, []):
            visit(d)
        order.append(rel)

    for w in wanted:
        rel = names.get(w.replace("-", "_"))
        if rel is None:
            log(f"module {w} not in this kernel (built in?), skipped")
            continue
        visit(rel)
    return order


def build(work: Path) -> dict:
    """Kernel + initramfs into work/ (cached: a second build reuses the download)."""
    work.mkdir(parents=True, exist_ok=True)
    pkg = kernel_package()
    kver = pkg.removeprefix("linux-image-")
    debs = list(work.glob(f"{pkg}_*.deb"))
    if not debs:
        log(f"apt-get download {pkg}")
        run(["apt-get", "download", pkg], cwd=work)
        debs = list(work.glob(f"{pkg}_*.deb"))
    kdir = work / "kernel"
    if not (kdir / "boot" / f"vmlinuz-{kver}").exists():
        shutil.rmtree(kdir, ignore_errors=True)
        run(["dpkg", "-x", str(debs[0]), str(kdir)])
    moddir = kdir / "lib" / "modules" / kver
    if not (moddir / "modules.dep").exists():
        run(["depmod", "-b", str(kdir), kver])
    names, deps = module_paths(moddir)
    pre = load_order(PRELOAD, names, deps)
    ondemand = load_order(ON_DEMAND, names, deps)
    root = work / "initramfs"
    shutil.rmtree(root, ignore_errors=True)
    for d in ("bin", "sbin", "proc", "sys", "dev", "host", "etc"):
        (root / d).mkdir(parents=True)
    busybox = shutil.which("busybox")
    if not busybox:
        raise RuntimeError("busybox is missing (apt-get install busybox-static)")
    shutil.copy2(busybox, root / "bin" / "busybox")
    rmod = root / "lib" / "modules" / kver
    for rel in dict.fromkeys(pre + ondemand):
        dst = rmod / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(moddir / rel, dst)
    for f in ("modules.order", "modules.builtin", "modules.builtin.modinfo"):
        if (moddir / f).exists():
            shutil.copy2(moddir / f, rmod / f)
    run(["depmod", "-b", str(root), kver])  # modules.dep etc. for exactly what was shipped
    (root / "preload.list").write_text("\n".join(pre) + "\n")
    (root / "init").write_text(INIT)
    (root / "init").chmod(0o755)
    paths = [os.path.relpath(os.path.join(d, n), root) for d, dirs, files in os.walk(root) for n in dirs + files]
    cpio = run(
        ["cpio", "--null", "-o", "-H", "newc", "--quiet"], cwd=root, input=b"\0".join(p.encode() for p in [".", *paths])
    ).stdout
    initrd = work / "initrd.gz"
    initrd.write_bytes(gzip.compress(cpio, compresslevel=1))
    vmlinuz = work / f"vmlinuz-{kver}"
    shutil.copy2(kdir / "boot" / f"vmlinuz-{kver}", vmlinuz)
    meta = {
        "kernel_package": pkg,
        "kver": kver,
        "vmlinuz": str(vmlinuz),
        "initrd": str(initrd),
        "preload": pre,
        "on_demand": ondemand,
        "initrd_bytes": initrd.stat().st_size,
    }
    (work / "build.json").write_text(json.dumps(meta, indent=1))
    log(f"built {pkg}: initrd {initrd.stat().st_size / 2**20:.1f} MiB, {len(pre) + len(ondemand)} modules")
    return meta


def qemu_argv(
    meta: dict[str, str],
    out: Path,
    mem_mb: int = 6144,
    tcg_thread: str = TCG_THREAD,
    qmp: Path | None = None,
    append: str = "",
) -> list[str]:
    """The x86 guest's qemu command line.

    `tcg_thread` is "single" unless reproducing the stall: with thread=multi this qemu (7.2) froze
    the guest in text patching under `perf stat -a` (tests/vm/README.md has the evidence).
    """
    argv = [
        "qemu-system-x86_64",
        "-accel",
        f"tcg,thread={tcg_thread}",
        "-cpu",
        "max",
        "-smp",
        "2",
        "-m",
        str(mem_mb),
        "-kernel",
        meta["vmlinuz"],
        "-initrd",
        meta["initrd"],
        "-append",
        f"console=ttyS0 panic=-1 quiet loglevel=3 {append}".strip(),
        "-nographic",
        "-no-reboot",
        "-nodefaults",
        "-serial",
        "stdio",
        "-monitor",
        "none",
        "-virtfs",
        "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
        "-virtfs",
        f"local,path={out},mount_tag=out,security_model=none",
    ]
    if qmp is not None:
        argv += ["-qmp", f"unix:{qmp},server=on,wait=off"]
    return argv


def guest_python() -> str:
    """The project's venv interpreter when there is one (it has benchctl's dependencies), else this one."""
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def qmp_session(sock: Path, commands: list[str | tuple[str, int]], timeout: float = 10.0) -> list[tuple[str, str]]:
    """Run human-monitor commands over QMP, each reply bounded by `timeout` s: [(command, output)].

    A command is "text", ("text", cpu_index) for one vCPU (each command gets a fresh monitor, so
    `cpu N` would not stick), or "sleep SECONDS".
    """
    out: list[tuple[str, str]] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock))
        f = s.makefile("rwb")

        def call(obj: dict) -> dict:
            f.write(json.dumps(obj).encode() + b"\n")
            f.flush()
            while True:
                line = f.readline()
                if not line:
                    raise ConnectionError("QMP closed")
                msg = json.loads(line)
                if "return" in msg or "error" in msg:
                    return msg

        json.loads(f.readline())  # greeting
        call({"execute": "qmp_capabilities"})
        for c in commands:
            text, cpu = (c, None) if isinstance(c, str) else c
            if text.startswith("sleep "):
                time.sleep(float(text.split()[1]))
                continue
            args: dict = {"command-line": text}
            if cpu is not None:
                args["cpu-index"] = cpu
            r = call({"execute": "human-monitor-command", "arguments": args})
            out.append((text if cpu is None else f"{text}   [cpu {cpu}]", r.get("return", json.dumps(r.get("error")))))
    return out


def load_symbols(path: Path) -> tuple[list[int], list[str]]:
    """Sorted text symbol addresses and names from a /proc/kallsyms dump."""
    syms = []
    if path.exists():
        for ln in path.read_text(errors="replace").splitlines():
            parts = ln.split()
            if len(parts) >= 3 and parts[1] in "tTwW" and int(parts[0], 16):
                syms.append((int(parts[0], 16), parts[2] + (f" {parts[3]}" if len(parts) > 3 else "")))
    syms.sort()
    return [a for a, _ in syms], [n for _, n in syms]


def symbolize(addr: int, table: tuple[list[int], list[str]]) -> str:
    addrs, names = table
    i = bisect.bisect_right(addrs, addr) - 1
    if i < 0 or addr - addrs[i] > 0x100000:
        return "?"
    return f"{names[i]}+{addr - addrs[i]:#x}"


PC_RE = re.compile(r"\b(?:RIP|PC)=([0-9a-f]{8,16})\b")
INT_RE = re.compile(r"v=([0-9a-f]{2}) e=[0-9a-f]+ i=\d cpl=(\d) IP=[0-9a-f]{4}:([0-9a-f]{8,16})")  # qemu -d int (x86)


def stall_dump(sock: Path, out: Path, samples: int = 5) -> str:
    """What a stalled guest is doing, from its QMP socket, saved to out/stall-monitor.txt; a one-line summary.

    Registers of every vCPU `samples` times a second apart (a stuck vCPU keeps one PC; a looping one
    cycles through a few), 0.2 s of `-d int` (every interrupt and exception taken, with its IP),
    then what guest memory holds at each of those addresses now (bytes and instructions): an
    exception taken again and again at an address whose memory holds another instruction is a
    stale translation. Addresses are named from out/kallsyms.txt (this boot's /proc/kallsyms).
    """
    table = load_symbols(out / "kallsyms.txt")
    int_log = out / "stall-int.log"
    cmds: list[str | tuple[str, int]] = ["info status", "info cpus"]
    for _ in range(samples):
        cmds += ["info registers -a", "sleep 1"]
    cmds += [f"logfile {int_log}", "log int", "sleep 0.2", "log none"]
    replies = qmp_session(sock, cmds)
    seen: dict[int, list[str]] = {}
    for cmd, reply in replies:
        if cmd == "info registers -a":
            for cpu, block in enumerate(re.split(r"\n(?=CPU#\d)", reply.strip())):
                m = PC_RE.search(block)
                if m:
                    seen.setdefault(cpu, []).append(m.group(1))
    ints: collections.Counter = collections.Counter()
    if int_log.exists():
        with int_log.open("rb") as f:
            head = f.read(64 << 20).decode(errors="replace")
        ints.update(INT_RE.findall(head))
        int_log.write_text(head[: 1 << 20])  # a second of a looping vCPU is tens of MB: keep the start
    addrs = list(
        dict.fromkeys([pc for pcs in seen.values() for pc in pcs] + [ip for (_, _, ip), _ in ints.most_common(4)])
    )
    more: list[str | tuple[str, int]] = [("x/12i $pc", cpu) for cpu in sorted(seen)]
    for a in addrs:
        more += [f"x/16xb 0x{a}", f"x/3i 0x{a}"]
    replies += qmp_session(sock, more)
    text = [f"(qemu) {cmd}\n{reply}" for cmd, reply in replies]
    names = []
    for cpu, pcs in sorted(seen.items()):
        uniq = list(dict.fromkeys(pcs))
        names.append(f"CPU{cpu}: " + ", ".join(f"{pc} <{symbolize(int(pc, 16), table)}>" for pc in uniq))
        text.append(f"## CPU{cpu} PCs over {len(pcs)} samples: {names[-1]}")
    for (vec, cpl, ip), n in ints.most_common(8):
        text.append(f"## -d int, 0.2 s: {n} x vector {vec} (cpl {cpl}) at {ip} <{symbolize(int(ip, 16), table)}>")
    if ints:
        (vec, cpl, ip), n = ints.most_common(1)[0]
        now = next((r.strip().splitlines()[0] for c, r in replies if c == f"x/3i 0x{ip}" and r.strip()), "?")
        names.append(
            f"most taken in 0.2 s: {n} x vector {vec} at {ip} <{symbolize(int(ip, 16), table)}>, "
            f"where memory now holds: {' '.join(now.split())}"
        )
    (out / "stall-monitor.txt").write_text("\n".join(text) + "\n")
    return "qemu monitor at the stall: " + "; ".join(names) + f" (full dump: {out / 'stall-monitor.txt'})"


def run_guest(
    meta: dict[str, str],
    out: Path,
    workloads: list[str],
    timeout: int = TIMEOUT_S,
    drive: list[str] | None = None,
    signals: bool = True,
    overhead: bool = False,
    tcg_thread: str = TCG_THREAD,
    append: str = "",
    runs: dict[str, dict] | None = None,
) -> dict:
    """Boot, run the workloads in the guest, return the MARK timeline; outputs land in `out`.

    Bounded by `timeout` s in all and IDLE_S s without a console line (the guest ticks every
    20 s): past either, the qemu monitor is dumped, qemu is killed and deadline.Stalled names the
    phase from the MARK lines, with the console tail. Raises deadline.Failed unless the guest
    reached its poweroff mark, whatever qemu's exit status.
    """
    out.mkdir(parents=True, exist_ok=True)
    runs = GUEST_RUNS if runs is None else runs
    lines = []
    for w in workloads:
        opts = [f"--set {k}={v}" for k, v in runs.get(w, {}).get("set", {}).items()]
        if "iterations" in runs.get(w, {}):
            opts.append(f"--iterations {runs[w]['iterations']}")
        lines.append(" ".join(["run_workload", w, *opts]))
    (out / "guest.sh").write_text(
        GUEST.format(
            repo=REPO,
            python=guest_python(),
            workload_lines="\n".join(lines),
            drive=" ".join(drive or []),
            kver=meta["kver"],
            signals="yes" if signals else "",
            overhead="yes" if overhead else "",
        )
    )
    with tempfile.TemporaryDirectory(prefix="benchctl-qmp-") as tmp:  # a short path: sun_path is 108 bytes
        qmp = Path(tmp) / "qmp.sock"
        argv = qemu_argv(meta, out, tcg_thread=tcg_thread, qmp=qmp, append=append)
        log(f"qemu: {' '.join(argv)}")

        def show(line: str) -> None:
            if line.startswith("MARK "):
                log(f"{line[5:].strip()}")

        with deadline.Console(
            argv,
            log=out / "console.log",
            timeout=timeout,
            idle=IDLE_S,
            alive=ALIVE,
            name="guest",
            on_line=show,
            on_stall=lambda _: stall_dump(qmp, out),
        ) as con:
            rc = con.wait(timeout=timeout)
            result = {
                "wall_s": round(con.elapsed(), 1),
                "marks": con.marks,
                "qemu_rc": rc,
                "argv": argv,
                "out": str(out),
            }
            (out / "timeline.json").write_text(json.dumps(result, indent=1))
            if not con.seen(r"^poweroff\b"):
                con.fail(f"qemu exited (status {rc}) before the guest's poweroff mark")
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=["build", "run", "all"])
    ap.add_argument("--work", type=Path, default=Path("/var/tmp/benchctl-vm"))
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--workloads", default="fio-dmcrypt seqread-xfs", help="run with `benchctl run`")
    ap.add_argument("--no-signals", action="store_true", help="skip the SIGINT / SIGKILL+cleanup steps")
    ap.add_argument("--overhead", action="store_true", help="also run tests/perf/storage_overhead.py with dm-crypt")
    ap.add_argument("--drive", default="", help="also drive these without the engine (tests/support/storage_drive.py)")
    ap.add_argument(
        "--tcg-thread",
        default=TCG_THREAD,
        choices=["single", "multi"],
        help="qemu -accel tcg,thread=... (multi: to reproduce the text-patching stall)",
    )
    ap.add_argument("--append", default="", help="extra guest kernel parameters (e.g. nokaslr)")
    ap.add_argument(
        "--preset-sizes", action="store_true", help="run the quick presets as they are, not GUEST_RUNS' CI sizes"
    )
    ap.add_argument("--timeout", type=int, default=TIMEOUT_S, help="deadline for the whole guest run, s")
    a = ap.parse_args(argv)
    t0 = time.monotonic()
    if a.action in ("build", "all"):
        meta = build(a.work)
    else:
        meta = json.loads((a.work / "build.json").read_text())
    if a.action in ("run", "all"):
        out = a.out or a.work / f"out-{time.strftime('%Y%m%dT%H%M%S')}"
        res = run_guest(
            meta,
            out.resolve(),
            a.workloads.split(),
            drive=a.drive.split(),
            signals=not a.no_signals,
            overhead=a.overhead,
            tcg_thread=a.tcg_thread,
            append=a.append,
            runs={} if a.preset_sizes else None,
            timeout=a.timeout,
        )
        print(json.dumps({k: res[k] for k in ("wall_s", "marks", "out")}, indent=1))
    log(f"total {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
