"""Plain-text report for a mailing-list reply.

Rules: ASCII only, every line <= 72 columns, no tabs (mail clients and
kernel maintainers' quoting). Order: banner (simulated), header (hosts,
kernels, arms, boots x iterations), design checks BEFORE any number, one
block per claim (measured change, interval, claim, verdict, a small chart
of the interval against the claimed band), all comparisons, then the
numbered warnings last.
"""

from __future__ import annotations

import textwrap

from benchctl.report.common import BANNER, Footnotes, ci, header_facts, num, pct, pval, verdict_word

WIDTH = 72
CHART = 44


def _wrap(text: str, indent: str = "  ", first: str | None = None) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=first if first is not None else indent,
                         subsequent_indent=indent, break_long_words=True, break_on_hyphens=False) or [indent]


def chart(low: float, high: float, est: float, band: tuple[float, float]) -> list[str]:
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
    left, right = f"{lo:+.1f}%", f"{hi:+.1f}%"
    scale = left + " " * max(1, CHART - len(left) - len(right)) + right
    return ["    claimed  :" + "".join(claim) + ":",
            "    measured :" + "".join(data) + ":",
            "              " + scale]


def render(result: dict) -> str:
    out: list[str] = []
    notes = Footnotes(result["checks"])
    if result["simulated"]:
        bar = "*" * WIDTH
        out += [bar, f"*** {BANNER} ***".center(WIDTH)[:WIDTH].rstrip(), bar]
    b, c = result["baseline"], result["candidate"]
    facts = header_facts(result)
    out.append(f"benchctl analyze: {c} (candidate) vs {b} (baseline)")
    out += _wrap(f"hosts:   {facts['hosts']}", "         ", "")
    out += _wrap(f"kernels: {b}: {facts['kernels'][b]}; {c}: {facts['kernels'][c]}", "         ", "")
    out += _wrap(f"design:  {b}: {facts['design'][b]}; {c}: {facts['design'][c]}", "         ", "")
    conf = result["confidence"]
    out += _wrap(f"method:  {conf:.0%} intervals from a hierarchical bootstrap (boots, then "
                 f"iterations), {result['resamples']} resamples, seed {result['seed']}; "
                 "p from Welch's t-test on per-boot means, Holm-adjusted across claims",
                 "         ", "")
    out.append("")
    out.append("Checks (read these before the numbers)")
    checks = result["checks"] + result["skipped"]
    if not checks:
        out.append("  none triggered")
    for w in checks:
        out += _wrap(w, "    ", "  - ")
    if result["claims"]:
        out.append("")
        out.append("Claims")
        for cl in result["claims"]:
            refs = notes.refs(cl["warnings"])
            out.append(f"  {cl['id']}: {cl['workload']} {cl['metric']}")
            measured = (f"measured {pct(cl['change_pct'])} % {ci(cl['ci_pct'])}"
                        if cl["ci_pct"] else "measured: no data")
            out.append(f"    {measured}, claimed {cl['claimed_text']}")
            out += _wrap(f"p={pval(cl['p_value'])} (Holm {pval(cl['p_adjusted'])})  "
                         f"verdict: {verdict_word(cl)} {refs}".rstrip(), "      ", "    ")
            dec = cl.get("decide")
            if dec and dec.get("boots_per_arm"):
                note = f"; {dec['note']}" if dec.get("note") else ""
                out += _wrap(f"to decide: {dec['boots_per_arm']} boots x {dec['iterations_per_boot']} "
                             f"iterations per arm (80 % power for the claimed change){note}", "      ", "    ")
            elif dec:
                out += _wrap(f"to decide: {dec.get('note')}", "      ", "    ")
            if cl["ci_pct"]:
                band = tuple(cl["claimed"]["band"])
                out += chart(cl["ci_pct"][0], cl["ci_pct"][1], cl["change_pct"], band)
    out.append("")
    out.append("Comparisons (change = candidate / baseline - 1)")
    for cp in result["comparisons"]:
        refs = notes.refs(cp["warnings"])
        unit = f" ({cp['unit']})" if cp["unit"] else ""
        out += _wrap(f"{cp['workload']} {cp['metric']}{unit} {refs}".rstrip(), "    ", "  ")
        bs, cs = cp["baseline"], cp["candidate"]
        out += _wrap(f"{b} {num(bs['mean'])} ({bs['n_boots']}x{bs['n_samples']}), "
                     f"{c} {num(cs['mean'])} ({cs['n_boots']}x{cs['n_samples']})", "      ", "    ")
        mw = cp["tests"]["mann_whitney"]["p_value"]
        vcb = cp["variance_components"]["baseline"]
        out += _wrap(f"change {pct(cp['change_pct'])} % {ci(cp['ci_pct'])}  p={pval(cp['p_value'])}"
                     + (f"  MWU p={pval(mw)}" if mw is not None else ""), "      ", "    ")
        out += _wrap(f"noise ({b}): between-boot var {num(vcb['between_boot_var'])}, "
                     f"within-boot var {num(vcb['within_boot_var'])}", "      ", "    ")
        res = cp.get("resolution")
        if res:
            out += _wrap(f"resolution: {res['latency_resolution']}, buckets up to "
                         f"{num(res['resolution_pct'])} % wide", "      ", "    ")
    for n in result["notes"]:
        out += _wrap(n, "    ", "  - ")
    out.append("")
    out.append("Warnings")
    if not notes.items:
        out.append("  none")
    for i, w in enumerate(notes.items, 1):
        out += _wrap(w, "      ", f"  [{i}] ")
    if result["simulated"]:
        out.append("")
        out.append(f"*** {BANNER} ***")
    text = "\n".join(line.rstrip() for line in out) + "\n"
    return text.encode("ascii", "replace").decode("ascii").replace("\t", " ")
