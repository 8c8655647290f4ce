#!/usr/bin/env python3
"""Does benchctl's harness cost memcached throughput? Prints benchctl ops/sec / hand-run ops/sec.

Claim checked: the ops/sec benchctl records is >= 0.97 of what the same
generator with the same flags reports when run by hand against the same
server. Method: one benchctl run through the public engine path (real
memcached, perf on as by default, the run's fingerprints, kernel-log mark
and phase records); between its measured iterations (a RunOptions.between
hook, outside every measured window) the exact generator argv that
benchctl logged in commands.jsonl (`generator_argv`) is run by hand
(plain subprocess, no perf, no pinning, output parsed by the same parser)
against the same server. Pairs alternate which side goes first, so drift
(cache warming, other load) hits both sides equally; the statistic is the
median of the per-pair ratios (robust to one disturbed pair).

    .venv/bin/python tests/perf/memcached_overhead.py [--generator memtier] [--pairs 15] [--duration 2] [--no-perf]

The generator defaults to memtier_benchmark (what runs use when setup built it);
`--generator auto|mutilate|memcaslap` checks the others.

Exit 0 when the median ratio is >= 0.97, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from driven_run import Alternating, driven_run, recorded  # noqa: E402  (tests/perf is on sys.path as a script)

from benchctl.run.drivers.memcached.loadgen import parse_output  # noqa: E402

THRESHOLD = 0.97


def last_generator_argv(run_dir: Path) -> list[str]:
    cmds = [json.loads(line) for line in (run_dir / "commands.jsonl").read_text().splitlines() if line.strip()]
    return [c for c in cmds if c.get("role") == "measure"][-1]["generator_argv"]


SCRATCH = {"--json-out-file=": "memtier.json", "--hdr-file-prefix=": "memtier"}


def hand_run(ctx, work: Path) -> dict[str, float]:
    """The generator exactly as benchctl last logged it, except memtier's output files go to a scratch folder."""
    argv = [
        next((f"{opt}{work / name}" for opt, name in SCRATCH.items() if a.startswith(opt)), a)
        for a in last_generator_argv(Path(ctx.run_dir))
    ]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise SystemExit(f"hand run failed (rc {p.returncode}): {p.stderr[-300:]}")
    res = parse_output(ctx.state["gen"], p.stdout, work)
    return {"ops_per_sec": float(res.get("ops_per_sec").value)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generator", default="memtier", help="load generator (the workload's generator parameter)")
    ap.add_argument("--pairs", type=int, default=15, help="alternating pairs (issue 21: >= 15)")
    ap.add_argument("--duration", type=int, default=2, help="seconds per generator run")
    ap.add_argument("--no-perf", action="store_true", help="run benchctl's side without perf stat")
    ap.add_argument("--no-nice", action="store_true", help="do not raise this script's priority")
    args = ap.parse_args()
    if os.geteuid() == 0 and not args.no_nice:
        # Other load on a shared host swamps a 3 % effect; both sides (benchctl's server and generator,
        # and the hand runs) inherit this priority, so the comparison stays fair.
        os.nice(-19)

    pairs: list[tuple[float, float]] = []
    gen = ""

    def show(k: int, ctx) -> None:
        nonlocal gen
        gen = ctx.state["gen"]
        b, h = recorded(ctx.run_dir, k, "ops_per_sec"), hook.by_hand[k]["ops_per_sec"]
        pairs.append((b, h))
        print(f"pair {k}: benchctl {b:10.0f} ops/s   by hand {h:10.0f} ops/s   ratio {b / h:.3f}", flush=True)

    with tempfile.TemporaryDirectory(prefix="benchctl-overhead-") as tmp:
        work = Path(tmp) / "hand"
        work.mkdir()
        hook = Alternating(args.pairs, lambda ctx: hand_run(ctx, work), on_pair=show)
        os.environ.setdefault("BENCHCTL_STATE_DIR", str(Path(tmp) / "state"))
        driven_run(
            "memcached",
            {"duration_s": str(args.duration), "generator": args.generator},
            not args.no_perf,
            Path(tmp) / "results",
            hook,
        )
    ratios = [b / h for b, h in pairs]
    med = statistics.median(ratios)
    print(
        f"generator {gen}, {args.duration} s per run, perf {'off' if args.no_perf else 'on'}, "
        f"nice {os.nice(0)}, {len(pairs)} alternating pairs, through engine.run_workload"
    )
    print(
        f"median benchctl {statistics.median(b for b, _ in pairs):.0f} ops/s, "
        f"median by hand {statistics.median(h for _, h in pairs):.0f} ops/s"
    )
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) >= 2 else (med, med, med)
    print(f"pair ratios: min {min(ratios):.3f}, max {max(ratios):.3f} (spread = noise from other load on this host)")
    print(
        f"memcached    ops_per_sec        ratio (median of pairs) = {med:.3f}  [IQR {q1:.3f}-{q3:.3f}]  "
        f"(required >= {THRESHOLD})  -> {'PASS' if med >= THRESHOLD else 'FAIL'}"
    )
    return 0 if med >= THRESHOLD else 1


if __name__ == "__main__":
    sys.exit(main())
