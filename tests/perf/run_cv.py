#!/usr/bin/env python3
"""How repeatable are benchctl's iterations on this host? Within-boot CV per workload, without and with quiesce.

What it prints: for fio-dmcrypt (crypt=none here), seqread-xfs and
memcached, the coefficient of variation of the headline metric over the
measured iterations of one run (CV = sd(ddof=1) / mean, what `benchctl
run` prints and keeps in run.json `variance`), for runs as the engine was
before issue 21 ("before": the spec's `[quiesce]` rule removed, and, inside
this script only, the loop image not written once at build and mkfs with its
default discard, as blockstack did before) and runs as shipped ("after"). Runs go through the public engine path
(`engine.run_workload`, perf on); the two sides alternate round by round
(off-on, on-off, ...) so drift on the host hits both; each side's figure is
the median CV over the rounds, all rounds shown. memcached declares no rule
(nothing is written back), so it has one side.

The claim presets (fio --size 100G on a 128G ramdisk; seqread 100G) cannot
run here: the script asks the drivers' own memory check and prints its
refusal with this host's numbers. As the nearest claim-shaped run that
fits, fio runs the claim preset's iteration count with `--fio-claim-size`
(default 2G on a 4G ramdisk: passes of seconds, not the quick preset's
fraction of one).

    .venv/bin/python tests/perf/run_cv.py [--rounds 3] [--iterations 10] [--fio-claim-size 2G]
        [--only fio-dmcrypt|seqread-xfs|memcached] [--no-claim]

Exit 0 when fio's median CV with quiesce is <= 10 % at the quick preset and
the claim stand-in, 1 otherwise (the target of issue 21).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchctl.errors import BenchctlError  # noqa: E402
from benchctl.run import engine  # noqa: E402
from benchctl.run.drivers import load_driver  # noqa: E402
from benchctl.run.drivers.base import RunContext  # noqa: E402
from benchctl.run.specs import load_workload, parse_size  # noqa: E402
from benchctl.run.storage import blockstack  # noqa: E402

TARGET_PCT = 10.0
CASES = [  # (label, workload, preset, overrides, headline metric)
    ("fio-dmcrypt quick", "fio-dmcrypt", "quick", {"crypt": "none"}, "iops"),
    ("seqread-xfs quick", "seqread-xfs", "quick", {}, "bandwidth_bytes_s"),
    ("memcached quick", "memcached", "quick", {}, "ops_per_sec"),
]


@contextlib.contextmanager
def as_before_issue21():
    """The block stack as it was built before issue 21: a sparse loop image, mkfs discarding it."""
    saved = dict(blockstack.MKFS_OPTIONS), blockstack.write_once
    blockstack.MKFS_OPTIONS.update(
        ext4=["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0"], xfs=["mkfs.xfs", "-q", "-f"]
    )
    blockstack.write_once = lambda fd, size: None  # type: ignore[assignment]
    try:
        yield
    finally:
        blockstack.MKFS_OPTIONS.update(saved[0])
        blockstack.write_once = saved[1]  # type: ignore[assignment]


def one_cv(workload: str, preset: str, overrides: dict, metric: str, iterations: int | None, quiet: bool, root: Path):
    """CV (%) of `metric` over one real run; quiet=False runs the spec with its [quiesce] rule removed."""
    spec = load_workload(workload).resolve(preset, overrides, iterations=iterations)
    if not quiet:
        spec = dataclasses.replace(spec, quiesce=None)
    opts = engine.RunOptions(arm="cv", results=root, echo=lambda m: None)
    with contextlib.nullcontext() if quiet else as_before_issue21():
        folder = engine.run_workload(workload, opts, spec=spec)
    v = folder.manifest["variance"]["metrics"][metric]
    missed = len((folder.manifest.get("quiesce") or {}).get("not_quiesced", []))
    return v["cv_pct"], v["n"], missed


def claim_refusal(workload: str, overrides: dict) -> str | None:
    """The driver's own refusal of the claim preset on this host (its memory check, with the numbers)."""
    spec = load_workload(workload).resolve("claim", overrides)
    ctx = RunContext(dict(spec.params), {}, Path("."), None, lambda *a, **k: None, lambda m: None)
    try:
        load_driver(spec.workload.driver).check(ctx)
    except BenchctlError as e:
        return str(e)
    return None


def side_by_side(label, workload, preset, overrides, metric, args, root) -> dict[bool, list[float]]:
    has_rule = load_workload(workload).quiesce is not None
    cvs: dict[bool, list[float]] = {False: [], True: []}
    for r in range(args.rounds):
        order = [False, True] if r % 2 == 0 else [True, False]
        for quiet in order if has_rule else [False]:
            cv, n, missed = one_cv(workload, preset, overrides, metric, args.iterations, quiet, root)
            cvs[quiet].append(cv)
            side = ("after" if quiet else "before") if has_rule else "no rule"
            print(
                f"{label:24s} round {r + 1} {side:7s} {metric} CV {cv:6.2f} % over {n} iterations"
                + (f"  ({missed} not_quiesced)" if quiet else ""),
                flush=True,
            )
    return cvs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=10, help="measured iterations per quick-preset run")
    ap.add_argument("--fio-claim-size", default="2G")
    ap.add_argument("--only", choices=["fio-dmcrypt", "seqread-xfs", "memcached"])
    ap.add_argument("--no-claim", action="store_true", help="skip the claim-preset stand-in")
    args = ap.parse_args()
    load0 = os.getloadavg()[0]
    cases = [c for c in CASES if args.only in (None, c[1])]
    if not args.no_claim and args.only in (None, "fio-dmcrypt"):
        size = args.fio_claim_size
        ramdisk = f"{2 * parse_size(size) >> 20}M"
        cases.append(
            (
                f"fio-dmcrypt claim@{size}",
                "fio-dmcrypt",
                "claim",
                {"crypt": "none", "size": size, "ramdisk_size": ramdisk},
                "iops",
            )
        )
    print("before = the engine before issue 21 (no quiesce, sparse loop image); after = as shipped", flush=True)
    table = []
    with tempfile.TemporaryDirectory(prefix="benchctl-cv-") as tmp:
        os.environ.setdefault("BENCHCTL_STATE_DIR", str(Path(tmp) / "state"))
        for label, workload, preset, overrides, metric in cases:
            iters = None if preset == "claim" else args.iterations
            a = argparse.Namespace(**{**vars(args), "iterations": iters})
            table.append((label, metric, side_by_side(label, workload, preset, overrides, metric, a, Path(tmp) / "r")))
    load1 = os.getloadavg()[0]
    print(f"load average {load0:.2f} -> {load1:.2f} on {os.cpu_count()} CPUs; {args.rounds} rounds, median CV")
    ok = True
    for label, metric, cvs in table:
        before = statistics.median(cvs[False]) if cvs[False] else None
        after = statistics.median(cvs[True]) if cvs[True] else None
        line = f"{label:24s} {metric:17s} CV before {before:6.2f} %"
        if after is None:
            print(line + "   (no [quiesce] rule: nothing to write back)")
            continue
        line += f", after {after:6.2f} %"
        if label.startswith("fio-dmcrypt"):
            good = after <= TARGET_PCT
            ok &= good
            line += f"   (target <= {TARGET_PCT:g} %) -> {'PASS' if good else 'FAIL'}"
        print(line)
    for workload, overrides in (("fio-dmcrypt", {"crypt": "none"}), ("seqread-xfs", {})):
        if args.only in (None, workload):
            why = claim_refusal(workload, overrides)
            print(f"{workload} claim preset as published: " + (f"cannot run on this host: {why}" if why else "fits"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
