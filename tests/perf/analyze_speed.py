"""`benchctl analyze --csv` on 1M tidy rows against `pandas.read_csv` of the same file (issue 21).

The file: 10 metrics x 2 arms x 10 boots x 5000 iterations of memcached
(1,000,000 rows, about 65 MB), written once to a temporary folder. Each
pair runs `pandas.read_csv` in a fresh interpreter and `benchctl analyze
--csv FILE --resamples 200 --format json` in another, alternating so that
machine load hits both; the statistics are the medians of wall time and of
peak RSS (ru_maxrss of the child).

The progress line's estimate: analyze speaks only after 2 s, which the 1M
rows no longer take, so a second file (60 metrics x 2 arms x 10 boots x 800
iterations) is analysed with --resamples 300000; each "about N s left" is
timed as it arrives on stderr and set against the time that was then
actually left (until the child exits).

Usage: .venv/bin/python tests/perf/analyze_speed.py [--pairs 3] [--rows-per-cell 5000] [--eta-runs 2] [--check]
Targets (issue 21): time <= 2x, memory <= 1.5x, every estimate within a
factor 1.5 of the time left. With --check, exit status 1 when one is missed
(not the default: on a shared 2-core host a neighbour's burst can move a
median; docs/analyze.md "Speed" has the measured numbers).
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))  # tests/support/: deadline.py
from deadline import Console  # noqa: E402

TIME_TARGET, MEM_TARGET, ETA_TARGET = 2.0, 1.5, 1.5
METRICS = [f"m{i}" for i in range(10)]
ETA_METRICS, ETA_ROWS_PER_CELL, ETA_RESAMPLES = [f"m{i}" for i in range(60)], 800, 300_000


def write(path: Path, per_cell: int, metrics: list[str] = METRICS) -> int:
    rng = np.random.default_rng(1)
    n = 0
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arm", "host", "boot", "run", "workload", "iteration", "metric", "value", "unit"])
        for arm, shift in (("pte", 1.0), ("block", 1.02)):
            for b in range(10):
                boot = f"{arm}-boot{b}"
                level = shift * (1 + rng.normal(0, 0.01))
                for m in metrics:
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


def analyze_code(path: Path, resamples: int) -> str:
    argv = ["benchctl", "analyze", "--csv", str(path), "--baseline", "pte", "--candidate", "block"]
    argv += ["--resamples", str(resamples), "--format", "json"]
    return f"import sys; sys.argv = {argv!r}; from benchctl.cli import main; main()"


def estimates(code: str, log: Path) -> list[tuple[str, float, float]]:
    """(line, seconds it said were left, seconds that were left) for each estimate the child printed.

    The lines are timed as they arrive (tests/support/deadline.py's reader thread); the child's stdout (the
    JSON report) goes to /dev/null so that only its stderr lines are read.
    """
    arrived: list[tuple[float, str]] = []
    quiet = "import os, sys; sys.stdout = open(os.devnull, 'w'); " + code
    with Console([sys.executable, "-c", quiet], log=log, timeout=900, name="analyze",
                 on_line=lambda line: arrived.append((time.perf_counter(), line))) as con:  # fmt: skip
        if con.wait(timeout=900) != 0:
            con.fail("analyze failed")
    end = time.perf_counter()
    out = []
    for t, line in arrived:
        m = re.search(r"about (\d+) s left", line)
        if m:
            out.append((line, float(m.group(1)), end - t))
    return out


def speed(path: Path, pairs: int) -> tuple[float, float]:
    """(time ratio, memory ratio) of analyze against read_csv, medians of alternating pairs."""
    read = f"import pandas; pandas.read_csv({str(path)!r})"
    analyze = analyze_code(path, 200)
    times: dict[str, list[float]] = {"read_csv": [], "analyze": []}
    peaks: dict[str, list[int]] = {"read_csv": [], "analyze": []}
    for _ in range(pairs):
        for name, code in (("read_csv", read), ("analyze", analyze)):
            t, peak, _err = child(code)
            times[name].append(t)
            peaks[name].append(peak)
    med = {k: statistics.median(v) for k, v in times.items()}
    mem = {k: statistics.median(v) for k, v in peaks.items()}
    tr, mr = med["analyze"] / med["read_csv"], mem["analyze"] / mem["read_csv"]
    print(f"read_csv: median {med['read_csv']:.2f} s, peak {mem['read_csv'] / 1024:.0f} MB ({pairs} runs)")
    print(f"analyze:  median {med['analyze']:.2f} s, peak {mem['analyze'] / 1024:.0f} MB ({pairs} runs)")
    print(f"time ratio {tr:.2f} (target <= {TIME_TARGET:g}); memory ratio {mr:.2f} (target <= {MEM_TARGET:g})")
    return tr, mr


def eta(tmp: Path, runs: int) -> float | None:
    """The worst factor between an estimate and the time then left (None: no estimate printed)."""
    path = tmp / "eta.csv"
    rows = write(path, ETA_ROWS_PER_CELL, ETA_METRICS)
    print(f"estimates: {rows:,} rows, {len(ETA_METRICS)} metrics, --resamples {ETA_RESAMPLES}, {runs} runs")
    worst = None
    for _ in range(runs):
        for line, said, left in estimates(analyze_code(path, ETA_RESAMPLES), tmp / "eta.log"):
            factor = max(said / left, left / said)
            worst = factor if worst is None else max(worst, factor)
            print(f"  {line.removeprefix('benchctl: ')}: {left:.1f} s were left ({factor:.2f}x)")
    if worst is None:
        print("estimates: no progress line (the runs took under 2 s): nothing to judge")
    else:
        print(f"estimates: worst {worst:.2f}x the time left (target <= {ETA_TARGET:g})")
    return worst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--rows-per-cell", type=int, default=5000)
    ap.add_argument("--eta-runs", type=int, default=2)
    ap.add_argument("--check", action="store_true", help="exit 1 when a ratio is above its target")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="benchctl-analyze-speed-") as tmp:
        path = Path(tmp) / "tidy.csv"
        rows = write(path, a.rows_per_cell)
        print(f"{rows:,} rows, {path.stat().st_size / 1e6:.0f} MB")
        tr, mr = speed(path, a.pairs)
        path.unlink()
        worst = eta(Path(tmp), a.eta_runs) if a.eta_runs else None
    ok = tr <= TIME_TARGET and mr <= MEM_TARGET and (worst is None or worst <= ETA_TARGET)
    return 0 if not a.check or ok else 1


if __name__ == "__main__":
    sys.exit(main())
