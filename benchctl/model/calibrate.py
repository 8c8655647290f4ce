"""Calibrate the model from measurements: tlb-probe runs (and workload runs with perf counters).

tlb-probe runs (workload `tlb-probe`): each iteration is one probe process
with its own allocations; within it the arms alternate (AB, BA, ...). For
every kernel (chase, seqcopy, randcopy) the 4 KiB penalty is paired within a
repetition (4 KiB minus huge-page time of the same repetition), its median
taken per iteration (a repetition preempted by another process is an
outlier, not a TLB effect), and the iterations are the replicates: mean +- standard error
sd / sqrt(n) with a Student t 95 % interval (n - 1 degrees of freedom; with a
single iteration the repetitions are used and the output says they share one
allocation). Calibration is refused when the arms do not differ: no usable
huge-page arm, or a chase penalty whose 95 % interval includes zero.

`predict --calibration RUN...` uses them as evidence, not as replacements:
every Monte Carlo draw of the CPU's figures predicts what the probe should
have measured on the probe's host (its cache sizes, buffer and steps), and
the draw is weighted by the likelihood of the measurements, a normal with
variance SE^2 + (model_error x measured)^2 per observable. The model error
is an assumption (MODEL_ERROR, PROXY_MODEL_ERROR below) and is larger when
the probe ran on another CPU than the one modelled (a stand-in). The
effective sample size of the weights is reported; a small one means the
measurements contradict the assumptions.

Workload runs with perf counters keep the least-squares fit of kernel cycles
per kernel instruction against walks per kernel instruction (slope = cycles
per walk), now with standard errors, and refuse when the arms' walk rates do
not differ (Welch t-test, or a slope less than two standard errors from 0).
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from statistics import fmean, median, stdev
from typing import Any

import numpy as np

from benchctl.errors import InputError
from benchctl.model.targets import model_kind
from benchctl.parsers.tlbprobe import KERNELS, paired_penalties, parse
from benchctl.results.store import RunFolder

FORMAT = "benchctl-calibration/1"
PROBE_WORKLOAD = "tlb-probe"
PROBE_FILE = "tlb-probe.txt"
MODEL_ERROR = 0.25  # assumed relative error of the probe model on the modelled CPU itself
PROXY_MODEL_ERROR = 0.6  # ... when the probe ran on another CPU standing in for it
OBSERVABLES = (
    "chase_huge_ns",
    "chase_penalty_ns",
    "randcopy_huge_ns",
    "randcopy_penalty_ns",
    "seqcopy_huge_ns",
    "seqcopy_penalty_ns",
)
COUNTERS = ("dtlb_walk_k", "inst_retired_k", "cycles_k")


def _t95(df: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, df)) if df > 0 else math.inf


def _estimate(per_replicate: list[float]) -> dict[str, Any]:
    n = len(per_replicate)
    mean = fmean(per_replicate)
    se = stdev(per_replicate) / math.sqrt(n) if n > 1 else math.inf
    half = _t95(n - 1) * se if n > 1 else math.inf
    return {"mean": mean, "se": se, "n": n, "ci95": [mean - half, mean + half]}


# -- tlb-probe runs ------------------------------------------------------------------------------------------
def _probe_iterations(folder: RunFolder) -> list[dict[str, Any]]:
    out = []
    for d in sorted((folder.path / "raw").glob("iter-*")):
        f = d / PROBE_FILE
        if f.is_file():
            try:
                out.append(parse(f.read_text(errors="replace")).info)
            except InputError as e:
                raise InputError(f"{f}: {e}") from None
    return out


def probe_summary(runs: list[Path]) -> dict[str, Any]:
    """Per-observable estimates with standard errors from tlb-probe run folders."""
    seen = _read_probe_runs(runs)
    iterations, warnings = seen["iterations"], seen["warnings"]
    if len(seen["cpus"]) > 1:
        raise InputError(
            "tlb-probe runs from different CPUs: calibrate one CPU at a time "
            f"({'; '.join(c[0] for c in sorted(seen['cpus'], key=str))})"
        )
    ((cpu_model, midr, arch),) = seen["cpus"]
    huge = _huge_arm(iterations)
    if huge is None:
        raise InputError(
            "the arms do not differ: no huge-page arm ran (THP unavailable or degraded, no "
            "hugetlb pages); nothing to calibrate. Enable THP (madvise) or reserve huge pages"
        )
    obs = _observations(iterations, huge)
    chase = obs.get("chase_penalty_ns")
    if chase is None:
        raise InputError("the probe ran no chase kernel: its walk penalty is what calibration needs")
    lo, hi = chase["ci95"]
    if chase["n"] < 2 or lo <= 0.0 <= hi:
        raise InputError(
            f"the arms do not differ: chase penalty {chase['mean']:+.1f} ns, 95 % interval "
            f"[{lo:+.1f}, {hi:+.1f}] ns includes zero (n={chase['n']}); refusing to calibrate. "
            "Run more iterations, or a buffer larger than the TLB reach"
        )
    for name, o in obs.items():
        if name.endswith("penalty_ns") and name != "chase_penalty_ns" and o["ci95"][0] <= 0.0 <= o["ci95"][1]:
            warnings.append(
                f"{name.replace('_ns', '')}: 95 % interval includes zero "
                f"({o['mean']:+.1f} +- {o['se']:.1f} ns): no penalty resolved on this CPU"
            )
    return {
        "format": FORMAT,
        "simulated": False,
        "source": "tlb-probe",
        "runs": [str(p) for p in runs],
        "hosts": sorted(h for h in seen["hosts"] if h),
        "cpu_model": cpu_model,
        "midr": midr,
        "arch": arch,
        "huge_arm": huge,
        "iterations": len(iterations),
        "config": seen["config"],
        "caches": seen["caches"],
        "counters": iterations[0].get("counters", {}),
        "observations": obs,
        "warnings": warnings,
    }


def _read_probe_runs(runs: list[Path]) -> dict[str, Any]:
    """Every probe iteration of the runs, with the hosts and CPUs they ran on and the probe's setup."""
    iterations: list[dict[str, Any]] = []
    hosts, cpus, warnings = set(), set(), []
    caches: dict[str, Any] = {}
    config: dict[str, Any] = {}
    for path in runs:
        folder = RunFolder.open(Path(path))
        m = folder.manifest
        if m.get("workload") != PROBE_WORKLOAD:
            raise InputError(f"not a tlb-probe run (workload {m.get('workload')!r})", path)
        its = _probe_iterations(folder)
        if not its:
            raise InputError(f"no {PROBE_FILE} under raw/iter-*: the run measured nothing", path)
        iterations += its
        hosts.add(m.get("host"))
        fp = folder.fingerprint("before") or {}
        cpu = fp.get("cpu") or {}
        midrs = ",".join(str(x.get("value")) for x in cpu.get("midr") or [] if isinstance(x, dict))
        cpus.add((cpu.get("model") or "unknown CPU", midrs or None, (fp.get("host") or {}).get("arch")))
        info = (m.get("run_info") or {}).get("probe") or {}
        caches = caches or info.get("caches") or {}
        config = config or its[0].get("config", {})
        warnings += [w for w in m.get("warnings", []) if w.startswith("tlb-probe:") and w not in warnings]
    return {
        "iterations": iterations,
        "hosts": hosts,
        "cpus": cpus,
        "caches": caches,
        "config": config,
        "warnings": warnings,
    }


def _observations(iterations: list[dict[str, Any]], huge: str) -> dict[str, dict[str, Any]]:
    """Per kernel: the 4 KiB penalty against the huge-page arm (paired within a repetition) and the
    huge-page time, as estimates over iterations (the replicates), or over one iteration's repetitions."""
    obs: dict[str, dict[str, Any]] = {}
    for kernel in KERNELS:
        pen, base = [], []
        for it in iterations:
            d = paired_penalties(it["samples"], kernel, huge)
            h = [s["ns_per_op"] for s in it["samples"] if s["kernel"] == kernel and s["arm"] == huge]
            if d:
                pen.append(d)
                base.append(h)
        if not pen:
            continue
        if len(pen) >= 2:
            obs[f"{kernel}_penalty_ns"] = _estimate([median(d) for d in pen])
            obs[f"{kernel}_huge_ns"] = _estimate([median(h) for h in base])
        else:
            obs[f"{kernel}_penalty_ns"] = _estimate(pen[0])
            obs[f"{kernel}_huge_ns"] = _estimate(base[0])
            obs[f"{kernel}_penalty_ns"]["note"] = "one iteration: repetitions share one allocation"
    return obs


def _huge_arm(iterations: list[dict[str, Any]]) -> str | None:
    """The huge-page arm to compare with: hugetlb if every iteration had it, else a non-degraded THP arm."""
    for arm in ("hugetlb", "thp", "hugetlb1g"):
        if all(
            it["arms"].get(arm, {}).get("status") == "ok" and not it["arms"][arm].get("degraded") for it in iterations
        ):
            return arm
    return None


# -- the probe, as the model sees it ------------------------------------------------------------------------
def probe_model(v: dict[str, np.ndarray], summary: dict[str, Any]) -> dict[str, np.ndarray]:
    """What each draw of the CPU figures predicts the probe measured (same names as OBSERVABLES).

    The probe host's caches (from the run) set where lines live; the draw's
    latencies, walk cost, copy rate and prefetch behaviour set the times.
    """
    cfg, caches = summary["config"], summary["caches"]
    size = float(cfg.get("size") or 512 << 20)
    pages = size / 4096
    l2_lines = float(caches.get("l2_bytes") or v["cpu.l2_kib"].mean() * 1024) / 64
    llc_lines = float(caches.get("llc_bytes") or v["cpu.slc_mib"].mean() * 2**20) / 64
    near = v["cpu.l2_cycles"] / v["cpu.freq_ghz"]

    def resid(rate: np.ndarray | float, t_l2: float, t_llc: float) -> np.ndarray:
        p2 = -np.expm1(-rate * t_l2)
        p3 = np.maximum(-np.expm1(-rate * t_llc) - p2, 0.0)
        return v["cpu.walk_fixed_ns"] + p2 * near + p3 * v["cpu.slc_ns"] + (1 - p2 - p3) * v["cpu.dram_ns"]

    p_data_llc = -math.expm1(-llc_lines / (size / 64))  # a line comes back after the whole buffer
    data_lat = p_data_llc * v["cpu.slc_ns"] + (1 - p_data_llc) * v["cpu.dram_ns"]
    seq = 4096.0 / v["cpu.seq_copy_gbs"]
    gap = np.maximum(0.0, 64.0 * data_lat / v["cpu.mlp"] - seq)
    kappa = v["cpu.copy_walk_fraction"]
    huge_pages = 512.0
    walk_chase = resid(8.0 / pages, l2_lines, llc_lines)
    walk_rand = resid(8.0 / pages, l2_lines / 64, llc_lines / 64)
    walk_seq = (resid(4096.0 / size, l2_lines / 64, llc_lines / 64) + 7 * resid(np.inf, 1.0, 1.0)) / 8
    in_block = gap * ((1 - v["cpu.prefetch_boundary"]) * (1 - 1 / huge_pages) + 1 / huge_pages)
    return {
        "chase_huge_ns": data_lat,
        "chase_penalty_ns": walk_chase,
        "randcopy_huge_ns": seq + gap,
        "randcopy_penalty_ns": kappa * walk_rand,
        "seqcopy_huge_ns": seq + in_block,
        "seqcopy_penalty_ns": gap - in_block + kappa * walk_seq,
    }


def calibration_weights(runs: list[Path], model: Any, v: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, Any]]:
    """Likelihood weights of the draws given tlb-probe runs, and what was used (for the output)."""
    summary = probe_summary(runs)
    same = summary["midr"] is not None and int(model.cpu.midr_value) in {
        int(x, 16) for x in str(summary["midr"]).split(",") if x.startswith("0x")
    }
    err = MODEL_ERROR if same else PROXY_MODEL_ERROR
    pred = probe_model(v, summary)
    loglik = np.zeros(len(next(iter(v.values()))))
    used = []
    for name in OBSERVABLES:
        o = summary["observations"].get(name)
        if o is None or not math.isfinite(o["se"]):
            continue
        var = o["se"] ** 2 + (err * abs(o["mean"])) ** 2
        loglik += -0.5 * (pred[name] - o["mean"]) ** 2 / var
        used.append(name)
    w = np.exp(loglik - loglik.max())
    w /= w.sum()
    ess = float(1.0 / (w**2).sum())
    warnings = list(summary["warnings"])
    if not same:
        warnings.append(
            f"calibration measured on {summary['cpu_model']} ({summary['arch']}), not on "
            f"{model.cpu.name}: a stand-in, weighted with a {err:.0%} model error"
        )
    if ess < 100:
        warnings.append(
            f"calibration leaves an effective sample of {ess:.0f} draws: the probe "
            "measurements disagree with the CPU's assumptions; read the intervals with care"
        )
    summary = dict(summary, used=used, model_error=err, same_cpu=same, effective_draws=round(ess, 1), warnings=warnings)
    return w, summary


# -- workload runs with perf counters ------------------------------------------------------------------------
def _points(runs: list[Path], simulated: list[bool]) -> dict[str, dict[str, list[dict[str, float]]]]:
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
        usable = [
            dict(m, _run=float(len(simulated)))
            for m in by_iter.values()
            if all(c in m for c in COUNTERS) and m["inst_retired_k"] > 0
        ]
        if not usable:
            have = sorted({k for m in by_iter.values() for k in m})
            lacking.append(f"{path} (has {', '.join(have[:6]) or 'no records'})")
            continue
        out[folder.manifest["workload"]][folder.manifest["arm"]].extend(usable)
    if not out:
        raise InputError(
            "no run has what calibrate needs: tlb-probe runs, or workload runs with "
            f"{', '.join(COUNTERS)} per iteration; missing in: {'; '.join(lacking)}"
        )
    return out


def counter_fit(runs: list[Path], *, baseline: str = "pte", candidate: str = "block") -> dict[str, Any]:
    """Cycles per walk from workload runs, with standard errors; refuses when walk rates do not differ."""
    from scipy.stats import ttest_ind

    sim: list[bool] = []
    data = _points(runs, sim)
    fits = []
    for workload, arms in sorted(data.items()):
        if baseline not in arms or candidate not in arms:
            raise InputError(
                f"{workload}: calibrate needs iterations of both arms ({baseline} and {candidate}), "
                f"got {', '.join(sorted(arms))}"
            )
        rate = {
            a: [(m["dtlb_walk_k"] + m.get("itlb_walk_k", 0.0)) / m["inst_retired_k"] for m in pts]
            for a, pts in arms.items()
            if a in (baseline, candidate)
        }
        xs = np.array(rate[baseline] + rate[candidate])
        ys = np.array([m["cycles_k"] / m["inst_retired_k"] for a in (baseline, candidate) for m in arms[a]])
        # boots (run folders) are the replicates of the arms' walk rates, not iterations
        per_run = {
            a: [
                fmean(
                    [
                        (m["dtlb_walk_k"] + m.get("itlb_walk_k", 0.0)) / m["inst_retired_k"]
                        for m in arms[a]
                        if m["_run"] == r
                    ]
                )
                for r in sorted({m["_run"] for m in arms[a]})
            ]
            for a in (baseline, candidate)
        }
        if min(len(per_run[baseline]), len(per_run[candidate])) < 2:
            raise InputError(f"{workload}: need at least 2 runs (boots) per arm to tell the arms' walk rates apart")
        p = float(ttest_ind(per_run[baseline], per_run[candidate], equal_var=False).pvalue)
        if not p < 0.05:
            raise InputError(
                f"{workload}: the arms do not differ in walks per instruction "
                f"across boots (Welch p={p:.2g}): cycles per walk is not identifiable; refusing to calibrate"
            )
        n = len(xs)
        xbar = xs.mean()
        sxx = float(((xs - xbar) ** 2).sum())
        slope = float(((xs - xbar) * (ys - ys.mean())).sum() / sxx)
        icpt = float(ys.mean() - slope * xbar)
        resid = ys - (icpt + slope * xs)
        s2 = float((resid**2).sum() / (n - 2)) if n > 2 else math.inf
        se_slope = math.sqrt(s2 / sxx)
        se_icpt = math.sqrt(s2 * (1 / n + xbar**2 / sxx))
        if not abs(slope) > 2 * se_slope:
            raise InputError(
                f"{workload}: cycles per walk {slope:.1f} +- {se_slope:.1f} is not resolved from zero; "
                "refusing to calibrate"
            )
        fits.append(
            {
                "workload": workload,
                "kind": model_kind(workload),
                "iterations": n,
                "walk_rate_welch_p": p,
                "cycles_per_walk": {"mean": slope, "se": se_slope},
                "kernel_cpi_without_walks": {"mean": icpt, "se": se_icpt},
                "formula": "OLS cycles_k/inst_retired_k = a + w x walks/inst_retired_k; se from the residual "
                "variance (n-2 df)",
            }
        )
    any_sim = any(sim)
    return {
        "format": FORMAT,
        "source": "perf counters",
        "simulated": any_sim,
        "kind": (
            "fitted on SIMULATED runs (a self-check of the model, not a measurement)"
            if any_sim
            else "fitted on measured runs"
        ),
        "fits": fits,
    }


def calibrate(runs: list[Path], *, baseline: str = "pte", candidate: str = "block") -> dict[str, Any]:
    """tlb-probe runs -> probe_summary; other runs -> counter_fit. Mixing them is an error."""
    kinds = set()
    for path in runs:
        kinds.add(RunFolder.open(Path(path)).manifest.get("workload") == PROBE_WORKLOAD)
    if len(kinds) > 1:
        raise InputError("give tlb-probe runs or workload runs with perf counters, not both")
    if kinds == {True}:
        return probe_summary(runs)
    return counter_fit(runs, baseline=baseline, candidate=candidate)
