"""Record real arm64 `benchctl env --format json` fingerprints by booting Debian's arm64 kernel under qemu TCG.

No arm64 hardware is needed: qemu-system-aarch64 emulates the CPU (-cpu
neoverse-n1 gives a real Neoverse N1 MIDR, a negative control for the BBML2
allow-list; -cpu max is QEMU's own model). The guest's root filesystem is a
Debian bookworm arm64 tree made with `mmdebstrap --variant=extract` (python3,
python3-click, busybox-static, kmod, util-linux, the kernel), shared over 9p
read-only; this checkout is shared as /repo and run with the guest's own
python3 (benchctl env needs only click). Outputs land in a writable 9p share.

    python3 tests/vm/arm64_env.py --work /var/tmp/benchctl-vm --out tests/fixtures/arm64-env

writes <out>/qemu-<cpu>.json (the fingerprint), <out>/qemu-<cpu>.dmesg.txt and
<out>/qemu-<cpu>.console.log for each CPU model. About a minute per CPU model
after a ~15 s root-filesystem build.
"""

from __future__ import annotations

import argparse
import gzip
import json
import lzma
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import deadline  # noqa: E402  (tests/support/deadline.py)
from harness import REPO, load_order, log, module_paths, run, stall_dump  # noqa: E402

MIRRORS = [
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
]
PACKAGES = "python3,python3-click,busybox-static,linux-image-arm64,kmod,util-linux"
PRELOAD = ["virtio_pci", "9pnet_virtio", "9p"]
CPUS = {"neoverse-n1": "neoverse-n1", "max": "max,pauth-impdef=on"}

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
hostname benchctl-arm64
KVER=$(uname -r)
while read -r m; do insmod "/lib/modules/$KVER/$m" || echo "MARK insmod-failed $m"; done < /preload.list
R=/newroot
mkdir -p $R
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 root $R || echo "MARK fail root"
mount -t proc proc $R/proc; mount -t sysfs sys $R/sys; mount -t devtmpfs dev $R/dev
mount -t debugfs debugfs $R/sys/kernel/debug 2>/dev/null
mount -t tmpfs tmpfs $R/run; mount -t tmpfs tmpfs $R/tmp
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 repo $R/repo || echo "MARK fail repo"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out $R/out || echo "MARK fail out"
echo "MARK chroot $(cut -d' ' -f1 /proc/uptime)"
chroot $R /bin/busybox sh -c 'cd /repo && export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin && HOME=/tmp PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=/repo \
  python3 -m benchctl env --format json > /out/env.json 2> /out/env.err; echo "MARK rc env $?"; dmesg > /out/dmesg.txt'
sync; umount $R/out
echo "MARK poweroff $(cut -d' ' -f1 /proc/uptime)"
echo o > /proc/sysrq-trigger; sleep 5; poweroff -f
"""


def initramfs(root: Path, kver: str, preload: list[str], init: str, ird: Path) -> bytes:
    """A gzipped newc initramfs: the tree's static busybox, `preload` modules (+ dependencies, in load
    order, listed in /preload.list) and `init`; `ird` is the scratch folder it is assembled in."""
    moddir = root / "lib/modules" / kver
    names, deps = module_paths(moddir)
    pre = load_order(preload, names, deps)
    shutil.rmtree(ird, ignore_errors=True)
    for d in ("bin", "proc", "sys", "dev", "newroot"):
        (ird / d).mkdir(parents=True)
    shutil.copy2(root / "bin/busybox", ird / "bin/busybox")
    plain = []
    for rel in pre:
        # busybox insmod loads plain .ko only; trixie's kernels ship .ko.xz
        name = rel.removesuffix(".xz")
        dst = ird / "lib/modules" / kver / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".xz"):
            dst.write_bytes(lzma.decompress((moddir / rel).read_bytes()))
        else:
            shutil.copy2(moddir / rel, dst)
        plain.append(name)
    (ird / "preload.list").write_text("\n".join(plain) + "\n")
    (ird / "init").write_text(init)
    (ird / "init").chmod(0o755)
    paths = [os.path.relpath(os.path.join(d, n), ird) for d, dirs, files in os.walk(ird) for n in dirs + files]
    cpio = deadline.run(
        ["cpio", "--null", "-o", "-H", "newc", "--quiet"],
        timeout=120,
        check=True,
        cwd=ird,
        input=b"\0".join(p.encode() for p in [".", *paths]),
    ).stdout
    return gzip.compress(cpio, compresslevel=1)


def build(work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    root = work / "arm64root"
    if not (root / "usr/bin/python3").exists():
        shutil.rmtree(root, ignore_errors=True)
        log("mmdebstrap arm64 root (extract)")
        run(
            [
                "mmdebstrap",
                "--arch=arm64",
                "--variant=extract",
                f"--include={PACKAGES}",
                "bookworm",
                str(root),
                *MIRRORS,
            ],
            timeout=600,
        )
    for d in ("proc", "sys", "dev", "run", "tmp", "repo", "out"):
        (root / d).mkdir(exist_ok=True)
    kver = sorted(p.name for p in (root / "lib/modules").iterdir())[-1]
    moddir = root / "lib/modules" / kver
    if not (moddir / "modules.dep").exists():
        run(["depmod", "-b", str(root), kver])
    initrd = work / "arm64-initrd.gz"
    initrd.write_bytes(initramfs(root, kver, PRELOAD, INIT, work / "arm64-initramfs"))
    return {"root": str(root), "kver": kver, "vmlinuz": str(root / "boot" / f"vmlinuz-{kver}"), "initrd": str(initrd)}


def boot(meta: dict, cpu: str, out: Path, timeout: int = 600) -> dict:
    """Boot once; deadline.Stalled past `timeout` s (phase from the MARK lines, console tail, monitor dump),
    deadline.Failed unless the guest reached its poweroff mark.

    thread=single as on x86 (tests/vm/README.md): multi-threaded TCG froze x86 guests in kernel text
    patching; arm64 patches its text too (alternatives, static keys, perf), so it gets the same setting.
    """
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="benchctl-qmp-") as tmp:  # sun_path is 108 bytes: keep it short
        qmp = Path(tmp) / "qmp.sock"
        argv = [
            "qemu-system-aarch64",
            "-M",
            "virt",
            "-cpu",
            CPUS[cpu],
            "-smp",
            "2",
            "-m",
            "2048",
            "-accel",
            "tcg,thread=single",
            "-kernel",
            meta["vmlinuz"],
            "-initrd",
            meta["initrd"],
            "-append",
            "console=ttyAMA0 panic=-1 quiet loglevel=3",
            "-nographic",
            "-no-reboot",
            "-virtfs",
            f"local,path={meta['root']},mount_tag=root,security_model=none,readonly=on,multidevs=remap",
            "-virtfs",
            f"local,path={REPO},mount_tag=repo,security_model=none,readonly=on,multidevs=remap",
            "-virtfs",
            f"local,path={out},mount_tag=out,security_model=none",
            "-qmp",
            f"unix:{qmp},server=on,wait=off",
        ]
        with deadline.Console(
            argv,
            log=out / "console.log",
            timeout=timeout,
            name=f"arm64 guest ({cpu})",
            on_stall=lambda _: stall_dump(qmp, out),
        ) as con:
            rc = con.wait(timeout=timeout)
            if not con.seen(r"^poweroff\b"):
                con.fail(f"qemu exited (status {rc}) before the guest's poweroff mark")
    return {"cpu": cpu, "argv": argv, "wall_s": round(con.elapsed(), 1), "marks": [m for _, m in con.marks]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=Path("/var/tmp/benchctl-vm"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cpu", action="append", choices=sorted(CPUS))
    a = ap.parse_args()
    meta = build(a.work)
    a.out.mkdir(parents=True, exist_ok=True)
    for cpu in a.cpu or sorted(CPUS):
        scratch = a.work / f"arm64-out-{cpu}"
        shutil.rmtree(scratch, ignore_errors=True)
        res = boot(meta, cpu, scratch)
        log(f"{cpu}: {res['wall_s']} s, marks {res['marks']}")
        env = scratch / "env.json"
        if not env.exists() or not env.read_text().strip():
            log(f"{cpu}: no fingerprint; see {scratch}/console.log and env.err")
            continue
        json.loads(env.read_text())  # must be valid JSON
        shutil.copy2(env, a.out / f"qemu-{cpu}.json")
        shutil.copy2(scratch / "dmesg.txt", a.out / f"qemu-{cpu}.dmesg.txt")
        (a.out / f"qemu-{cpu}.boot.json").write_text(
            json.dumps(
                {"kernel": meta["kver"], "qemu_argv": res["argv"], "wall_s": res["wall_s"], "marks": res["marks"]},
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
