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
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KERNEL_META = "linux-image-amd64"
# Loaded by init before the chroot: what a lab kernel would have built in.
PRELOAD = ["crc32c_generic", "crc32c_intel", "virtio_pci", "virtio_blk", "9pnet_virtio", "9p", "loop", "ext4",
           "xfs", "xts", "aesni_intel", "algif_skcipher"]
# Shipped but left for benchctl to load (modprobe in the chroot, with depmod's modules.dep).
ON_DEMAND = ["brd", "dm_crypt", "dm_mod"]
TIMEOUT_S = 600

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
hostname benchctl-vm
echo "MARK boot-done $(cut -d' ' -f1 /proc/uptime)"
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
export HOME=/run/tmp TMPDIR=/run/tmp PYTHONDONTWRITEBYTECODE=1 BENCHCTL_STATE_DIR=/run/benchctl
# the host has no /lib/modules for the guest kernel; kmod's modprobe reads its options from here
export MODPROBE_OPTIONS="-d /run/modroot"
OUT=/run/out
cd "{repo}"
echo "MARK guest-start $(cut -d' ' -f1 /proc/uptime) $(uname -r)"
uname -r > $OUT/uname.txt
snapshot() {{ {{ echo "## mounts"; grep -E 'benchctl|/dev/(loop|ram|mapper)' /proc/mounts; echo "## losetup"; losetup -a;
  echo "## dm"; ls /sys/block | grep '^dm-'; echo "## brd"; ls -d /sys/module/brd 2>/dev/null;
  echo "## tmp"; ls /run/tmp | grep benchctl; }} > $OUT/leftovers-$1.txt 2>&1; }}
snapshot before
for w in {drive}; do   # the drivers without the engine (tests/storage_drive.py), when asked for
  echo "MARK drive $w $(cut -d' ' -f1 /proc/uptime)"
  "{python}" tests/storage_drive.py $w --preset quick > $OUT/drive-$w.json 2> $OUT/drive-$w.err
  echo "MARK rc drive-$w $? $(cut -d' ' -f1 /proc/uptime)"
  snapshot after-drive-$w
done
for w in {workloads}; do
  echo "MARK run $w $(cut -d' ' -f1 /proc/uptime)"
  "{python}" -m benchctl run $w --preset quick --arm vm-{kver} -o $OUT/results > $OUT/run-$w.log 2>&1
  echo "MARK rc run-$w $? $(cut -d' ' -f1 /proc/uptime)"
  snapshot after-run-$w
done
"{python}" -m benchctl env --json > $OUT/env.json 2> $OUT/env.err; echo "MARK rc env $?"
if [ -n "{overhead}" ]; then   # benchctl vs by hand on the real dm-crypt stack
  "{python}" tests/perf/storage_overhead.py --crypt dm-crypt --only fio-dmcrypt --pairs 7 --fio-size 64M \
      > $OUT/overhead.txt 2>&1; echo "MARK rc overhead $?"
  "{python}" tests/perf/storage_overhead.py --crypt dm-crypt --only fio-dmcrypt --pairs 7 --fio-size 64M \
      --no-perf > $OUT/overhead-no-perf.txt 2>&1; echo "MARK rc overhead-no-perf $?"
fi
# Signals on the real stack (brd + dm-crypt + ext4): SIGINT must clean up; after SIGKILL, `benchctl cleanup` must.
wait_iter() {{ i=0; while ! grep -q "iteration 1/" "$1" 2>/dev/null; do sleep 0.5; i=$((i+1)); [ $i -gt 600 ] && return 1; done; }}
if [ -n "{signals}" ]; then
  "{python}" -m benchctl run fio-dmcrypt --preset quick --arm vm-sigint --set size=16M --iterations 50 \
      -o $OUT/signals > $OUT/sigint.log 2>&1 &
  pid=$!; wait_iter $OUT/sigint.log; kill -INT $pid; wait $pid; echo "MARK rc sigint $?"
  snapshot after-sigint
  "{python}" -m benchctl run fio-dmcrypt --preset quick --arm vm-sigkill --set size=16M --iterations 50 \
      -o $OUT/signals > $OUT/sigkill.log 2>&1 &
  pid=$!; wait_iter $OUT/sigkill.log; kill -KILL $pid; wait $pid; echo "MARK rc sigkill $?"
  snapshot killed; mv $OUT/leftovers-killed.txt $OUT/state-after-sigkill.txt
  "{python}" -m benchctl cleanup > $OUT/cleanup.log 2>&1; echo "MARK rc cleanup $?"
  snapshot after-cleanup
fi
# Raw dm-crypt outputs for the parsers' fixtures (a throwaway mapping, key zeroed before saving).
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


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, **kw)


def kernel_package() -> str:
    """The versioned image package the meta package points at (e.g. linux-image-6.1.0-56-amd64)."""
    out = subprocess.run(["apt-cache", "depends", KERNEL_META], capture_output=True, text=True, check=True).stdout
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


def build(work: Path) -> dict[str, str]:
    """Kernel + initramfs into work/ (cached: a second build reuses the download)."""
    work.mkdir(parents=True, exist_ok=True)
    pkg = kernel_package()
    kver = pkg.removeprefix("linux-image-")
    debs = list(work.glob(f"{pkg}_*.deb"))
    if not debs:
        log(f"apt-get download {pkg}")
        run(["apt-get", "download", pkg], cwd=work, stdout=subprocess.DEVNULL)
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
    run(["depmod", "-b", str(root), kver])   # modules.dep etc. for exactly what was shipped
    (root / "preload.list").write_text("\n".join(pre) + "\n")
    (root / "init").write_text(INIT)
    (root / "init").chmod(0o755)
    paths = [os.path.relpath(os.path.join(d, n), root) for d, dirs, files in os.walk(root) for n in dirs + files]
    cpio = subprocess.run(["cpio", "--null", "-o", "-H", "newc", "--quiet"], cwd=root, capture_output=True,
                          check=True, input=b"\0".join(p.encode() for p in [".", *paths])).stdout
    initrd = work / "initrd.gz"
    initrd.write_bytes(gzip.compress(cpio, compresslevel=1))
    vmlinuz = work / f"vmlinuz-{kver}"
    shutil.copy2(kdir / "boot" / f"vmlinuz-{kver}", vmlinuz)
    meta = {"kernel_package": pkg, "kver": kver, "vmlinuz": str(vmlinuz), "initrd": str(initrd),
            "preload": pre, "on_demand": ondemand, "initrd_bytes": initrd.stat().st_size}
    (work / "build.json").write_text(json.dumps(meta, indent=1))
    log(f"built {pkg}: initrd {initrd.stat().st_size / 2**20:.1f} MiB, {len(pre) + len(ondemand)} modules")
    return meta


def qemu_argv(meta: dict[str, str], out: Path, mem_mb: int = 6144) -> list[str]:
    return ["qemu-system-x86_64", "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "2", "-m", str(mem_mb),
            "-kernel", meta["vmlinuz"], "-initrd", meta["initrd"],
            "-append", "console=ttyS0 panic=-1 quiet loglevel=3",
            "-nographic", "-no-reboot", "-nodefaults", "-serial", "stdio", "-monitor", "none",
            "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
            "-virtfs", f"local,path={out},mount_tag=out,security_model=none"]


def guest_python() -> str:
    """The project's venv interpreter when there is one (it has benchctl's dependencies), else this one."""
    venv = REPO / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def run_guest(meta: dict[str, str], out: Path, workloads: list[str], timeout: int = TIMEOUT_S,
              drive: list[str] | None = None, signals: bool = True, overhead: bool = False) -> dict:
    """Boot, run the workloads in the guest, return the MARK timeline; outputs land in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "guest.sh").write_text(GUEST.format(repo=REPO, python=guest_python(), workloads=" ".join(workloads),
                                               drive=" ".join(drive or []), kver=meta["kver"],
                                               signals="yes" if signals else "", overhead="yes" if overhead else ""))
    argv = qemu_argv(meta, out)
    t0 = time.monotonic()
    marks: list[tuple[float, str]] = []
    console = out / "console.log"
    with console.open("w") as con:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace")
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                con.write(line)
                if line.startswith("MARK "):
                    marks.append((round(time.monotonic() - t0, 2), line[5:].strip()))
                    log(f"+{marks[-1][0]:.1f}s {marks[-1][1]}")
                if time.monotonic() - t0 > timeout:
                    raise TimeoutError(f"guest did not finish in {timeout} s (console: {console})")
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    result = {"wall_s": round(time.monotonic() - t0, 1), "marks": marks, "qemu_rc": proc.returncode,
              "argv": argv, "out": str(out)}
    (out / "timeline.json").write_text(json.dumps(result, indent=1))
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=["build", "run", "all"])
    ap.add_argument("--work", type=Path, default=Path("/var/tmp/benchctl-vm"))
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--workloads", default="fio-dmcrypt seqread-xfs", help="run with `benchctl run`")
    ap.add_argument("--no-signals", action="store_true", help="skip the SIGINT / SIGKILL+cleanup steps")
    ap.add_argument("--overhead", action="store_true", help="also run tests/perf/storage_overhead.py with dm-crypt")
    ap.add_argument("--drive", default="", help="also drive these without the engine (tests/storage_drive.py)")
    a = ap.parse_args(argv)
    t0 = time.monotonic()
    if a.action in ("build", "all"):
        meta = build(a.work)
    else:
        meta = json.loads((a.work / "build.json").read_text())
    if a.action in ("run", "all"):
        out = a.out or a.work / f"out-{time.strftime('%Y%m%dT%H%M%S')}"
        res = run_guest(meta, out.resolve(), a.workloads.split(), drive=a.drive.split(), signals=not a.no_signals, overhead=a.overhead)
        print(json.dumps({k: res[k] for k in ("wall_s", "marks", "out")}, indent=1))
    log(f"total {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
