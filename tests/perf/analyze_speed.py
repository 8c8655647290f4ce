"""`benchctl analyze --csv` on 1M tidy rows against `pandas.read_csv` of the same file (issue 21).

The file: 10 metrics x 2 arms x 10 boots x 5000 iterations of memcached
(1,000,000 rows, about 75 MB), written once to a temporary folder. Each
pair runs `pandas.read_csv` in a fresh interpreter and `benchctl analyze
--csv FILE --resamples 200 --format json` in another, alternating so that
machine load hits both; the statistics are the medians of wall time and of
peak RSS (ru_maxrss of the child). Prints both ratios and the analyze
progress line's first ETA against the time the run took.

Usage: .venv/bin/python tests/perf/analyze_speed.py [--pairs 3] [--rows-per-cell 5000] [--check]
Targets (issue 21, open): time <= 2x, memory <= 1.5x. With --check, exit
status 1 when above (not yet the default: `make perf` would fail until the
loader and the statistics imports are reworked; 2026-12-07 on this host:
time 5.06x, memory 1.48x).
"""

from __future__ import annotations

import argparse
import csv
import re
import resource  # noqa: F401 - the children use it (PEAK)
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TIME_TARGET, MEM_TARGET = 2.0, 1.5
METRICS = [f"m{i}" for i in range(10)]


def write(path: Path, per_cell: int) -> int:
    rng = np.random.default_rng(1)
    n = 0
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arm", "host", "boot", "run", "workload", "iteration", "metric", "value", "unit"])
        for arm, shift in (("pte", 1.0), ("block", 1.02)):
            for b in range(10):
                boot = f"{arm}-boot{b}"
                level = shift * (1 + rng.normal(0, 0.01))
                for m in METRICS:
                    vals = level * 100 * (1 + rng.normal(0, 0.02, per_cell))
                    for i, v in enumerate(vals):
                        w.writerow([arm, "h1", boot, f"r-{boot}", "memcached", i + 1, m, f"{v:.6g}", "ops/s"])
                    n += per_cell
    return n


# Each child reports its own peak RSS at exit (RUSAGE_CHILDREN would give the largest child so far).
PEAK = (
    "import atexit, resource, sys; "
    "atexit.register(lambda: print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)); "
)


def child(code: str) -> tuple[float, int, str]:
    """(wall seconds, peak RSS in KiB, stderr) of `python -c PEAK + code`."""
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", PEAK + code], capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t0
    m = re.search(r"PEAK_KB (\d+)", r.stderr)
    if r.returncode != 0 or not m:
        raise SystemExit(f"{code[:60]} failed: {r.stderr[-2000:]}")
    return wall, int(m.group(1)), r.stderr


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--rows-per-cell", type=int, default=5000)
    ap.add_argument("--check", action="store_true", help="exit 1 when a ratio is above its target")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="benchctl-analyze-speed-") as tmp:
        path = Path(tmp) / "tidy.csv"
        rows = write(path, a.rows_per_cell)
        print(f"{rows:,} rows, {path.stat().st_size / 1e6:.0f} MB")
        read = f"import pandas; pandas.read_csv({str(path)!r})"
        argv = ["benchctl", "analyze", "--csv", str(path), "--baseline", "pte", "--candidate", "block"]
        argv += ["--resamples", "200", "--format", "json"]
        analyze = f"import sys; sys.argv = {argv!r}; from benchctl.cli import main; main()"
        times: dict[str, list[float]] = {"read_csv": [], "analyze": []}
        peaks: dict[str, list[int]] = {"read_csv": [], "analyze": []}
        etas = []
        for _ in range(a.pairs):
            t, peak, _err = child(read)
            times["read_csv"].append(t)
            peaks["read_csv"].append(peak)
            t, peak, err = child(analyze)
            times["analyze"].append(t)
            peaks["analyze"].append(peak)
            m = re.search(r"about (\d+) s left", err)
            if m:
                etas.append((float(m.group(1)), t))
    med = {k: statistics.median(v) for k, v in times.items()}
    mem = {k: statistics.median(v) for k, v in peaks.items()}
    tr, mr = med["analyze"] / med["read_csv"], mem["analyze"] / mem["read_csv"]
    print(f"read_csv: median {med['read_csv']:.2f} s, peak {mem['read_csv'] / 1024:.0f} MB")
    print(f"analyze:  median {med['analyze']:.2f} s, peak {mem['analyze'] / 1024:.0f} MB")
    print(f"time ratio {tr:.2f} (target <= {TIME_TARGET:g}); memory ratio {mr:.2f} (target <= {MEM_TARGET:g})")
    for eta, took in etas[:1]:
        print(f"first ETA said {eta:.0f} s left; the run took {took:.1f} s")
    return 0 if not a.check or (tr <= TIME_TARGET and mr <= MEM_TARGET) else 1


if __name__ == "__main__":
    sys.exit(main())
