"""The whole bbml2 suite inside the arm64 guest: one cold boot of Debian's 6.18 as an AmpereOne.

Issue 18: benchctl's main job is `benchctl run --suite bbml2` on an arm64
server, and until this ran every workload but boot-memory had only ever run
on x86. Here the trixie tree of arm64_guest (memcached, memtier_benchmark
built for arm64 by arm64_memtier, fio, xfsprogs, cryptsetup, linux-perf,
gcc) boots under qemu TCG and runs, in one boot:

- `perf stat` once per arm64 event benchctl asks for, and the PMU's sysfs
  event list (what qemu's PMU implements: the recordings behind the counters
  fix, tests/fixtures/arm64-suite/);
- `benchctl run --suite bbml2 --preset quick` (boot-memory, memcached,
  fio-dmcrypt on brd -> dm-crypt -> ext4, seqread-xfs on brd -> XFS), then
  `benchctl run tlb-probe --preset quick` (not in the suite file: it
  calibrates the model, and a published claim does not rest on it);
- what is left behind afterwards: benchctl mounts, dm mappings, loop
  devices, ramdisks, temp dirs, ledgers, processes.

`kill_scenario` boots again, SIGKILLs a suite run while fio-dmcrypt holds its
stack and runs `benchctl cleanup`, listing what is left before and after.

    python3 tests/vm/arm64_suite.py suite --out DIR     # then: kill --out DIR2
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import arm64_guest  # noqa: E402

SUITE_TIMEOUT_S = 1200
KILL_TIMEOUT_S = 600
ARM = "block"
# The quick presets as shipped need more than the 2 GiB of the recorded guests: seqread-xfs keeps a
# 1 GiB file on a brd ramdisk (1.06 GiB) and once more in the page cache, with the suite's own 0.3 GiB.
MEM_MB = 4096

# Shell shared by both guest scripts (busybox sh in the tree).
COMMON = r"""set -u
export BENCHCTL_STATE_DIR=/run/benchctl
O=/out; RES=/tmp/results
up() { cut -d' ' -f1 /proc/uptime; }
mark() { echo "MARK $* $(up)" > /dev/console; }
bench() {  # NAME ARGS...: one benchctl command, its output in /out/NAME.{out,err}, its wall in walls.txt
  name=$1; shift
  mark "run $name"
  t0=$(up)
  python3 -m benchctl "$@" > "$O/$name.out" 2> "$O/$name.err"
  rc=$?
  echo "$name $rc $t0 $(up)" >> "$O/walls.txt"
}
leftovers() {  # everything benchctl could leave behind, one section each
  echo "## mounts"; grep benchctl /proc/mounts
  echo "## dm"; dmsetup ls 2>/dev/null | grep -v '^No devices found'
  echo "## loop"; losetup -a
  echo "## ramdisks"; ls /sys/block | grep '^ram'
  echo "## tmp"; ls /tmp | grep benchctl
  echo "## ledgers"; ls /run/benchctl/ledgers 2>/dev/null
  echo "## processes"; ps -eo pid,args | grep -E 'memcached|memtier|memcaslap|fio|xfs_io|perf stat|tlb-probe' \
    | grep -v grep
  echo "## end"
}
rm -f "$O/walls.txt"
"""

PROBES = r"""mark perf-probes
mkdir -p "$O/perf"
for d in /sys/bus/event_source/devices/*; do
  [ -d "$d/events" ] && for f in "$d"/events/*; do echo "$(basename "$d")/$(basename "$f") $(cat "$f")"; done
done > "$O/perf/sysfs-events.txt"
for e in r34:k r35:k r5:k r2d:k r8:k r11:k r2:k cycles:k instructions:k; do
  perf stat -x, -a -e "$e" -- sleep 0.2 > "$O/perf/stat-$e.csv" 2>&1
done
perf --version > "$O/perf/version.txt" 2>&1
memtier_benchmark --version > "$O/memtier-version.txt" 2>&1
"""

SUITE = (
    COMMON
    + PROBES
    + f"""
bench suite run --suite bbml2 --arm {ARM} --preset quick -o $RES
bench tlb-probe run tlb-probe --arm {ARM} --preset quick -o $RES
mark leftovers
leftovers > "$O/leftovers.txt"
mark copy
cp -a $RES "$O/results"
"""
)

# SIGKILL the suite while fio-dmcrypt holds brd -> dm-crypt -> ext4 mounted, then `benchctl cleanup`.
KILL = (
    COMMON
    + f"""
mark run suite
python3 -m benchctl run --suite bbml2 --arm {ARM} --preset quick -o $RES > "$O/suite.out" 2> "$O/suite.err" &
pid=$!
i=0   # at most 300 s for the stack to be up: dm mapping and its mount
while ! {{ dmsetup ls 2>/dev/null | grep -q benchctl- && grep -q benchctl /proc/mounts; }}; do
  i=$((i + 1)); [ $i -gt 600 ] && {{ echo "no stack after 300 s" > "$O/kill-error.txt"; break; }}; sleep 0.5
done
sleep 1
mark kill
kill -9 $pid; wait $pid; echo $? > "$O/killed.rc"
leftovers > "$O/left-before.txt"
bench cleanup cleanup
leftovers > "$O/left-after.txt"
cp -a $RES "$O/results"
"""
)


def boot(out: Path, script: str, timeout: float, work: Path | None = None) -> dict:
    """One cold boot of the 6.18 kernel as an AmpereOne running `script` (as /out/guest.sh)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "guest.sh").write_text(script)
    return arm64_guest.exec_in_guest(
        work or arm64_guest.default_work(),
        "with",
        "ampereone",
        "",
        out,
        ["sh", "/out/guest.sh"],
        timeout,
        MEM_MB,
    )


def walls(out: Path) -> dict[str, dict]:
    """NAME -> {rc, wall_s} from the guest's walls.txt (guest uptime around each benchctl command)."""
    res = {}
    path = out / "walls.txt"
    for line in path.read_text().splitlines() if path.exists() else []:
        name, rc, t0, t1 = line.split()
        res[name] = {"rc": int(rc), "wall_s": round(float(t1) - float(t0), 1)}
    return res


def sections(path: Path) -> dict[str, list[str]]:
    """The leftovers listing: section -> its non-empty lines."""
    out: dict[str, list[str]] = {}
    cur = None
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            cur = line[3:]
            out[cur] = []
        elif cur and line.strip():
            out[cur].append(line)
    return out


def runs(out: Path) -> dict[str, dict]:
    """workload -> {run (its run.json), records (metric -> values), folder, wall_s} for the run folders."""
    found: dict[str, dict] = {}
    for manifest in sorted((out / "results").glob("*/*/run.json")):
        doc = json.loads(manifest.read_text())
        recs: dict[str, list] = {}
        rec_file = manifest.parent / "records.jsonl"
        for line in rec_file.read_text().splitlines() if rec_file.exists() else []:
            r = json.loads(line)
            recs.setdefault(r["metric"], []).append(r["value"])
        name = doc.get("workload")
        found[str(name)] = {"run": doc, "records": recs, "folder": manifest.parent}
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=["suite", "kill"])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--work", type=Path, default=None)
    a = ap.parse_args()
    script, timeout = (SUITE, SUITE_TIMEOUT_S) if a.action == "suite" else (KILL, KILL_TIMEOUT_S)
    facts = boot(a.out.resolve(), script, timeout, a.work)
    print(json.dumps({"boot": {k: facts[k] for k in ("kernel", "wall_s", "rc")}, "walls": walls(a.out)}, indent=1))
    for name, r in runs(a.out).items():
        print(f"{name}: status {r['run'].get('status')}, metrics {sorted(r['records'])}")
    return 0 if facts["rc"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
