"""Record a host tree for `benchctl env --root DIR`, inside a guest (or on any Linux host, as root).

Copies the files benchctl's probes read (proc, sys, the kernel config, the
kernel log) under OUT, keeping their paths, plus an extract of /proc/kcore
(only the pages a walk of the linear map reads: benchctl.env.arm64.kcore) as
OUT/proc/kcore.extract.gz. Nothing else from the host is copied.

    python3 tests/vm/record_tree.py OUT          # run as root
    python3 tests/vm/arm64_guest.py exec --kernel with --cpu ampereone --out O -- \
        python3 tests/vm/record_tree.py /out/tree

Standard library only, plus benchctl for the kcore extract (skipped, with a
line on stderr, where benchctl cannot walk this kernel's tables).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

GLOBS = [
    "proc/cmdline",
    "proc/cpuinfo",
    "proc/meminfo",
    "proc/uptime",
    "proc/version",
    "proc/config.gz",
    "proc/sys/kernel/hostname",
    "proc/sys/kernel/osrelease",
    "proc/sys/kernel/perf_event_paranoid",
    "proc/sys/kernel/random/boot_id",
    "sys/devices/system/cpu/online",
    "sys/devices/system/cpu/possible",
    "sys/devices/system/cpu/cpu*/regs/identification/midr_el1",
    "sys/devices/system/cpu/cpu*/regs/identification/revidr_el1",
    "sys/devices/system/cpu/cpufreq/policy*/scaling_governor",
    "sys/devices/system/node/node*/meminfo",
    "sys/kernel/mm/transparent_hugepage/enabled",
    "sys/kernel/mm/transparent_hugepage/defrag",
    "sys/firmware/devicetree/base/compatible",
    "sys/firmware/devicetree/base/model",
    "sys/class/dmi/id/sys_vendor",
    "sys/class/dmi/id/product_name",
    "sys/kernel/debug/kernel_page_tables",
]


def record(out: Path) -> list[str]:
    """Copy every file of GLOBS that exists and reads; returns what was copied."""
    copied = []
    for pattern in GLOBS:
        for src in sorted(glob.glob("/" + pattern)):
            try:
                data = Path(src).read_bytes()
            except OSError:
                continue
            dst = out / src.lstrip("/")
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(data)
            copied.append(src)
    release = os.uname().release
    config = Path(f"/boot/config-{release}")
    if config.exists():
        (out / "boot").mkdir(parents=True, exist_ok=True)
        shutil.copy2(config, out / "boot" / config.name)
        copied.append(str(config))
    tool = ["dmesg"] if shutil.which("dmesg") else ["busybox", "dmesg"]
    dmesg = subprocess.run(tool, capture_output=True, timeout=30, check=False)
    (out / "dmesg.txt").write_bytes(dmesg.stdout)
    return copied


def record_kcore(out: Path) -> str:
    try:
        from benchctl.env.arm64 import kcore
    except ImportError as e:
        return f"kcore extract skipped: {e}"
    dst = out / "proc" / "kcore.extract.gz"
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        kcore.record("/proc/kcore", dst)
    except Exception as e:  # noqa: BLE001 (the recorder reports any refusal and goes on)
        return f"kcore extract skipped: {e}"
    return f"kcore extract: {dst.stat().st_size} bytes"


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    copied = record(out)
    print(f"recorded {len(copied)} files under {out}")
    print(record_kcore(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
