#!/usr/bin/env python3
"""Run the fault-injection scenarios for real and print the table.

    python tests/faults/run_faults.py            # the fast subset (what CI runs through pytest)
    python tests/faults/run_faults.py --full     # the whole matrix (every workload x phase x signal, ...)
    python tests/faults/run_faults.py --only SIGKILL --full

Columns: scenario, outcome (survived / FAILED / skipped), leftovers found
(things of the scenario still on the host at the end), records lost
(records on disk before the fault that are gone or unreadable after it),
seconds. When every scenario survives the last line reads
`N scenarios, N survived, 0 records lost, 0 leftovers`. Exit 0 then, 1 otherwise.
Needs root (mounts, loop devices); run from the repository root or anywhere.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.faults.common import Outcome  # noqa: E402
from tests.faults.registry import Skip, all_scenarios  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--full", action="store_true", help="run every scenario, not only the fast subset")
    ap.add_argument("--only", action="append", default=[], help="run scenarios whose name contains this (repeatable)")
    ap.add_argument("--list", action="store_true", help="list the scenarios and exit")
    ap.add_argument("-v", "--verbose", action="store_true", help="print each scenario's detail line")
    a = ap.parse_args(argv)
    chosen = [sc for sc in all_scenarios() if (a.full or sc.fast) and (not a.only or any(o in sc.name for o in a.only))]
    if a.list:
        for sc in chosen:
            print(f"{sc.group:<12} {'fast' if sc.fast else 'full'}  {sc.name}")
        return 0
    if os.geteuid() != 0:
        print("run_faults: needs root (mounts, loop devices, memcached as root)", file=sys.stderr)
        return 2
    width = max(len(sc.name) for sc in chosen) + 2
    head = f"{'scenario':<{width}}{'outcome':<10}{'leftovers found':>16}{'records lost':>14}{'seconds':>9}"
    print(head)
    print("-" * len(head))
    ran = survived = lost_total = left_total = 0
    skipped: list[tuple[str, str]] = []
    failures: list[tuple[str, str]] = []
    t_all = time.monotonic()
    for sc in chosen:
        t0 = time.monotonic()
        detail = ""
        try:
            out: Outcome = sc.fn()
        except Skip as e:
            skipped.append((sc.name, str(e)))
            print(f"{sc.name:<{width}}{'skipped':<10}{'-':>16}{'-':>14}{time.monotonic() - t0:>9.1f}", flush=True)
            continue
        except Exception as e:  # a failed property, or a scenario that broke
            out = None
            msg = str(e)
            if "Traceback" in msg:  # keep the exception line, not the whole stack
                msg = msg.split("Traceback")[0] + "traceback ending in: " + msg.strip().splitlines()[-1]
            detail = f"{type(e).__name__}: {msg}"
        ran += 1
        dt = time.monotonic() - t0
        if out is None:
            failures.append((sc.name, detail))
            print(f"{sc.name:<{width}}{'FAILED':<10}{'?':>16}{'?':>14}{dt:>9.1f}", flush=True)
            continue
        ok = not out.leftovers and out.records_lost == 0
        left_total += len(out.leftovers)
        lost_total += out.records_lost
        survived += ok
        if not ok:
            failures.append(
                (
                    sc.name,
                    "; ".join(
                        out.leftovers + ([f"{out.records_lost} records lost: {out.detail}"] if out.records_lost else [])
                    ),
                )
            )
        print(
            f"{sc.name:<{width}}{'survived' if ok else 'FAILED':<10}{len(out.leftovers):>16}{out.records_lost:>14}"
            f"{dt:>9.1f}",
            flush=True,
        )
        if a.verbose and out.detail:
            print(f"    {out.detail}")
    print("-" * len(head))
    for name, why in skipped:
        print(f"skipped: {name}: {why}")
    for name, why in failures:
        print(f"FAILED: {name}: {why[:2000]}")
    print(
        f"time: {time.monotonic() - t_all:.0f} s"
        + (f"; {len(skipped)} skipped (not counted below)" if skipped else "")
        + (f"; {len(failures)} failed" if failures else "")
    )
    print(f"{ran} scenarios, {survived} survived, {lost_total} records lost, {left_total} leftovers")
    return 0 if survived == ran else 1


if __name__ == "__main__":
    sys.exit(main())
