"""Reproduce the thread=multi stall in minutes: `perf stat -a` in a loop while the other vCPU works.

Each perf stat -a with benchctl's software event set (task-clock,
page-faults, context-switches, cpu-migrations) enables and disables perf's
static keys, and the kernel patches the jump-label sites (text_poke_bp:
int3, then the new bytes, then an IPI to every CPU) -- in __schedule among
others. With -accel tcg,thread=multi this qemu froze the guest within
50-100 perf stat runs; with thread=single 300 runs in 3 minutes passed
(tests/vm/README.md). Not part of the suite: run it by hand, under the
heavy-job lock, after `harness.py build`:

    python3 tests/vm/stress_textpoke.py --tcg-thread multi --seconds 180 --work DIR --out OUTDIR

A stall fails like any guest run (deadline.Stalled, with the QMP dump in
OUTDIR/stall-monitor.txt). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
import deadline  # noqa: E402
import harness  # noqa: E402

GUEST = """#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
OUT=/run/out
up() {{ cut -d' ' -f1 /proc/uptime; }}
echo "MARK guest-start $(up) $(uname -r)"
grep -i ' t ' /proc/kallsyms > $OUT/kallsyms.txt
end=$(( $(cut -d. -f1 /proc/uptime) + {secs} ))
echo "MARK stress $(up)"
( while [ $(cut -d. -f1 /proc/uptime) -lt $end ]; do dd if=/dev/zero of=/dev/null bs=64k count=2000 2>/dev/null;
    ls -R /usr/lib >/dev/null 2>&1; done ) &
i=0
while [ $(cut -d. -f1 /proc/uptime) -lt $end ]; do
  perf stat -a -x, -e task-clock,page-faults,context-switches,cpu-migrations -o /dev/null -- sleep 0.05
  i=$((i+1)); [ $((i % 50)) = 0 ] && echo "MARK progress perf-stat $i"
done
wait
echo "MARK rc stress 0 $i"
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/var/tmp/benchctl-vm"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--tcg-thread", choices=["single", "multi"], default=harness.TCG_THREAD)
    ap.add_argument("--seconds", type=int, default=180)
    a = ap.parse_args()
    meta = json.loads((a.work / "build.json").read_text())
    out = a.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    (out / "guest.sh").write_text(GUEST.format(secs=a.seconds))
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="benchctl-qmp-") as tmp:
        qmp = Path(tmp) / "qmp.sock"
        argv = harness.qemu_argv(meta, out, tcg_thread=a.tcg_thread, qmp=qmp, append="nokaslr")
        try:
            with deadline.Console(
                argv,
                log=out / "console.log",
                timeout=a.seconds + 300,
                idle=90,
                alive=harness.ALIVE,
                name="guest",
                on_line=_show(t0),
                on_stall=lambda _: harness.stall_dump(qmp, out),
            ) as con:
                rc = con.wait(timeout=a.seconds + 300)
                if not con.seen(r"^poweroff\b"):
                    con.fail(f"qemu exited ({rc}) before the poweroff mark")
        except deadline.Failed as e:
            print(f"FAIL thread={a.tcg_thread} after {time.monotonic() - t0:.0f} s\n{e}")
            return 1
    print(f"PASS thread={a.tcg_thread} {time.monotonic() - t0:.0f} s")
    return 0


def _show(t0: float):
    def show(line: str) -> None:
        if line.startswith("MARK "):
            print(f"{time.monotonic() - t0:6.1f} {line}", flush=True)

    return show


if __name__ == "__main__":
    sys.exit(main())
