"""Fit the model's unknowns (walk cost, kernel cycles per op) from measured runs.

Kernel cycles per kernel instruction is linear in walks per instruction:
  cycles_k / inst_retired_k = a + w * (dtlb_walk_k + itlb_walk_k) / inst_retired_k
where w is the average cost of a walk in cycles and a the kernel CPI without
walks (predict.py's cycle model, divided by kernel instructions). Each
iteration is one point; ordinary least squares over all points of a workload,
both arms together (numpy.polyfit, degree 1), gives w and a. One arm alone
hardly moves the walk rate, so w is reported only when both arms are present.
Then predicted vs measured: the headline metric's change between the arms
predicted from the fitted line at each arm's measured walk rate, against the
measured change (ratio of the arms' means).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchctl.errors import InputError
from benchctl.model.targets import model_kind
from benchctl.model.profiles import load_workloads
from benchctl.results.store import RunFolder

COUNTERS = ("dtlb_walk_k", "inst_retired_k", "cycles_k")
HEADLINE = ("ops_per_sec", "iops", "bandwidth_bytes_s", "bandwidth_kib_s")
NEEDED = "dtlb_walk_k, inst_retired_k and cycles_k (itlb_walk_k optional) and one of " + ", ".join(HEADLINE)


def _points(runs: list[Path], simulated: list[bool]) -> dict[str, dict[str, list[dict[str, float]]]]:
    """workload -> arm -> per-iteration {metric: value} for measured (non-warm-up) records."""
    out: dict[str, dict[str, list[dict[str, float]]]] = defaultdict(lambda: defaultdict(list))
    lacking = []
    for path in runs:
        folder = RunFolder.open(Path(path))
        simulated.append(bool(folder.manifest.get("simulated")))
        recs, _ = folder.records()
        by_iter: dict[int, dict[str, float]] = defaultdict(dict)
        for r in recs:
            if not r.get("warmup"):
                by_iter[int(r["iteration"])][r["metric"]] = float(r["value"])
        usable = [m for m in by_iter.values() if all(c in m for c in COUNTERS) and any(h in m for h in HEADLINE)]
        if not usable:
            have = sorted({k for m in by_iter.values() for k in m})
            lacking.append(f"{path} (has {', '.join(have) or 'no records'})")
            continue
        out[folder.manifest["workload"]][folder.manifest["arm"]].extend(usable)
    if not out:
        raise InputError(f"no run has perf counters to fit: calibrate needs {NEEDED} per iteration; "
                         f"missing in: {'; '.join(lacking)}")
    return out


def calibrate(runs: list[Path], *, baseline: str = "pte", candidate: str = "block", workload_file=None) -> dict[str, Any]:
    sim: list[bool] = []
    data = _points(runs, sim)
    profiles = load_workloads(workload_file)
    fits = []
    for workload, arms in sorted(data.items()):
        xs, ys = [], []
        for pts in arms.values():
            for m in pts:
                inst = m["inst_retired_k"]
                xs.append((m["dtlb_walk_k"] + m.get("itlb_walk_k", 0.0)) / inst)
                ys.append(m["cycles_k"] / inst)
        fit: dict[str, Any] = {"workload": workload, "points": len(xs), "arms": sorted(arms)}
        both = baseline in arms and candidate in arms
        if both and len(xs) >= 3 and np.ptp(xs) > 0:
            w, a = np.polyfit(np.array(xs), np.array(ys), 1)
            fit["walk_cycles_fitted"] = float(w)
            fit["kernel_cpi_without_walks"] = float(a)
            kind = model_kind(workload)
            if kind in profiles:
                kinst = float(profiles[kind].figures[f"workload.{kind}.kernel_instructions_per_op"].value)
                user = float(profiles[kind].figures[f"workload.{kind}.user_cycles_per_op"].value)
                fit["kernel_cycles_per_op_fitted"] = float(a * kinst)
                fit["assumed_kernel_instructions_per_op"] = kinst
                headline = next(h for h in HEADLINE if any(h in m for m in arms[baseline]))
                mean = {arm: float(np.mean([m[headline] for m in arms[arm] if headline in m])) for arm in (baseline, candidate)}
                mpki = {arm: 1000 * sum(m["dtlb_walk_k"] + m.get("itlb_walk_k", 0.0) for m in arms[arm]) /
                        sum(m["inst_retired_k"] for m in arms[arm]) for arm in (baseline, candidate)}
                cyc = {arm: kinst * (a + w * mpki[arm] / 1000) + user for arm in (baseline, candidate)}
                fit["metric"] = headline
                fit["mpki"] = mpki
                fit["measured_change_pct"] = 100 * (mean[candidate] / mean[baseline] - 1)
                fit["predicted_change_pct"] = 100 * (cyc[baseline] / cyc[candidate] - 1)
        else:
            fit["note"] = (f"walk cost not identifiable: needs iterations of both arms ({baseline} and {candidate}) "
                           "with different walk rates")
        fits.append(fit)
    any_sim = any(sim)
    return {"simulated": any_sim,
            "kind": ("fitted on SIMULATED runs (a self-check of the model, not a measurement)" if any_sim
                     else "model calibrated on measured runs (fitted parameters are model inputs)"),
            "fits": fits}
