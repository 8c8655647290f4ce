"""Synthetic hierarchical benchmark data for the analyze tests (not fixtures).

Nothing here pretends to be a measurement: values come from a stated random
model (boot effect ~ N(0, boot_sd), iteration noise ~ N(0, iter_sd)) so the
tests know the truth. Run folders follow docs/result-format.md field by field.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HEADER = ["arm", "host", "boot", "run", "workload", "iteration", "metric", "value", "unit"]


def rows(
    rng: np.random.Generator,
    *,
    arms=(("pte", 100.0), ("block", 103.5)),
    boots=5,
    iters=10,
    boot_sd=2.0,
    iter_sd=1.0,
    workload="memcached",
    metric="ops_per_sec",
    unit="ops/s",
    interleave=True,
    t0=1_764_140_000.0,
    iter_s=10.0,
    boot_s=400.0,
    host="h1",
) -> list[dict]:
    """Long-format records; boots alternate between arms when interleave."""
    out = []
    order = []
    for b in range(boots):
        for arm, _ in arms:
            order.append((arm, b))
    if not interleave:
        order.sort(key=lambda x: [a for a, _ in arms].index(x[0]))
    mean = dict(arms)
    for k, (arm, b) in enumerate(order):
        eff = rng.normal(0, boot_sd)
        boot = f"{arm}-boot{b}"
        for i in range(iters):
            out.append(
                {
                    "arm": arm,
                    "host": host,
                    "boot": boot,
                    "run": f"run-{boot}-{workload}",
                    "workload": workload,
                    "iteration": i,
                    "metric": metric,
                    "value": float(mean[arm] + eff + rng.normal(0, iter_sd)),
                    "unit": unit,
                    "t": t0 + k * boot_s + i * iter_s,
                }
            )
    return out


def write_csv(path: Path, recs: list[dict], extra=("t",)) -> Path:
    import csv

    cols = HEADER + [c for c in extra if any(c in r for r in recs)]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in recs:
            w.writerow(r)
    return path


def env(
    state: str,
    *,
    release="6.18.0-rc6",
    cmdline="root=/dev/vda1",
    governor="performance",
    thp="always",
    simulated=False,
    fmt="benchctl-env/1",
) -> dict:
    return {
        "format": fmt,
        "taken_at": "2026-11-26T08:00:00Z",
        "root": "/",
        "simulated": simulated,
        "host": {"name": "h1", "arch": "aarch64"},
        "kernel": {"release": release, "cmdline": cmdline},
        "tuning": {"governor": {"policy0": governor}, "thp_enabled": thp},
        "linear_map": {"state": state},
    }


def write_run(
    root: Path,
    recs: list[dict],
    *,
    state="pte",
    state_after=None,
    tainted=False,
    simulated=False,
    env_before: dict | None = None,
    truncate_last=False,
    status="complete",
) -> Path:
    """One run folder per docs/result-format.md from records of a single run."""
    r0 = recs[0]
    d = root / r0["host"] / r0["run"]
    d.mkdir(parents=True, exist_ok=True)
    manifest = {
        "format": "benchctl-run/1",
        "run_id": r0["run"],
        "workload": r0["workload"],
        "arm": r0["arm"],
        "preset": "small",
        "host": r0["host"],
        "boot_id": r0["boot"],
        "kernel_release": "6.18.0-rc6",
        "started": min(r.get("t", 0) for r in recs),
        "finished": None,
        "status": status,
        "iterations_requested": 10,
        "iterations_done": 10,
        "warmup": 1,
        "spec": {},
        "overrides": {},
        "tool_versions": {},
        "simulated": simulated,
        "imported": False,
        "tainted": tainted,
        "taint_lines": ["BUG: sleeping function called from invalid context"] if tainted else [],
        "warnings": [],
        "benchctl_version": "0.1",
    }
    (d / "run.json").write_text(json.dumps(manifest))
    (d / "env-before.json").write_text(json.dumps(env_before or env(state, simulated=simulated)))
    (d / "env-after.json").write_text(json.dumps(env(state_after or state, simulated=simulated)))
    lines = []
    warm = dict(recs[0], iteration=0, warmup=True, value=1e9)
    lines.append(json.dumps(warm))
    for r in recs:
        lines.append(json.dumps(dict(r, warmup=False, simulated=simulated)))
    text = "\n".join(lines) + "\n"
    if truncate_last:
        text = text[: len(text) - 25]
    (d / "records.jsonl").write_text(text)
    return d


def write_runs(root: Path, recs: list[dict], **kw) -> list[Path]:
    by_run: dict[str, list[dict]] = {}
    for r in recs:
        by_run.setdefault(r["run"], []).append(r)
    return [write_run(root, rs, **kw) for rs in by_run.values()]
