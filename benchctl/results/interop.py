"""The tidy table in other tools' formats, so their users can cross-check benchctl.

pyperf (psf/pyperf, JSON format version "1.0", `pyperf/_bench.py`): one
file per arm, one Benchmark per (workload, metric), one Run per boot
whose values are that boot's iterations, and run metadata arm, host,
kernel, boot, run. `python -m pyperf compare_to pte.json block.json`
then compares the arms. pyperf knows three units: microseconds become
'second', kB 'byte', everything else 'integer' (printed with its
decimals); the original unit is kept as metadata `benchctl_unit`. pyperf
refuses values <= 0, so those are left out and counted.

benchstat (Go benchmark data format, golang/proposal design/14313): one
result line per (workload, iteration), every metric of that iteration as
a value/unit pair, under configuration lines `arm:`, `host:`, `boot:`,
`run:` (and `kernel:`) that change with the boot, so `benchstat -col
arm` compares the arms. Note that benchstat treats every line as an
independent sample; boots are not its unit of replication as they are
benchctl's.
"""

from __future__ import annotations

import math
import re
from typing import Any

from benchctl.results.table import Tidy

PYPERF_VERSION = "1.0"


def _pyperf_unit(unit: str) -> tuple[str, float]:
    if unit == "us":
        return "second", 1e-6
    if unit in ("kB", "KiB"):
        return "byte", 1024.0
    if unit == "B":
        return "byte", 1.0
    return "integer", 1.0


def _kernels(tidy: Tidy) -> dict[tuple[str, str], str]:
    return {(b.arm, b.boot): b.kernel_release for b in tidy.boots if b.kernel_release}


def pyperf_suites(tidy: Tidy) -> tuple[dict[str, dict[str, Any]], int]:
    """arm -> a pyperf BenchmarkSuite as JSON, and the number of values <= 0 left out."""
    df = tidy.df
    kernels = _kernels(tidy)
    dropped = 0
    suites: dict[str, dict[str, Any]] = {}
    for arm, a in df.groupby("arm", sort=True, observed=True):
        benches = []
        for (workload, metric), m in a.groupby(["workload", "metric"], sort=True, observed=True):
            unit = str(m["unit"].iloc[0])
            punit, scale = _pyperf_unit(unit)
            runs = []
            for (host, boot, run), r in m.groupby(["host", "boot", "run"], sort=False, observed=True):
                values = [float(v) * scale for v in r.sort_values("iteration")["value"]]
                kept = [v for v in values if v > 0 and math.isfinite(v)]
                dropped += len(values) - len(kept)
                if kept:
                    meta = {"arm": str(arm), "host": str(host) or "unknown", "boot": str(boot), "run": str(run)}
                    if kernels.get((arm, boot)):
                        meta["kernel"] = kernels[(arm, boot)]
                    runs.append({"metadata": meta, "values": kept})
            if runs:
                bmeta = {"name": f"{workload}/{metric}", "unit": punit, "benchctl_unit": unit or "none"}
                benches.append({"metadata": bmeta, "runs": runs})
        meta = {"benchctl_arm": str(arm)}
        if bool(a["simulated"].any()):
            meta["benchctl_simulated"] = "SIMULATED - model output, not a measurement"
        suites[str(arm)] = {"version": PYPERF_VERSION, "metadata": meta, "benchmarks": benches}
    return suites, dropped


def _bench_name(workload: str) -> str:
    """fio-dmcrypt -> BenchmarkFioDmcrypt: 'Benchmark' and a capital, no spaces (a valid name field)."""
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", workload) if p]
    return "Benchmark" + "".join(p[:1].upper() + p[1:] for p in parts) if parts else "BenchmarkUnnamed"


def _field(s: object) -> str:
    """A configuration value or unit: one line, and no spaces in units."""
    return re.sub(r"\s+", "_", str(s).strip()) or "unknown"


def benchstat_text(tidy: Tidy) -> str:
    """The Go benchmark data format: config lines per boot, one result line per (workload, iteration)."""
    df = tidy.df.sort_values(["arm", "host", "boot", "run", "workload", "iteration", "metric"], kind="stable")
    kernels = _kernels(tidy)
    out = ["# benchctl export --format benchstat: one line per iteration; compare with `benchstat -col arm`"]
    if bool(df["simulated"].any()):
        out.append("# SIMULATED DATA - model output, not a measurement")
    config: dict[str, str] = {}
    for (arm, host, boot, run, workload, _it), g in df.groupby(
        ["arm", "host", "boot", "run", "workload", "iteration"], sort=False, observed=True
    ):
        want = {"arm": _field(arm), "host": _field(host), "boot": _field(boot), "run": _field(run)}
        if kernels.get((arm, boot)):
            want["kernel"] = _field(kernels[(arm, boot)])
        changed = [k for k in want if config.get(k) != want[k]]
        if changed:
            out.append("")
            out += [f"{k}: {want[k]}" for k in changed]
            config.update(want)
        pairs = " ".join(f"{float(v):.10g} {_field(m)}" for m, v in zip(g["metric"], g["value"], strict=True))
        out.append(f"{_bench_name(str(workload))} 1 {pairs}")
    return "\n".join(out) + "\n"
