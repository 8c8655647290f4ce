"""Plain-text report for a mailing-list reply (`analyze`, the full dump).

Rules: ASCII only, every line <= 72 columns, no tabs (mail clients and
kernel maintainers' quoting). Order: banner (simulated), header (hosts,
kernels, arms, boots x iterations), design checks BEFORE any number, one
block per claim (measured change, interval, claim, verdict or why it was
not judged, a small chart of the interval against the claimed band), all
comparisons (means in human units, noise as standard deviations in percent
of the mean), then the numbered warnings last. brief.py is the mail-sized
version.
"""

from __future__ import annotations

from benchctl.analyze.predictions import describe as describe_prediction
from benchctl.analyze.report.common import (
    BANNER,
    Footnotes,
    change,
    decide_design,
    emulation_line,
    exact_values_line,
    header_facts,
    pval,
    reason,
    unit_of,
    verdict_word,
)
from benchctl.analyze.report.units import design, human, sd_pct
from benchctl.analyze.resulttypes import Analysis, ClaimResult, Comparison
from benchctl.analyze.sameness import EXACT_TEXT
from benchctl.human import WIDTH
from benchctl.human import wrap as wrap_text

CHART = 44


def wrap(text: str, indent: str = "  ", first: str | None = None) -> list[str]:
    """The report's paragraphs: benchctl.human.wrap, indented two columns unless told."""
    return wrap_text(text, indent, first)


def chart(low: float, high: float, est: float, band: tuple[float, float], unit: str = "%") -> list[str]:
    """Two rows on one axis: the claimed band (=) and the interval ([-*-]); | is zero."""
    lo = min(low, band[0], 0.0)
    hi = max(high, band[1], 0.0)
    span = (hi - lo) or 1.0
    lo, hi = lo - 0.04 * span, hi + 0.04 * span
    span = hi - lo

    def pos(x: float) -> int:
        return max(0, min(CHART - 1, round((x - lo) / span * (CHART - 1))))

    claim = [" "] * CHART
    data = [" "] * CHART
    for i in range(pos(band[0]), pos(band[1]) + 1):
        claim[i] = "="
    a, b = pos(low), pos(high)
    for i in range(a, b + 1):
        data[i] = "-"
    data[a], data[b] = "[", "]"
    data[pos(est)] = "*"
    z = pos(0.0)
    for row in (claim, data):
        if row[z] == " ":
            row[z] = "|"
        elif row[z] in "-=":
            row[z] = "+"
    u = "%" if unit == "%" else ""
    left, right = f"{lo:+.1f}{u}", f"{hi:+.1f}{u}" + ("" if u else f" {unit}")
    scale = left + " " * max(1, CHART - len(left) - len(right)) + right
    return ["    claimed  :" + "".join(claim) + ":", "    measured :" + "".join(data) + ":", "              " + scale]


def banner(result: Analysis) -> list[str]:
    if not result["simulated"]:
        return []
    bar = "*" * WIDTH
    return [bar, f"*** {BANNER} ***".center(WIDTH)[:WIDTH].rstrip(), bar]


def header(result: Analysis) -> list[str]:
    b, c = result["baseline"], result["candidate"]
    facts = header_facts(result)
    out = [f"benchctl analyze: {c} (candidate) vs {b} (baseline)"]
    out += wrap(f"hosts:   {facts['hosts']}", "         ", "")
    emulated = emulation_line(result)
    if emulated:
        out += wrap(f"cpu:     {emulated}", "         ", "")
    for arm in (b, c):
        out += wrap(f"{'base' if arm == b else 'cand'}:    {arm}: {facts['compared'][arm]}", "         ", "")
    if facts["cmdline_diff"]:
        out += wrap(f"cmdline: {facts['cmdline_diff']}", "         ", "")
    out += wrap(
        f"design:  {facts['design_text']}" + (f"; {facts['counted']}" if facts["counted"] else ""), "         ", ""
    )
    out += wrap(
        f"method:  {result['confidence']:.0%} intervals from a hierarchical bootstrap (boots, then "
        f"iterations), {result['resamples']} resamples, seed {result['seed']}; "
        "p from Welch's t-test on per-boot means, Holm-adjusted across claims",
        "         ",
        "",
    )
    return out


def _p(cl: ClaimResult) -> str:
    if cl.get("exact"):
        return "p: no test (exact values)"
    return f"p={pval(cl['p_value'])} (Holm {pval(cl['p_adjusted'])})"


def _claim(cl: ClaimResult, notes: Footnotes, b: str, c: str, units: dict[tuple[str, str], str]) -> list[str]:
    why = reason(cl)
    refs = notes.refs(cl["warnings"][1:] if why else cl["warnings"])
    out = [f"  {cl['id']}: {cl['workload']} {cl['metric']}"]
    measured = f"measured {change(cl)}" if cl["ci_pct"] else "measured: no data"
    out += wrap(f"{measured}, claimed {cl['claimed_text']}", "      ", "    ")
    if cl.get("exact"):
        out += wrap(exact_values_line(cl, b, c, units.get((cl["workload"], cl["metric"]), "")), "      ", "    ")
    if cl.get("prediction"):
        out += wrap(describe_prediction(cl["prediction"]), "      ", "    ")
    out += wrap(
        f"{_p(cl)}  verdict: {verdict_word(cl)} {refs}".rstrip(),
        "      ",
        "    ",
    )
    if why:
        out += wrap(f"why: {why}", "      ", "    ")
    dec = cl.get("decide")
    if dec and dec.get("boots_per_arm"):
        note = f"; {dec['note']}" if dec.get("note") else ""
        out += wrap(
            f"to decide: {decide_design(dec)} per arm (80 % power for the claimed change){note}",
            "      ",
            "    ",
        )
    elif dec:
        out += wrap(f"to decide: {dec.get('note')}", "      ", "    ")
    if cl["ci_pct"] and cl["change_pct"] is not None:
        lo, hi = cl["claimed"]["band"]
        out += chart(cl["ci_pct"][0], cl["ci_pct"][1], cl["change_pct"], (lo, hi), unit_of(cl))
    return out


def _comparison(cp: Comparison, b: str, c: str, notes: Footnotes) -> list[str]:
    refs = notes.refs(cp["warnings"])
    unit = cp["unit"]
    out = wrap(f"{cp['workload']} {cp['metric']} {refs}".rstrip(), "    ", "  ")
    bs, cs = cp["baseline"], cp["candidate"]
    out += wrap(
        f"{b} {human(bs['mean'], unit)} ({design(bs['n_boots'], bs['samples_per_boot'])}), "
        f"{c} {human(cs['mean'], unit)} ({design(cs['n_boots'], cs['samples_per_boot'])})",
        "      ",
        "    ",
    )
    mw = cp["tests"]["mann_whitney"]["p_value"]
    out += wrap(
        f"change {change(cp)}"
        + ("" if cp.get("exact") else f"  p={pval(cp['p_value'])}")
        + (f"  MWU p={pval(mw)}" if mw is not None else ""),
        "      ",
        "    ",
    )
    if cp.get("exact"):
        return out + wrap(f"noise: none, {EXACT_TEXT}", "      ", "    ")
    vcb = cp["variance_components"]["baseline"]
    within = sd_pct(vcb["within_boot_var"], bs["mean"])
    within = "within a boot not estimable (one iteration per boot)" if within == "n/a" else f"within a boot {within}"
    out += wrap(
        f"noise ({b}, sd in % of the mean): between boots {sd_pct(vcb['between_boot_var'], bs['mean'])}, {within}",
        "      ",
        "    ",
    )
    res = cp.get("resolution")
    if res:
        out += wrap(
            f"resolution: {res['latency_resolution'] or 'histogram'}, buckets up to {res['resolution_pct']:.3g} % wide",
            "      ",
            "    ",
        )
    return out


def finish(out: list[str]) -> str:
    """Join, strip trailing blanks, and make sure nothing but ASCII reaches a mail."""
    text = "\n".join(line.rstrip() for line in out) + "\n"
    return text.encode("ascii", "replace").decode("ascii").replace("\t", " ")


def render(result: Analysis) -> str:
    notes = Footnotes(result["checks"])
    b, c = result["baseline"], result["candidate"]
    out = banner(result) + header(result) + ["", "Checks (read these before the numbers)"]
    checks = result["checks"] + result["skipped"]
    out += ["  none triggered"] if not checks else []
    for w in checks:
        out += wrap(w, "    ", "  - ")
    if result["claims"]:
        out += ["", "Claims"]
        units = {(cp["workload"], cp["metric"]): cp["unit"] for cp in result["comparisons"]}
        for cl in result["claims"]:
            out += _claim(cl, notes, b, c, units)
    out += ["", "Comparisons (change = candidate / baseline - 1)"]
    for cp in result["comparisons"]:
        out += _comparison(cp, b, c, notes)
    for n in result["notes"]:
        out += wrap(n, "    ", "  - ")
    out += ["", "Warnings"] + (["  none"] if not notes.items else [])
    for i, w in enumerate(notes.items, 1):
        out += wrap(w, "      ", f"  [{i}] ")
    if result["simulated"]:
        out += ["", f"*** {BANNER} ***"]
    return finish(out)
