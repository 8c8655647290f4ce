"""`analyze --brief`: the report sized for a mail, pasted as is.

At most MAX_LINES lines of at most 72 columns: the design (boots x
iterations, one notation), the checks that matter, then per claim the
claim, the measured change with its interval and the verdict (or why it
was not judged), and the two means in human units with the boot-to-boot
standard deviation in percent of the mean. Without claims, one line per
comparison. What does not fit is counted and left to the full report.
"""

from __future__ import annotations

from benchctl.analyze.emulation import WHY
from benchctl.analyze.kinds import POOLED_PREFIX
from benchctl.analyze.predictions import describe as describe_prediction
from benchctl.analyze.report.common import (
    BANNER,
    change,
    decide_design,
    emulation_line,
    exact_values_line,
    header_facts,
    is_emulation_check,
    reason,
    verdict_word,
)
from benchctl.analyze.report.text import finish, wrap
from benchctl.analyze.report.units import human, sd_pct
from benchctl.analyze.resulttypes import Analysis, ClaimResult, Comparison, sides

MAX_LINES = 40
MAX_CHECK_LINES = 3  # a check longer than this is cut (the full report has it whole)
MAX_WHY_LINES = 3


def _noise(cp: Comparison, b: str, c: str) -> str:
    """The between-boot sd of each arm, as the full report gives it: the variance component (not the
    sd of the boot means, which also holds the within-boot noise of each mean)."""
    vc = cp["variance_components"]
    parts = [
        f"{arm} {sd_pct(v['between_boot_var'] if (v := vc.get(role)) else None, side['mean'])}"
        for arm, (role, side) in zip((b, c), sides(cp), strict=True)
    ]
    return "sd between boots " + ", ".join(parts)


def _decide(cl: ClaimResult) -> str | None:
    dec = cl.get("decide")
    if not dec:
        return None
    if dec.get("boots_per_arm"):
        return f"to decide: {decide_design(dec)} per arm"
    return f"to decide: {dec['note']}" if dec.get("note") else None


def _claim(
    cl: ClaimResult, comps: dict[tuple[str, str], Comparison], b: str, c: str, simulated: bool = False
) -> list[str]:
    tag = "  SIMULATED" if simulated else ""
    out = wrap(f"{cl['id']} ({cl['workload']} {cl['metric']}), claimed {cl['claimed_text']}", "  ", "")
    why = reason(cl)
    word = verdict_word(cl)
    if why and is_emulation_check(why):
        # the header says why in full; one line per timing claim keeps the brief in 40 lines
        word, why = f"{word}: {why.partition('):')[0]})", None
    if cl["ci_pct"]:
        out.append(f"  {change(cl)}  {word}{tag}")
    else:
        out.append(f"  no data  {word}{tag}")
    for w in cl.get("warnings", []):
        if "(assumed" in w:
            out += wrap(w, "    ", "  setup ")
    dec = _decide(cl)
    if dec:
        out += wrap(dec, "    ", "  ")
    if cl.get("prediction"):
        out += wrap(describe_prediction(cl["prediction"], short=True), "    ", "  ")
    if why:
        lines = wrap(why, "    ", "  why: ")
        if len(lines) > MAX_WHY_LINES:
            lines = lines[:MAX_WHY_LINES]
            lines[-1] = lines[-1][:68].rstrip() + " ..."
        out += lines
        return out
    cp = comps.get((cl["workload"], cl["metric"]))
    if cl.get("scaling"):
        pts = cl["scaling"]["points"]
        each = ", ".join(f"{p['ram_gib']:.3g} GiB {p['change']:+.0f}" for p in pts)
        out += wrap(f"{len(pts)} sizes: {each} {cp['unit'] if cp else ''}".rstrip(), "    ", "  ")
    elif cp and cp.get("exact"):
        out += wrap(exact_values_line(cp, b, c, cp["unit"]), "    ", "  ")
    elif cp:
        unit = cp["unit"]
        out += wrap(
            f"{b} {human(cp['baseline']['mean'], unit)}, {c} {human(cp['candidate']['mean'], unit)}; "
            + _noise(cp, b, c),
            "    ",
            "  ",
        )
    return out


def _comparison(cp: Comparison) -> str:
    line = f"  {cp['workload']} {cp['metric']}  {change(cp)}"
    return line + ("  (not judged)" if cp.get("not_judged") else "")


def _checks(result: Analysis, budget: int) -> list[str]:
    # the emulation is the second line of the brief already: not again among the checks
    items = [w for w in result["checks"] if not is_emulation_check(w)] + result["skipped"]
    if not items:
        return ["checks: none triggered"]
    out = ["checks:"]
    for i, w in enumerate(items):
        lines = wrap(w, "    ", "  - ")
        if len(lines) > MAX_CHECK_LINES:
            lines = lines[:MAX_CHECK_LINES]
            lines[-1] = lines[-1][:68].rstrip() + " ..."
        if len(out) + len(lines) > budget - 1 and i < len(items) - 1:
            out.append(f"  - and {len(items) - i} more (full report: without --brief)")
            break
        out += lines
    return out


def render(result: Analysis) -> str:
    b, c = result["baseline"], result["candidate"]
    facts = header_facts(result)
    head = [f"*** {BANNER} ***"] if result["simulated"] else []
    head.append(f"benchctl: {c} vs {b} (baseline), {result['confidence']:.0%} intervals over boots")
    emulated = emulation_line(result)
    if emulated:
        head += wrap(f"host: {emulated}", "  ", "")
        head += wrap(f"({WHY})", "  ", "  ")
    head += wrap(
        f"design: {facts['design_text']}; host {facts['hosts']}"
        + (f"; {facts['counted']}" if facts["counted"] else ""),
        "  ",
        "",
    )
    for arm in (b, c):
        head += wrap(f"{arm}: {facts['compared'][arm]}", "  ", "")
    if facts["cmdline_diff"]:
        head += wrap(f"cmdline: {facts['cmdline_diff']}", "  ", "")
    comps = {(cp["workload"], cp["metric"]): cp for cp in result["comparisons"]}
    body: list[str] = []
    if result["claims"]:
        empty = [
            cl["id"]
            for cl in result["claims"]
            if cl["verdict"] == "not-judged" and (not cl["ci_pct"] or (reason(cl) or "").startswith(POOLED_PREFIX))
        ]
        for cl in result["claims"]:
            if cl["id"] not in empty:
                body += _claim(cl, comps, b, c, result["simulated"])
        if empty:
            why = {cl["id"]: reason(cl) or "" for cl in result["claims"]}
            shown = [f"{i} (unsupported here)" if "unsupported on this host" in why[i] else i for i in empty]
            pooled = [i for i in empty if why[i].startswith(POOLED_PREFIX)]
            nodata = [s for s, i in zip(shown, empty, strict=True) if i not in pooled]
            if pooled:
                body += wrap(f"not judged, {POOLED_PREFIX} (one size at a time): {', '.join(pooled)}", "  ", "")
            if nodata:
                body += wrap(f"not judged, no data in both arms: {', '.join(nodata)}", "  ", "")
    else:
        body = ["change (candidate / baseline - 1), interval over boots:"]
        body += [_comparison(cp) for cp in result["comparisons"]]
    foot = [
        "p: Welch on per-boot means, Holm across claims; hierarchical",
        "bootstrap over boots then iterations. Full report: without --brief.",
    ]
    if result["simulated"]:
        foot.append(f"*** {BANNER} ***")
    budget = MAX_LINES - len(head) - len(foot) - 2
    room = max(6, budget - min(len(body), budget - 6))
    checks = _checks(result, room)
    budget -= len(checks)
    if len(body) > budget:
        cut = len(body) - budget + 1
        body = body[: budget - 1] + [f"  ... {cut} more lines in the full report (without --brief)"]
    return finish(head + checks + [""] + body + [""] + foot)
