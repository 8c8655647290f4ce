"""The stable JSON output of `benchctl analyze --format json`.

Top level (issue 5): `comparisons` and `claims`, plus context keys
(`format`, `simulated`, `banner`, `emulated` (null, or {boots, of, unknown,
how, reason, not_judged}: analyze/emulation.py), `baseline`, `candidate`, `confidence`,
`seed`, `resamples`, `design`, `checks`, `notes`, `skipped` (one line per
file and reason), `skipped_items` (file, line, reason; first 1000), `costs`).
Comparison: workload, metric, unit, baseline/candidate {n_boots, n_samples,
mean, median, boot_means, boots, samples_per_boot}, change_pct, ci_pct [low, high], p_value, method,
variance_components {baseline, candidate}, warnings (+ ci_level_used, tests,
resolution, emulated: true on a timing of an emulated boot). Claim: id, workload, metric, claimed, tolerance, verdict,
change_pct, ci_pct, p_value, p_adjusted, warnings (+ claimed_text, decide).
Non-finite numbers become null so any JSON reader accepts the file.
"""

from __future__ import annotations

import json
import math

from benchctl.analyze.report.common import BANNER


def _clean(x):
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def to_dict(result: dict) -> dict:
    out = {"format": result["format"], "simulated": result["simulated"]}
    if result["simulated"]:
        out["banner"] = BANNER
    out.update({k: v for k, v in result.items() if k not in out})
    return _clean(out)


def render(result: dict) -> str:
    return json.dumps(to_dict(result), indent=2, allow_nan=False) + "\n"
