"""`benchctl campaign run --until-decided`: stop rebooting when every claim is decided.

The plan records that the campaign is adaptive (plan.json "adaptive":
claims file, confidence, max_boots per arm), written by the first
`campaign run --until-decided`, so a resumed run, `campaign status` and
`analyze` all know. After every round the controller analyses the boots
stored so far (boots/, as `benchctl analyze` would) and judges each claim
on its confidence sequence (analyze/adaptive.py, stats/sequential.py):
valid however often it is looked at, so stopping as soon as every claim is
decided keeps the error rates. A claim on a workload the campaign's data
does not have (it does not run it) is shown but left out of the stopping
rule: no boot can decide it (with no data it has no p, so it is outside
Holm's family). No host does more than max_boots boots of an arm (the
plan's boot list is cut where an arm would exceed it).
Interleaving and verification are the plan's, unchanged.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from benchctl.errors import InputError, UsageError

KEY = "adaptive"
RULE = "anytime-valid confidence sequences per claim, spent over max_boots pairs, Holm on p* (docs/analyze.md)"


def validate(path: Path, data: dict) -> None:
    """plan.json's adaptive record, when present: InputError naming the bad key."""
    a = data.get(KEY)
    if a is None:
        return
    ok = (
        isinstance(a, dict)
        and isinstance(a.get("claims"), str)
        and isinstance(a.get("max_boots"), int)
        and not isinstance(a.get("max_boots"), bool)
        and a["max_boots"] >= 2
        and isinstance(a.get("confidence"), float)
        and 0.5 <= a["confidence"] < 1
    )
    if not ok:
        raise InputError(f"{KEY}: expected {{claims: file, max_boots: int >= 2, confidence: 0.5..1}}, got {a!r}", path)


def record(plan: dict[str, Any], claims: str | None, max_boots: int | None, confidence: float | None) -> bool:
    """Make `plan` adaptive (or check a resumed run agrees with it); True when the plan changed."""
    from benchctl.claims import load_claims, resolve_claims

    planned = plan["boots_per_arm"]
    old = plan.get(KEY)
    if old is not None:
        asked = {"claims": claims, "max_boots": max_boots, "confidence": confidence}
        differ = [k for k, v in asked.items() if v is not None and str(v) != str(old[k]) and k != "claims"]
        if differ:
            raise UsageError(
                f"this campaign is already adaptive with {differ[0]} {old[differ[0]]}; "
                f"leave --{differ[0].replace('_', '-')} out to resume it"
            )
        return False
    n = planned if max_boots is None else max_boots
    if n > planned:
        raise UsageError(
            f"--max-boots {n}: the plan has {planned} boots per arm; plan at least {n} "
            f"(`benchctl campaign plan --boots {n}`) and stop early with --until-decided"
        )
    if n < 2:
        raise UsageError(
            f"the plan has {planned} boot per arm; an adaptive campaign needs at least 2 "
            "(`benchctl campaign plan --boots N`, N the most you allow)"
        )
    path = str(resolve_claims(claims or "bbml2"))
    load_claims(path)  # a bad claims file is exit 3 now, not after the first boot
    plan[KEY] = {"claims": path, "max_boots": n, "confidence": confidence or 0.95, "rule": RULE}
    return True


def allowed(plan: dict[str, Any], host: str) -> int:
    """How many of the host's planned boots an adaptive campaign may do: none past max_boots of an arm."""
    seq = plan["hosts"][host]
    a = plan.get(KEY)
    if a is None:
        return len(seq)
    seen: dict[str, int] = {}
    for i, boot in enumerate(seq):
        seen[boot["arm"]] = seen.get(boot["arm"], 0) + 1
        if seen[boot["arm"]] > a["max_boots"]:
            return i
    return len(seq)


def state(folder: Path, plan: dict[str, Any]) -> dict[str, Any]:
    """Each claim's sequential state over the boots stored so far, and whether all are decided."""
    from benchctl.analyze.adaptive import all_decided, change_claims, expected_more, judge_sequential
    from benchctl.analyze.result import analyze
    from benchctl.claims import load_claims
    from benchctl.errors import BenchctlError
    from benchctl.results.loader import load_runs

    a = plan[KEY]
    claims = change_claims(load_claims(a["claims"]))
    if not any(Path(folder).glob("boots/*/*/runs/*/*/records.jsonl")):
        return {"decided": False, "claims": []}
    try:
        tidy = load_runs([folder])
        res = analyze(tidy, plan["baseline"], plan["candidate"], claims, confidence=a["confidence"], resamples=200)
    except BenchctlError as e:  # e.g. one arm has no boot yet
        return {"decided": False, "claims": [], "note": str(e)}
    comps = {(c["workload"], c["metric"]): c for c in res["comparisons"]}
    rows = judge_sequential(claims, comps, a["confidence"], a["max_boots"])
    alpha, family = 1.0 - a["confidence"], sum(r["p_value"] is not None for r in rows)
    measured = set(tidy.df["workload"].astype(str))
    for c, r in zip(claims, rows, strict=True):
        comp = comps.get((c.workload, c.metric))
        more = None if r["decided"] or comp is None else expected_more(c, comp, alpha, a["max_boots"], family)
        r["expect_more"] = more
        if c.workload not in measured:  # more boots cannot decide it: not in the stopping rule
            r["left_out"] = True
            r["note"] = f"workload {c.workload} is not in this campaign's data: left out of the stopping rule"
    judged = [r for r in rows if not r.get("left_out")]
    return {"decided": all_decided(judged), "claims": rows}


def lines(st: dict[str, Any]) -> list[str]:
    """Progress: one line per claim, its state and the boots per arm it still expects to need."""
    out = []
    for r in st["claims"]:
        what = r["verdict"]
        if r["ci_pct"] and all(math.isfinite(x) for x in r["ci_pct"]):
            what += f" [{r['ci_pct'][0]:+.3g}, {r['ci_pct'][1]:+.3g}] %"
        if r.get("left_out"):
            tail = r["note"]
        elif r["decided"]:
            tail = "decided"
        elif r.get("expect_more") is not None:
            tail = f"about {r['expect_more']:.1f} more boots per arm"
        else:
            tail = r.get("note") or "undecided"
        out.append(f"  claim {r['id']}: {what} after {r['n_pairs']} pair(s); {tail}")
    if st.get("note"):
        out.append(f"  claims: not judged yet ({st['note']})")
    return out
