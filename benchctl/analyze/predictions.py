"""What the model says a claim should measure, put beside the verdict (always labelled SIMULATED).

A claim names its model with `prediction = "pagetables"` (analysis/claims/
README.md). For boot-memory that is `benchctl model pagetables`: the exact
bytes of linear-map page tables the PTE arm pays and the block arm does not,
for the RAM and granule of the machine the runs were measured on (from their
fingerprints: the kernel's "Memory: .../NK available" boot line, else
MemTotal), as a percent of the baseline's measured mean. When the model has rules for
the candidate's kernel release (Debian's 6.1, 6.17, 6.18: kernel image
alias, KFENCE, allow-list) and a profile for its CPU, it is `model
pagetables --release` with that release, CPU and rodata= instead. The
measurement is judged on its own; the prediction only says whether the size
is what the arithmetic expects.
"""

from __future__ import annotations

from typing import Any

from benchctl.analyze.resulttypes import Analysis, ClaimResult, ModelPoint, Prediction
from benchctl.claims import Claim
from benchctl.documents import get
from benchctl.errors import InputError
from benchctl.results.store import read_fingerprint
from benchctl.results.table import Tidy

MEMORY_METRICS = ("mem_total_kb", "mem_free_kb", "mem_available_kb")


def _fingerprint(tidy: Tidy, arm: str) -> dict[str, Any] | None:
    """The first env-before.json of a run of this arm that says how much memory there is."""
    for b in tidy.boots:
        if b.arm != arm or b.source == "csv":
            continue
        try:
            doc = read_fingerprint(b.source, "before")
        except InputError:
            continue
        if doc is not None and (get(doc, "memory.ram_kb") or get(doc, "memory.total_kb")):
            return doc
    return None


def _sign(tidy: Tidy, baseline: str, candidate: str) -> tuple[int, str]:
    """+1 when the baseline is the PTE arm (the model's saving shows as an increase), -1 reversed."""
    states = {arm: {b.linear_map_before for b in tidy.boots if b.arm == arm} for arm in (baseline, candidate)}
    if states[baseline] == {"block"} and states[candidate] == {"pte"}:
        return -1, f"{baseline} is block-mapped, {candidate} PTE-mapped"
    if states[baseline] == {"pte"} and states[candidate] == {"block"}:
        return 1, f"{baseline} is PTE-mapped, {candidate} block-mapped"
    return 1, f"linear-map states not both known; assumed {baseline} = PTE arm, {candidate} = block arm"


def pagetables(env: dict[str, Any]) -> Prediction:
    """`benchctl model pagetables` for the machine a fingerprint describes."""
    from benchctl.model.pagetables import compare, from_fingerprint, parse_granule

    ram_kb, page = get(env, "memory.ram_kb"), get(env, "kernel.page_size")
    if ram_kb and page:
        granule = parse_granule(page)
        ram, ram_from = int(ram_kb) * 1024 // granule * granule, "the kernel's 'Memory:' boot line"
    else:
        ram, granule = from_fingerprint(env)
        ram_from = "MemTotal (no 'Memory:' boot line; RAM is a little larger)"
    c = compare(ram, granule)
    out: Prediction = {
        "model": "pagetables",
        "simulated": True,
        "basis": c["basis"],
        "ram_bytes": ram,
        "ram_from": ram_from,
        "granule_bytes": granule,
        "saving_bytes": c["saving_bytes"],
    }
    rel = _release_rules(env, ram, granule)
    if rel:
        out.update(rel)
    return out


def _release_rules(env: dict[str, Any], ram: int, granule: int) -> Prediction | None:
    """`model pagetables --release` for a block-mapped fingerprint whose release the model has rules for
    (Debian's 6.1, 6.17, 6.18) and whose CPU has a profile (same implementer and part): the kernel image
    alias, KFENCE and the allow-list of that release, not the release-blind arithmetic. None otherwise."""
    from benchctl.env.arm64.expected import parse_release
    from benchctl.env.arm64.midr import Midr
    from benchctl.model.datafiles import cpu_names
    from benchctl.model.profiles import load_cpu
    from benchctl.model.releases import release_report, releases

    rel, midrs = parse_release(get(env, "kernel.release") or ""), get(env, "cpu.midr")
    if granule != 4096 or rel is None or f"{rel.major}.{rel.minor}" not in releases() or not midrs:
        return None
    if get(env, "linear_map.state") != "block":  # the rules of a PTE-mapped kernel say only "no saving here"
        return None
    try:
        seen = Midr(int(str(midrs[0].get("value")), 16))
    except (TypeError, ValueError, AttributeError):
        return None
    profiles = {k: Midr(load_cpu(k).midr_value) for k in cpu_names()}
    cpu = next((k for k, m in profiles.items() if (m.implementer, m.part) == (seen.implementer, seen.part)), None)
    if cpu is None:
        return None
    rodata = get(env, "rodata.requested")  # the candidate's rodata= (6.1's campaign: on vs full)
    r = release_report(
        ram, f"{rel.major}.{rel.minor}", cpu, rodata if rodata in ("on", "off", "full", "noalias") else None
    )
    return {
        "saving_bytes": r["boot_memory"]["mem_total_change"],
        "basis": f"release {r['release']['key']} rules ({r['release']['build']}), {load_cpu(cpu).name}",
        "release": r["release"]["key"],
    }


def attach(result: Analysis, tidy: Tidy, claims: list[Claim]) -> None:
    """Add `prediction` to every judged claim whose claim asks for one."""
    wanted = {c.id: c for c in claims if c.prediction}
    if not wanted:
        return
    baseline, candidate = result["baseline"], result["candidate"]
    env = _fingerprint(tidy, candidate) or _fingerprint(tidy, baseline)
    comps = {(c["workload"], c["metric"]): c for c in result["comparisons"]}
    sign, orientation = _sign(tidy, baseline, candidate)
    for row in result["claims"]:
        claim = wanted.get(row["id"])
        if claim is None:
            continue
        if claim.metric not in MEMORY_METRICS:
            row["prediction"] = {
                "model": claim.prediction,
                "unavailable": f"the model predicts memory, not {claim.metric}",
            }
            continue
        if env is not None and claim.kind == "scaling":
            row["prediction"] = _scaling(row, env, sign)
            continue
        if env is None:
            row["prediction"] = {
                "model": claim.prediction,
                "unavailable": "no fingerprint with the RAM size in the "
                "input (run folders carry one in env-before.json; CSV does not)",
            }
            continue
        try:
            pred = pagetables(env)
        except Exception as e:  # a model error must not hide the measured verdict
            row["prediction"] = {"model": claim.prediction, "unavailable": f"model failed: {e}"}
            continue
        comp = comps.get((claim.workload, claim.metric))
        base_kb = comp["baseline"]["mean"] if comp else None
        saving_kb = sign * pred["saving_bytes"] / 1024
        pred.update(
            {
                "saving_kb": saving_kb,
                "orientation": orientation,
                "change_pct": 100.0 * saving_kb / base_kb if base_kb else None,
            }
        )
        row["prediction"] = pred


def _scaling(row: ClaimResult, env: dict[str, Any], sign: int) -> Prediction:
    """The model's change at each measured machine size (the candidate's fingerprint with that RAM),
    and the slope of the line through them, for the scaling figure and the verdict line."""
    from benchctl.analyze.stats.slope import fit

    pts = row["scaling"]["points"] if "scaling" in row else []
    model: list[ModelPoint] = []
    for p in pts:
        pred = pagetables({**env, "memory": {**(env.get("memory") or {}), "ram_kb": p["ram_kb"]}})
        model.append({"ram_gib": p["ram_gib"], "change": sign * pred["saving_bytes"] / 1024})
    out: Prediction = {"model": "pagetables", "simulated": True, "scaling": True, "points": model}
    if len(model) >= 3:
        out["slope"] = fit([m["ram_gib"] for m in model], [m["change"] for m in model]).slope
        out["basis"] = pred.get("basis")
    else:
        out["unavailable"] = "fewer than 3 machine sizes measured"
    return out


def describe(pred: Prediction, short: bool = False) -> str:
    """One line for the text and markdown reports; `short` for the brief (one printed line)."""
    if "unavailable" in pred:
        return f"model {pred['model']} (SIMULATED): not available: {pred['unavailable']}"
    if pred.get("scaling"):
        each = ", ".join(f"{m['change']:+.0f}" for m in pred["points"])
        return f"model pagetables (SIMULATED): {pred['slope']:+.0f} kB/GiB RAM ({each} kB at the measured sizes)"
    from benchctl.human import fmt_size

    pct = f"{pred['change_pct']:+.3f} % " if pred.get("change_pct") is not None else ""
    rules = f", {pred['release']} rules" if pred.get("release") else ""
    if short:
        size = fmt_size(pred["ram_bytes"])
        return f"model (SIMULATED): {pct}({pred['saving_kb']:+.0f} kB PTE tables, {size}{rules})"
    return (
        f"model pagetables (SIMULATED, exact arithmetic): {pct}({pred['saving_kb']:+.0f} kB of PTE tables for "
        f"{fmt_size(pred['ram_bytes'])} RAM from {pred['ram_from']}, {pred['granule_bytes'] // 1024}K pages{rules})"
    )
