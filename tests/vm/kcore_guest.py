"""Run as root inside an arm64 guest (tests/vm/arm64_guest.py exec): what the kcore walk sees live.

    python3 tests/vm/kcore_guest.py OUTDIR

Writes OUTDIR/vmcoreinfo.txt (the note's text, as the kernel printed it), OUTDIR/segments.txt
(kcore's PT_LOAD program headers), OUTDIR/walk.json (three timed live walks of /proc/kcore and
the census), OUTDIR/kcore.extract.gz (kcore.record of the live kcore) and OUTDIR/env.json
(`benchctl env --format json`, live, timed). Standard library and benchctl only.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from pathlib import Path

from benchctl.env.arm64 import kcore


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    reader = kcore.FileReader("/proc/kcore")
    try:
        core = kcore.read_core(reader)
    finally:
        reader.close()
    (out / "vmcoreinfo.txt").write_text("".join(f"{k}={v}\n" for k, v in core.info.items()))
    (out / "segments.txt").write_text(
        "".join(f"vaddr {v:#018x} paddr {p:#018x} offset {o:#018x} size {s:#x}\n" for v, p, o, s in core.segments)
    )
    times = []
    for _ in range(3):
        started = time.perf_counter()
        walked = kcore.walk_file("/proc/kcore")
        times.append(round(time.perf_counter() - started, 3))
    started = time.perf_counter()
    recorded = kcore.record("/proc/kcore", out / "kcore.extract.gz")
    record_s = round(time.perf_counter() - started, 3)
    report = {
        "release": platform.release(),
        "state": walked.state,
        "block_fraction": walked.block_fraction,
        "bytes": walked.bytes,
        "rw_bytes": walked.rw_bytes,
        "ro_bytes": walked.ro_bytes,
        **walked.summary(),
        "walk_wall_s": times,
        "record_wall_s": record_s,
        "recorded_equals_live": recorded == walked,
        "extract_bytes": (out / "kcore.extract.gz").stat().st_size,
        "midr": Path("/sys/devices/system/cpu/cpu0/regs/identification/midr_el1").read_text().strip(),
        "cmdline": Path("/proc/cmdline").read_text().strip(),
    }
    started = time.perf_counter()
    env = subprocess.run(
        [sys.executable, "-m", "benchctl", "env", "--format", "json"], capture_output=True, text=True, timeout=600
    )
    report["env_wall_s"] = round(time.perf_counter() - started, 3)
    report["env_rc"] = env.returncode
    (out / "env.json").write_text(env.stdout)
    (out / "env.stderr.txt").write_text(env.stderr)
    (out / "walk.json").write_text(json.dumps(report, indent=1) + "\n")
    print(json.dumps({k: report[k] for k in ("state", "walk_wall_s", "bytes_read", "extract_bytes", "env_rc")}))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
