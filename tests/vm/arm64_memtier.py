"""memtier_benchmark for the arm64 guest: built once from vendor/ in the guest's own tree, cached.

benchctl prefers memtier_benchmark as memcached's load generator; trixie does
not package it. It is built from the same source release the host uses
(vendor/memtier_benchmark-*.tar.gz, checked against vendor/SHA256SUMS) with
the tree's own arm64 g++, libevent and OpenSSL, by running the tree's tools
under qemu-user: a chroot of the tree in a private mount namespace (tmpfs
/tmp, /proc, /dev bound; all gone when the build's process ends), with
qemu-aarch64-static registered in binfmt_misc under our own name for the
length of the build (flags OPF as Debian's own rule: F opens the interpreter
at registration, so the tree needs no copy of it; P keeps argv[0]) and unregistered after.

Why qemu-user, by measured time on this 2-core host (2026-12-07):
- qemu-user chroot, make -j2: see BUILD_S below (the whole build, autoreconf
  included); both host cores emulate, and only user space is emulated.
- inside a TCG guest (tests/vm/arm64_guest.py exec): one emulated system,
  single-threaded TCG (thread=single, tests/vm/README.md), kernel and 9p
  included: several times slower than qemu-user, so not used.
- cross-compiling on the host: bookworm's aarch64 g++ 12 against trixie's
  libstdc++ 14 headers and libevent/OpenSSL arm64 -dev packages mixes two
  releases' C++ runtimes (../shared notes: C++ cross builds against another
  release's tree fail); not used.
The binary is cached as WORK/memtier/memtier_benchmark with a key over its
inputs (source tarball digest, the tree's package list, this file's build
script) and installed into the tree as /usr/local/bin/memtier_benchmark; a
changed input rebuilds it. Without qemu-user-static or binfmt_misc the guest
has no memtier and benchctl picks memcaslap (libmemcached-tools, in the tree):
`ensure` says so and returns None.

    python3 tests/vm/arm64_memtier.py --work DIR   # build (or reuse); prints the key and seconds

Standard library only, like the other VM harnesses.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from harness import REPO, log, run  # noqa: E402

# Debian's name for qemu-aarch64-static in preserve-argv0 mode (binfmt flag P): busybox's sh, the tree's
# /bin/sh, runs its applets by re-executing itself under their name, which qemu must pass on.
QEMU = Path("/usr/libexec/qemu-binfmt/aarch64-binfmt-P")
BINFMT = Path("/proc/sys/fs/binfmt_misc")
ENTRY = "benchctl-aarch64"
# ELF64, little-endian, machine 0xb7 (aarch64), executable or shared object: Debian's qemu-aarch64 rule.
MAGIC = r"\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00"
MASK = r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"
BUILD_TIMEOUT_S = 1500
# In the namespace: a tmpfs /tmp, /proc and /dev for the chroot, the cache as /out, the source
# unpacked in /tmp; then each build's own steps.
PREAMBLE = r"""set -eu
R=$1; SRC=$2; OUT=$3
mount -t tmpfs -o size=1g tmpfs "$R/tmp"
mount -t proc proc "$R/proc"
mount --bind /dev "$R/dev"
mount --bind "$OUT" "$R/out"
tar -xzf "$SRC" -C "$R/tmp"
"""
SCRIPT = (
    PREAMBLE
    + r"""# autoreconf's output is architecture-independent shell: the host's autotools make it natively
(cd "$R"/tmp/memtier_benchmark-*/ && autoreconf -i > "$OUT/build.log" 2>&1)
chroot "$R" /bin/sh -c 'set -eu; export PATH=/usr/bin:/bin:/usr/sbin:/sbin HOME=/tmp TMPDIR=/tmp LC_ALL=C
  cd /tmp/memtier_benchmark-*/
  ./configure >> /out/build.log 2>&1 && make -j2 >> /out/build.log 2>&1
  ./memtier_benchmark --version > /out/version.txt 2>&1
  cp memtier_benchmark /out/memtier_benchmark'
"""
)


def source() -> Path:
    """The source release, as scripts/install-memtier.sh finds it (vendor/, then ../shared/vendor/)."""
    for d in (REPO / "vendor", REPO.parent / "shared" / "vendor"):
        found = sorted(d.glob("memtier_benchmark-*.tar.gz"))
        if found:
            return found[-1]
    raise FileNotFoundError("no vendor/memtier_benchmark-*.tar.gz")


def checked(src: Path) -> str:
    """The tarball's sha256, which must be the one vendor/SHA256SUMS names (a swapped source is refused)."""
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    for line in (REPO / "vendor" / "SHA256SUMS").read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == src.name:
            if parts[0] != digest:
                raise RuntimeError(f"{src}: sha256 {digest}, vendor/SHA256SUMS says {parts[0]}")
            return digest
    raise RuntimeError(f"{src.name} is not listed in vendor/SHA256SUMS")


def key(src_digest: str, packages: str, script: str = SCRIPT) -> str:
    """What a build depends on: the source, the tree's packages (its compiler and libraries), the script."""
    return hashlib.sha256("\n".join([src_digest, packages, script]).encode()).hexdigest()[:16]


def why_not() -> str | None:
    """Why qemu-user cannot run the tree's tools here, or None."""
    if not QEMU.exists():
        return f"{QEMU} is missing (apt-get install qemu-user-static)"
    if not (BINFMT / "register").exists():
        return f"binfmt_misc is not mounted at {BINFMT} (mount -t binfmt_misc binfmt_misc {BINFMT})"
    if shutil.which("autoreconf") is None:
        return "autoreconf is missing on the host (apt-get install autoconf automake libtool)"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is missing"
    if os.geteuid() != 0:
        return "needs root (chroot, mounts in a private namespace, binfmt_misc)"
    return None


def _build(root: Path, script: str, src: Path, out: Path) -> None:
    """One build (`script` over the tree, a source archive and the output folder) under qemu-user;
    the binfmt entry exists only for its length."""
    entry = BINFMT / ENTRY
    if entry.exists():  # a killed earlier build left it: ours by name
        entry.write_text("-1")
    (BINFMT / "register").write_text(f":{ENTRY}:M::{MAGIC}:{MASK}:{QEMU}:OPF")
    try:
        (root / "out").mkdir(exist_ok=True)
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "build"]
        run([*argv, str(root), str(src), str(out)], timeout=BUILD_TIMEOUT_S)
    finally:
        if entry.exists():
            entry.write_text("-1")


def _cached_build(root: Path, script: str, src: Path, cache: Path, want: str, product: str) -> dict:
    """CACHE/build.json when its key is `want` and CACHE/PRODUCT exists; else a build under qemu-user into
    a fresh CACHE (the key is written last, so a killed build is built again)."""
    meta = cache / "build.json"
    doc = json.loads(meta.read_text()) if meta.exists() else {}
    if doc.get("key") == want and (cache / product).exists():
        return doc
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    log(f"building {product} for arm64 from {src.name} under qemu-user")
    t0 = time.monotonic()
    _build(root, script, src, cache)
    doc = {
        "key": want,
        "source": src.name,
        "method": "qemu-user chroot of the guest tree",
        "build_s": round(time.monotonic() - t0, 1),
        "version": (cache / "version.txt").read_text().strip().splitlines()[:1],
    }
    meta.write_text(json.dumps(doc, indent=1) + "\n")
    log(f"{product} built in {doc['build_s']} s: {doc['version']}")
    return doc


def ensure(work: Path, root: Path, packages: str) -> dict | None:
    """memtier_benchmark in ROOT/usr/local/bin, built if its cached key differs; None (and why, logged)
    when it cannot be built here: the guest then falls back to memcaslap."""
    reason = why_not()
    cache = work / "memtier"
    try:
        src = source()
        want = key(checked(src), packages)
    except (FileNotFoundError, RuntimeError) as e:
        reason = str(e)
    if reason:
        log(f"memtier_benchmark not built for arm64 ({reason}): memcached in the guest uses memcaslap")
        return None
    doc = _cached_build(root, SCRIPT, src, cache, want, "memtier_benchmark")
    binary = cache / "memtier_benchmark"
    dest = root / "usr/local/bin/memtier_benchmark"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(binary, dest)
    return doc


# benchctl decodes memtier's HdrHistograms with hdrh (PyPI hdrhistogram), whose codec is a C extension
# (pyhdrh) with no arm64 wheel and no Debian package: its source release, pinned by digest, is compiled
# with the tree's gcc and python3-dev under qemu-user like memtier, and installed beside the pure-Python
# hdrh package in the tree's /usr/local (on Debian's python3 path).
HDRH = ("hdrhistogram", "0.10.8", "88986eea184d1330c53fca98adf58799339a23ac27f488887b0423c7ce569c34")
HDRH_SCRIPT = (
    PREAMBLE
    + r"""chroot "$R" /bin/sh -c 'set -eu; export PATH=/usr/bin:/bin HOME=/tmp TMPDIR=/tmp LC_ALL=C
  cd /tmp/hdrhistogram-*/
  so=/out/pyhdrh$(python3-config --extension-suffix)
  gcc -O2 -shared -fPIC $(python3-config --includes) src/python-codec.c -o "$so" > /out/build.log 2>&1
  cp -r hdrh /out/hdrh
  cd /out && python3 -c "from hdrh.histogram import HdrHistogram as H; h = H(1, 10**6, 2); h.record_value(5);
print(\"hdrh decode check: median\", H.decode(h.encode()).get_value_at_percentile(50), \"(expected 5)\")" > /out/version.txt'
"""
)


def hdrh_source(cache: Path) -> Path:
    """The pinned source release from PyPI (pip download), its digest checked."""
    name, version, digest = HDRH
    src = cache / f"{name}-{version}.tar.gz"
    if not src.exists() or hashlib.sha256(src.read_bytes()).hexdigest() != digest:
        cache.mkdir(parents=True, exist_ok=True)
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
        run([*pip, f"{name}=={version}", "-d", str(cache)], timeout=300)
        got = hashlib.sha256(src.read_bytes()).hexdigest()
        if got != digest:
            src.unlink()
            raise RuntimeError(f"{src.name}: sha256 {got}, pinned {digest}")
    return src


def ensure_hdrh(work: Path, root: Path, packages: str) -> dict | None:
    """hdrh (with its pyhdrh codec built for arm64) in ROOT's /usr/local python path, built if its key
    differs; None (and why, logged) when it cannot be built here: memcached runs then fail to decode."""
    reason = why_not()
    cache = work / "hdrh"
    if reason:
        log(f"hdrh not built for arm64 ({reason})")
        return None
    src = hdrh_source(work / "hdrh-src")
    doc = _cached_build(root, HDRH_SCRIPT, src, cache, key(HDRH[2], packages, HDRH_SCRIPT), "hdrh")
    pylib = sorted(p.name for p in (root / "usr/lib").glob("python3.*") if p.name[len("python3.") :].isdigit())
    dest = root / "usr/local/lib" / pylib[-1] / "dist-packages"
    dest.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(dest / "hdrh", ignore_errors=True)
    shutil.copytree(cache / "hdrh", dest / "hdrh")
    for so in cache.glob("pyhdrh*.so"):
        shutil.copy2(so, dest / so.name)
    return doc


def main() -> int:
    import arm64_guest

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=None)
    a = ap.parse_args()
    work = a.work or arm64_guest.default_work()
    doc = arm64_guest.build_root(work)
    print(json.dumps(doc.get("memtier"), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
