"""Startup cost of `benchctl --help` against `python -c "import click"` (target: <= 1.15x, issue 21).

`benchctl --help` must stay cheap because it is the first thing a user runs
and because cli.py imports command modules lazily; a stray module-level
import of pandas/scipy/matplotlib shows up here first. Runs alternate between
the two commands so drift in machine load hits both equally; the statistic is
the median wall time of each (robust to the odd slow start).

Usage: .venv/bin/python tests/perf/startup.py [--runs N]
Exit status 1 if the ratio is above the target.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET = 1.15


def wall(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=120)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    venv_script = Path(sys.executable).parent / "benchctl"
    script = str(venv_script) if venv_script.exists() else shutil.which("benchctl")
    benchctl = [script, "--help"] if script else [sys.executable, "-m", "benchctl", "--help"]
    click = [sys.executable, "-c", "import click"]
    for argv in (benchctl, click):  # warm the page cache and .pyc files
        wall(argv)
    times: dict[str, list[float]] = {"benchctl": [], "click": []}
    for _ in range(args.runs):
        times["benchctl"].append(wall(benchctl))
        times["click"].append(wall(click))
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["benchctl"] / med["click"]
    print(f"benchctl --help ({' '.join(benchctl[:1])}): median {med['benchctl'] * 1000:.1f} ms over {args.runs} runs")
    print(f"python -c 'import click':  median {med['click'] * 1000:.1f} ms over {args.runs} runs")
    print(f"ratio {ratio:.2f} (target <= {TARGET:g})")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
