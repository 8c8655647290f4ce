#!/usr/bin/env python3
"""Does benchctl's harness cost storage throughput? Prints benchctl / by-hand ratios for fio and xfs_io.

Claim checked: the IOPS (fio-dmcrypt) and bandwidth (fio-dmcrypt KiB/s,
seqread-xfs B/s) that benchctl records are >= 0.97 of what the same command
reports when run by hand on the same stack. Method: one benchctl run per
workload through the public engine path (perf on as by default, the
run's fingerprints, kernel-log mark and phase records), its block stack
built once by the driver; between its measured iterations (a
RunOptions.between hook, outside every measured window) the same command is run
by hand on that same stack (plain subprocess, no perf), parsed by the same
parser. Before each hand run the script calls the engine's own
`benchctl.run.quiesce.prepare` with the workload's `[quiesce]` rule: the
driver's per-pass preparation (fio: delete the previous file, sync), the
stack checked as built, writeback drained -- so both sides start from the
same stated state. Pairs alternate which side goes first, so drift hits
both sides equally; the statistic is the median of the per-pair ratios,
shown with the pair ratios' interquartile range.

Here (no device-mapper) fio-dmcrypt runs with crypt=none; in the nested VM
or on a lab host it runs with dm-crypt (`--crypt dm-crypt`).

    .venv/bin/python tests/perf/storage_overhead.py [--pairs 15] [--fio-size 256M] [--read-size 1G]
        [--crypt none|dm-crypt] [--no-perf] [--only fio-dmcrypt|seqread-xfs]

Exit 0 when every median ratio is >= 0.97, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from driven_run import Alternating, driven_run, recorded  # noqa: E402  (tests/perf is on sys.path when run as a script)

from benchctl.parsers import parse  # noqa: E402
from benchctl.run import quiesce  # noqa: E402
from benchctl.run.drivers import fio_dmcrypt, seqread_xfs  # noqa: E402
from benchctl.run.specs import load_workload  # noqa: E402

THRESHOLD = 0.97


HAND_MISSED: list[str] = []  # hand passes that started outside the rule (the engine's warnings, for the hand side)


def settle_by_hand(workload: str, driver, ctx) -> None:
    """The engine's quiesce before a benchctl pass, before a hand pass: one code path for both sides."""
    quiesce.prepare(driver, ctx, 0, load_workload(workload).quiesce, warn=HAND_MISSED.append)


def hand_fio(ctx) -> dict[str, float]:
    settle_by_hand("fio-dmcrypt", fio_dmcrypt.DRIVER, ctx)
    d = ctx.state["dir"]
    p = subprocess.run(fio_dmcrypt.fio_argv(d, ctx.params["size"]), capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        raise SystemExit(f"hand fio failed (rc {p.returncode}): {p.stderr[-300:]}")
    res = parse("fio-json", p.stdout)
    return {"iops": res.get("iops").value, "bandwidth_kib_s": res.get("bandwidth_kib_s").value}


def hand_xfs_io(ctx) -> dict[str, float]:
    settle_by_hand("seqread-xfs", seqread_xfs.DRIVER, ctx)
    argv = seqread_xfs.read_argv(ctx.state["file"], str(ctx.params["bs"]), str(ctx.params["size"]))
    p = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        raise SystemExit(f"hand xfs_io failed (rc {p.returncode}): {p.stdout[-300:]}")
    return {"bandwidth_bytes_s": parse("xfs_io", p.stdout).measurements[-1].value}


def compare(
    workload: str, overrides: dict[str, str], metrics: list[str], hand: Callable, pairs: int, perf_on: bool, tmp: Path
) -> dict[str, tuple[float, float, float]]:
    rows: list[tuple[dict[str, float], dict[str, float]]] = []

    def show(k: int, ctx) -> None:
        b, h = {m: recorded(ctx.run_dir, k, m) for m in metrics}, hook.by_hand[k]
        rows.append((b, h))
        print(
            f"{workload} pair {k}: "
            + "   ".join(f"{m} benchctl {b[m]:.4g} hand {h[m]:.4g} ratio {b[m] / h[m]:.3f}" for m in metrics),
            flush=True,
        )

    hook = Alternating(pairs, hand, warm_hand=True, on_pair=show)  # the hand side gets its warm-up pass too
    missed0 = len(HAND_MISSED)
    folder = driven_run(workload, overrides, perf_on, tmp / "results", hook)
    qz = folder.manifest.get("quiesce") or {}
    print(
        f"{workload}: passes started outside the quiesce rule: benchctl {len(qz.get('not_quiesced', []))} of "
        f"{qz.get('iterations', 0)}, by hand {len(HAND_MISSED) - missed0} of {pairs + 1}",
        flush=True,
    )
    out = {}
    for m in metrics:
        ratios = sorted(b[m] / h[m] for b, h in rows)
        q = statistics.quantiles(ratios, n=4) if len(ratios) >= 2 else [ratios[0]] * 3
        out[m] = (statistics.median(ratios), q[0], q[2])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=15)
    ap.add_argument("--fio-size", default="256M")
    ap.add_argument("--read-size", default="1G")
    ap.add_argument("--crypt", default="none", choices=["none", "dm-crypt"])
    ap.add_argument("--no-perf", action="store_true", help="run benchctl's side without perf stat")
    ap.add_argument("--only", choices=["fio-dmcrypt", "seqread-xfs"])
    args = ap.parse_args()
    results: dict[str, dict[str, tuple[float, float, float]]] = {}
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="benchctl-overhead-") as tmp:
        tmp_p = Path(tmp)
        os.environ.setdefault("BENCHCTL_STATE_DIR", str(tmp_p / "state"))
        if args.only in (None, "fio-dmcrypt"):
            ramdisk = f"{max(256 << 20, 2 * fio_dmcrypt.parse_size(args.fio_size)) >> 20}M"
            results["fio-dmcrypt"] = compare(
                "fio-dmcrypt",
                {"crypt": args.crypt, "size": args.fio_size, "ramdisk_size": ramdisk},
                ["iops", "bandwidth_kib_s"],
                hand_fio,
                args.pairs,
                not args.no_perf,
                tmp_p,
            )
        if args.only in (None, "seqread-xfs"):
            results["seqread-xfs"] = compare(
                "seqread-xfs",
                {"size": args.read_size},
                ["bandwidth_bytes_s"],
                hand_xfs_io,
                args.pairs,
                not args.no_perf,
                tmp_p,
            )
    ok = True
    load1, ncpu = os.getloadavg()[0], os.cpu_count() or 1
    print(
        f"load average {load0:.2f} -> {load1:.2f} on {ncpu} CPUs"
        + (
            "  (WARNING: the host is busy; pair ratios are dominated by other load, rerun when quiet)"
            if max(load0, load1) > 0.75 * ncpu
            else ""
        )
    )
    print(
        f"{args.pairs} alternating pairs each, perf {'off' if args.no_perf else 'on'}, "
        f"fio --size {args.fio_size} crypt={args.crypt}, xfs_io pread of {args.read_size}"
    )
    for w, ratios in results.items():
        for m, (r, lo, hi) in ratios.items():
            ok &= r >= THRESHOLD
            print(
                f"{w:12s} {m:18s} ratio (median of pairs) = {r:.3f}  [IQR {lo:.3f}-{hi:.3f}]  "
                f"(required >= {THRESHOLD})  -> {'PASS' if r >= THRESHOLD else 'FAIL'}"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
