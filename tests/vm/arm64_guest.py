"""The arm64 guest of the change itself: Debian trixie with both sides of v6.18 from trixie-backports.

Debian's trixie-backports suite carries arm64 kernels on both sides of the
block-mapping series (merged for v6.18): 6.17.x without it, 6.18.x with it
(../shared/reference/arm64-6.18-bbml2.md). `build(work)` makes one Debian
trixie arm64 root with the newest 6.17.x and the newest 6.18.x image packages
(chosen from the suite's Packages index at build time, recorded in
WORK/kernels.json, so a point release leaving the index breaks nothing), the
user-space a campaign host needs, and one initramfs per kernel as
/boot/initrd.img-KVER. The tree is cached under WORK and rebuilt when its
inputs (package list, kernel choice) change; the campaign, the env recorder
and the tests share it.

CPU identities: the kernel's BBML2_NOABORT allow-list is by MIDR only, and
qemu's arm CPUs take a `midr` property, so `-cpu neoverse-n1,midr=0xc00fac30`
is an emulated Neoverse N1 that the kernel trusts as an AmpereOne. The
identity cannot change across kexec: an arm that differs by CPU needs a new
qemu process (a cold boot).

    python3 tests/vm/arm64_guest.py build [--work DIR]   # prints the kernels chosen

Standard library only (plus tests/support/deadline.py), like the other VM harnesses.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import arm64_memtier  # noqa: E402
import deadline  # noqa: E402  (tests/support/deadline.py)
from arm64_env import initramfs  # noqa: E402
from harness import REPO, log, run, stall_dump  # noqa: E402

SUITE = "trixie"
MIRROR = "http://deb.debian.org/debian"
MIRRORS = [
    f"deb {MIRROR} trixie main",
    f"deb {MIRROR} trixie-updates main",
    f"deb {MIRROR} trixie-backports main",
    "deb http://deb.debian.org/debian-security trixie-security main",
]
INDEX_URL = f"{MIRROR}/dists/trixie-backports/main/binary-arm64/Packages.xz"
# The two sides of the change: the newest point release of each series in the index.
SIDES = {"without": (6, 17), "with": (6, 18)}
PACKAGES = [
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
# The bbml2 suite's programs (issue 18): the workloads' [needs] (memcached with memcaslap as the
# fallback generator, fio, mkfs.ext4, mkfs.xfs/xfs_io, cryptsetup/dmsetup, losetup), perf, the C
# compiler tlb-probe builds itself with, and what memtier_benchmark is built from (arm64_memtier).
SUITE_PACKAGES = [
    "memcached",
    "libmemcached-tools",
    "fio",
    "xfsprogs",
    "e2fsprogs",
    "cryptsetup-bin",
    "dmsetup",
    "linux-perf",
    "gcc",
    "libc6-dev",
    "util-linux",
    "mount",
    "procps",
    "grep",
    "sed",
    "diffutils",
    "findutils",
    "gzip",
    "g++",
    "make",
    "autoconf",
    "automake",
    "libtool",
    "pkg-config",
    "libevent-dev",
    "libssl-dev",
    "zlib1g-dev",
    "python3-dev",
]
PACKAGES += SUITE_PACKAGES
# Identities by name: the MIDR qemu gives the guest's CPUs (None: the model's own).
CPUS: dict[str, tuple[str, str | None]] = {
    "neoverse-n1": ("neoverse-n1", None),  # 0x414fd0c1: not on any allow-list
    "ampereone": ("neoverse-n1", "0xc00fac30"),  # AmpereOne r0p0: on 6.18's list, not on 6.17's
    "neoverse-v3-r0p2": ("neoverse-n1", "0x410fd842"),  # on both 6.17's and 6.18's lists
}
BUILD_TIMEOUT_S = 1200
INDEX_TIMEOUT_S = 120

_IMAGE = re.compile(r"^linux-image-((\d+)\.(\d+)\.(\d+)\+deb\d+-arm64)$")
DEB_TIMEOUT_S = 600


def _stanzas(index: str) -> list[dict[str, str]]:
    out = []
    for block in index.split("\n\n"):
        fields = dict(m.groups() for m in re.finditer(r"^([A-Za-z0-9-]+): ?(.*)$", block, re.MULTILINE))
        if "Package" in fields:
            out.append(fields)
    return out


def default_work() -> Path:
    """The shared cache: $BENCHCTL_VM_WORK/arm64-trixie (default /var/tmp/benchctl-vm)."""
    return Path(os.environ.get("BENCHCTL_VM_WORK", "/var/tmp/benchctl-vm")) / "arm64-trixie"


def cpu_option(identity: str) -> str:
    """qemu's -cpu value for an identity name (see CPUS)."""
    model, midr = CPUS[identity]
    return model if midr is None else f"{model},midr={midr}"


def pick_kernels(index: str) -> dict[str, dict[str, str]]:
    """{"without": {...6.17.13...}, "with": {...6.18.15...}}: the newest release of each side's
    series among the plain -arm64 image packages of a Packages index, with where to fetch it.

    The image package is fetched and unpacked by itself (dpkg-deb -x), not installed through
    apt: the index keeps old images after it drops the linux-base-KVER packages they depend on
    (seen for every 6.18.x on 2026-12-07), and the image holds all a guest boots from."""
    found: dict[str, tuple[tuple[int, int, int], dict[str, str]]] = {}
    for st in _stanzas(index):
        m = _IMAGE.match(st["Package"])
        if not m or "Filename" not in st:
            continue
        ver = (int(m[2]), int(m[3]), int(m[4]))
        info = {"release": m[1], "version": st.get("Version", ""), "filename": st["Filename"]}
        info["sha256"] = st.get("SHA256", "")
        for side, series in SIDES.items():
            if ver[:2] == series and (side not in found or ver > found[side][0]):
                found[side] = (ver, info)
    missing = [f"{side} ({a}.{b}.x)" for side, (a, b) in SIDES.items() if side not in found]
    if missing:
        raise RuntimeError(f"{INDEX_URL} lists no linux-image for: {', '.join(missing)}")
    return {side: found[side][1] for side in SIDES}


def pick_series(index: str, series: list[tuple[int, int]]) -> list[dict[str, str]]:
    """Every plain -arm64 image of these series in the index, oldest first (a bisection's list)."""
    found = []
    for st in _stanzas(index):
        m = _IMAGE.match(st["Package"])
        if m and "Filename" in st and (int(m[2]), int(m[3])) in series:
            ver = (int(m[2]), int(m[3]), int(m[4]))
            found.append(
                (
                    ver,
                    {
                        "release": m[1],
                        "version": st.get("Version", ""),
                        "filename": st["Filename"],
                        "sha256": st.get("SHA256", ""),
                    },
                )
            )
    return [info for _, info in sorted(found, key=lambda x: x[0])]


def add_kernels(work: Path, root: Path, infos: list[dict[str, str]]) -> list[str]:
    """Unpack more image packages into the tree (cached by their files); returns their releases."""
    out = []
    for info in infos:
        kver = info["release"]
        if not (root / "boot" / f"vmlinuz-{kver}").exists() or not (root / "lib/modules" / kver).is_dir():
            run(["dpkg-deb", "-x", str(fetch_deb(work, info)), str(root)], timeout=DEB_TIMEOUT_S)
            run(["depmod", "-b", str(root), kver], timeout=120)
        out.append(kver)
    return out


def fetch_deb(work: Path, info: dict[str, str]) -> Path:
    """The image package in WORK/debs (cached), its SHA256 checked against the index."""
    debs = work / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    path = debs / Path(info["filename"]).name
    if path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == info["sha256"]:
        return path
    log(f"fetching {info['filename']}")
    tmp = path.with_suffix(".part")
    with urllib.request.urlopen(f"{MIRROR}/{info['filename']}", timeout=DEB_TIMEOUT_S) as r:  # noqa: S310
        with tmp.open("wb") as f:
            shutil.copyfileobj(r, f, 1 << 20)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    if digest != info["sha256"]:
        tmp.unlink()
        raise RuntimeError(f"{info['filename']}: sha256 {digest} is not the index's {info['sha256']}")
    tmp.rename(path)
    return path


def fetch_index() -> str:
    with urllib.request.urlopen(INDEX_URL, timeout=INDEX_TIMEOUT_S) as r:  # noqa: S310 (a fixed https/http URL)
        return lzma.decompress(r.read()).decode("utf-8", errors="replace")


# What dpkg's maintainer scripts would have made (the extract variant runs none): the
# update-alternatives links of gcc, g++, mawk and automake (targets as globs: the newest match).
# tlb-probe compiles with `cc`, as on a real host; memtier's autoreconf runs `aclocal`.
ALTERNATIVES = {
    "usr/bin/cc": "gcc",
    "usr/bin/c++": "g++",
    "usr/bin/awk": "mawk",
    "usr/bin/aclocal": "aclocal-1.*",
    "usr/bin/automake": "automake-1.*",
}


# memcached started as root needs `-u root` to resolve (benchctl passes it): exit 67 without /etc/passwd.
ACCOUNTS = {
    "passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    "group": "root:x:0:\nnogroup:x:65534:\n",
}


def alternatives(root: Path) -> None:
    """The alternatives links whose target is in the tree (an existing link or file is left alone)."""
    for link, pattern in ALTERNATIVES.items():
        path = root / link
        found = sorted(path.parent.glob(pattern))
        if found and not path.exists() and not path.is_symlink():
            path.symlink_to(found[-1].name)


def build_root(work: Path, extra: list[str] | None = None) -> dict:
    """The trixie tree with both kernels (cached); returns {"root", "kernels", "packages", ...}.

    `kernels` maps each side to its release (uname -r); the choice is made from the index
    the first time and kept in WORK/kernels.json until the tree is rebuilt."""
    work.mkdir(parents=True, exist_ok=True)
    root = work / "root"
    meta_file = work / "kernels.json"
    pkgs = [*PACKAGES, *(extra or [])]
    want = ",".join(pkgs)
    stamp = work / "root.packages"
    fresh = not stamp.exists() or stamp.read_text() != want or not (root / "usr/bin/python3").exists()
    if fresh or not meta_file.exists():
        log(f"reading {INDEX_URL}")
        chosen = pick_kernels(fetch_index())
    else:
        chosen = json.loads(meta_file.read_text())["chosen"]
    if fresh:
        shutil.rmtree(root, ignore_errors=True)
        stamp.unlink(missing_ok=True)
        t0 = time.monotonic()
        log(f"mmdebstrap arm64 {SUITE} root (extract): {want}")
        run(
            ["mmdebstrap", "--arch=arm64", "--variant=extract", f"--include={want}", SUITE, str(root), *MIRRORS],
            timeout=BUILD_TIMEOUT_S,
        )
        stamp.write_text(want)
        log(f"root built in {time.monotonic() - t0:.0f} s")
    for d in ("proc", "sys", "dev", "run", "tmp", "repo", "out"):
        (root / d).mkdir(exist_ok=True)
    sh = root / "usr/bin/sh"
    if not sh.exists() and not sh.is_symlink():
        sh.symlink_to("busybox")  # the extract variant installs no shell but busybox
    for info in chosen.values():
        kver = info["release"]
        moddir = root / "lib/modules" / kver
        if not (root / "boot" / f"vmlinuz-{kver}").exists() or not moddir.is_dir():
            run(["dpkg-deb", "-x", str(fetch_deb(work, info)), str(root)], timeout=DEB_TIMEOUT_S)
        run(["depmod", "-b", str(root), kver], timeout=120)
    alternatives(root)
    for name, text in ACCOUNTS.items():  # base-passwd's postinst makes these on a real host
        if not (root / "etc" / name).exists():
            (root / "etc" / name).write_text(text)
    kernels = {side: info["release"] for side, info in chosen.items()}
    doc = {"suite": SUITE, "index": INDEX_URL, "kernels": kernels, "chosen": chosen, "packages": pkgs}
    doc["memtier"] = arm64_memtier.ensure(work, root, want)
    doc["hdrh"] = arm64_memtier.ensure_hdrh(work, root, want)
    meta_file.write_text(json.dumps(doc, indent=1) + "\n")
    return {"root": root, **doc}


# The kernel's own module requests (crypto-xts, fs-ext4, ...) run its modprobe in the initramfs: hand
# them to the tree's kmod, which reads the tree's /lib/modules (.ko.xz and depmod's files). Shared by
# every init that chroots into the tree (EXEC_INIT, arm64_campaign.INIT).
MODPROBE_HELPER = r"""printf '#!/bin/sh\nexec chroot /newroot /sbin/modprobe "$@"\n' > /bin/modprobe-tree
chmod 755 /bin/modprobe-tree; echo /bin/modprobe-tree > /proc/sys/kernel/modprobe
"""

EXEC_INIT = (
    r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
fail() { echo "MARK fail $*"; echo o > /proc/sysrq-trigger; sleep 5; poweroff -f; }
hostname benchctl-arm64
ip link set lo up  # servers bind to 127.0.0.1 (memcached): without it every connect fails
KVER=$(uname -r)
while read -r m; do insmod "/lib/modules/$KVER/$m" || echo "MARK insmod-failed $m"; done < /preload.list
R=/newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose root $R || fail root
mount -t proc proc $R/proc; mount -t sysfs sys $R/sys; mount -t devtmpfs dev $R/dev
mount -t debugfs debugfs $R/sys/kernel/debug 2>/dev/null
mount -t tmpfs -o mode=0755 tmpfs $R/run; mount -t tmpfs -o mode=1777 tmpfs $R/tmp
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose repo $R/repo || fail repo
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out $R/out || fail out
"""
    + MODPROBE_HELPER
    + r"""(while sleep 20; do echo "TICK $(cut -d' ' -f1 /proc/uptime)"; done) &
echo "MARK exec $(cut -d' ' -f1 /proc/uptime)"
chroot $R /bin/sh -c 'cd /repo && export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/tmp \
  PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=/repo; dmesg > /out/dmesg.txt; sh /out/cmd.sh > /out/stdout.txt 2> /out/stderr.txt; echo $? > /out/rc'
echo "MARK rc $(cat $R/out/rc) $(cut -d' ' -f1 /proc/uptime)"
sync; umount $R/out
echo "MARK poweroff $(cut -d' ' -f1 /proc/uptime)"
echo o > /proc/sysrq-trigger; sleep 5; poweroff -f
"""
)
PRELOAD = ["virtio_pci", "9pnet_virtio", "9p"]
BASE_CMDLINE = "console=ttyAMA0 panic=-1 loglevel=3 nokaslr"
MEM_MB = 2048


def exec_initrd(work: Path, root: Path, kver: str) -> Path:
    """The initramfs that runs /out/cmd.sh once in the tree and powers off (cached per kernel)."""
    path = work / f"exec-initrd-{kver}.gz"
    stamp = work / f"exec-initrd-{kver}.init"
    if not path.exists() or not stamp.exists() or stamp.read_text() != EXEC_INIT:
        path.write_bytes(initramfs(root, kver, PRELOAD, EXEC_INIT, work / "exec-initramfs"))
        stamp.write_text(EXEC_INIT)
    return path


def qemu_argv(
    kernel: Path,
    initrd: Path | None,
    cpu: str,
    cmdline: str,
    shares: dict[str, tuple[Path, bool]],
    mem_mb: int = MEM_MB,
) -> list[str]:
    """qemu-system-aarch64 for one cold boot: virt (no DTB randomness, so every boot of an arm
    sees the same firmware tables), 2 vCPUs, `mem_mb` (2 GiB: the recorded guests), TCG
    single-threaded (tests/vm/README.md), `cpu` as -cpu (cpu_option(identity)), and 9p shares {tag: (path, readonly)}. One copy for
    every arm64 guest here: `exec` and tests/vm/boot_controller.py."""
    argv = ["qemu-system-aarch64", "-M", "virt,dtb-randomness=off", "-cpu", cpu, "-smp", "2", "-m", str(mem_mb)]
    argv += ["-accel", "tcg,thread=single", "-nographic", "-no-reboot", "-kernel", str(kernel)]
    argv += ["-initrd", str(initrd)] if initrd else []
    argv += ["-append", cmdline]
    for tag, (path, ro) in shares.items():
        opts = f"local,path={path},mount_tag={tag},security_model=none,multidevs=remap"
        argv += ["-virtfs", opts + (",readonly=on" if ro else "")]
    return argv


def exec_in_guest(
    work: Path,
    side: str,
    identity: str,
    append: str,
    out: Path,
    command: list[str],
    timeout: float = 900,
    mem_mb: int = MEM_MB,
) -> dict:
    """Cold-boot the `side` kernel ("with"/"without") as `identity`, run `command` as root in the
    tree (cwd /repo, this checkout read-only; /out = `out`, writable); returns the boot's facts.
    deadline.Stalled past `timeout` (phase from the MARK lines, console tail, register dump)."""
    doc = build_root(work)
    root, kver = doc["root"], doc["kernels"][side]
    initrd = exec_initrd(work, root, kver)
    out.mkdir(parents=True, exist_ok=True)
    for f in ("stdout.txt", "stderr.txt", "rc", "dmesg.txt"):
        (out / f).unlink(missing_ok=True)
    (out / "cmd.sh").write_text(shlex.join(command) + "\n")
    with tempfile.TemporaryDirectory(prefix="benchctl-qmp-") as tmp:
        qmp = Path(tmp) / "qmp.sock"
        argv = qemu_argv(
            root / "boot" / f"vmlinuz-{kver}",
            initrd,
            cpu_option(identity),
            f"{BASE_CMDLINE} {append}".strip(),
            {"root": (root, True), "repo": (REPO, True), "out": (out, False)},
            mem_mb,
        ) + ["-qmp", f"unix:{qmp},server=on,wait=off"]
        with deadline.Console(
            argv,
            log=out / "console.log",
            timeout=timeout,
            name=f"arm64 guest ({kver}, {identity})",
            on_stall=lambda _: stall_dump(qmp, out),
        ) as con:
            rc = con.wait(timeout=timeout)
            if not con.seen(r"^poweroff\b"):
                con.fail(f"qemu exited (status {rc}) before the guest's poweroff mark")
    rc_file = out / "rc"
    facts = {
        "kernel": kver,
        "side": side,
        "identity": identity,
        "cpu": cpu_option(identity),
        "append": append,
        "mem_mb": mem_mb,
        "qemu_argv": argv,
        "wall_s": round(con.elapsed(), 1),
        "rc": int(rc_file.read_text()) if rc_file.exists() else None,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (out / "boot.json").write_text(json.dumps(facts, indent=1) + "\n")
    return facts


def kernel_config(root: Path, kver: str) -> dict[str, str]:
    """CONFIG_X -> value from the tree's /boot/config-KVER."""
    out = {}
    for line in (root / "boot" / f"config-{kver}").read_text().splitlines():
        name, eq, value = line.partition("=")
        if eq and name.startswith("CONFIG_"):
            out[name] = value
    return out


# The recorded trees of tests/fixtures/arm64-trixie: name -> (kernel side, CPU identity, extra parameters).
TREES: dict[str, tuple[str, str, str]] = {
    "ampereone-6.18": ("with", "ampereone", ""),
    "n1-6.18": ("with", "neoverse-n1", ""),
    "ampereone-6.17": ("without", "ampereone", ""),
    "v3r0p2-6.17": ("without", "neoverse-v3-r0p2", ""),
    "ampereone-6.18-rodatafull": ("with", "ampereone", "rodata=full"),
    "n1-6.18-noalias": ("with", "neoverse-n1", "rodata=noalias"),
}


def record_trees(work: Path, out: Path, names: list[str]) -> list[dict]:
    """Boot each tree's kernel and identity once and record it (tests/vm/record_tree.py) to OUT/NAME."""
    done = []
    for name in names:
        side, identity, append = TREES[name]
        scratch = work / f"record-{name}"
        shutil.rmtree(scratch, ignore_errors=True)
        facts = exec_in_guest(
            work, side, identity, append, scratch, ["python3", "tests/vm/record_tree.py", "/out/tree"]
        )
        if facts["rc"] != 0:
            raise RuntimeError(f"recording {name} failed: {(scratch / 'stderr.txt').read_text()[-2000:]}")
        dst = out / name
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(scratch / "tree", dst)
        (dst / "boot.json").write_text(json.dumps(facts, indent=1) + "\n")
        log(f"{name}: {(scratch / 'stdout.txt').read_text().strip()}")
        done.append({"name": name, **facts})
    return done


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="action", required=True)
    sub.add_parser("pick", help="print the kernels the index offers now")
    b = sub.add_parser("build", help="build (or reuse) the cached tree")
    b.add_argument("--work", type=Path, default=None)
    e = sub.add_parser("exec", help="cold-boot one kernel and CPU identity, run a command inside, power off")
    e.add_argument("--work", type=Path, default=None)
    e.add_argument("--kernel", choices=sorted(SIDES), required=True, help="with (6.18.x) or without (6.17.x)")
    e.add_argument("--cpu", choices=sorted(CPUS), required=True)
    e.add_argument("--append", default="", help="extra kernel parameters")
    e.add_argument("--out", type=Path, required=True)
    e.add_argument("--timeout", type=float, default=900)
    e.add_argument("command", nargs="+")
    r = sub.add_parser("record-trees", help="record the env trees of tests/fixtures/arm64-trixie")
    r.add_argument("--work", type=Path, default=None)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("names", nargs="*", choices=[[], *TREES], default=[])
    a = ap.parse_args()
    if a.action == "record-trees":
        record_trees(a.work or default_work(), a.out, a.names or list(TREES))
        return 0
    if a.action == "pick":
        print(json.dumps(pick_kernels(fetch_index()), indent=1))
        return 0
    work = a.work or default_work()
    if a.action == "build":
        doc = build_root(work)
        print(json.dumps({k: v if k != "root" else str(v) for k, v in doc.items()}, indent=1))
        return 0
    facts = exec_in_guest(work, a.kernel, a.cpu, a.append, a.out.resolve(), a.command, a.timeout)
    log(f"{facts['kernel']} as {a.cpu}: rc {facts['rc']}, {facts['wall_s']} s; output in {a.out}")
    return 0 if facts["rc"] == 0 else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, deadline.Failed) as e:
        print(f"arm64_guest: {e}", file=sys.stderr)
        sys.exit(1)
