"""What `benchctl model` prints: text of at most 72 columns, every block labelled SIMULATED.

Pure functions from the JSON-ready results of pagetables, predict,
calibrate and simulate to text (and the markdown table of docs/model.md);
the commands print them. A single word longer than a line (a path the user
chose) is not broken, so commands stay pasteable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from benchctl.human import WIDTH, wrap

BANNER = "SIMULATED - benchctl model output, not a measurement"


def shell_lines(words: list[str], indent: str = "  ") -> list[str]:
    """A command as lines of at most WIDTH columns, continued with backslashes (pasteable as is)."""
    lines, cur = [], indent
    for w in words:
        piece = w if cur.strip() == "" else " " + w
        if len(cur) + len(piece) + 2 > WIDTH and cur.strip():
            lines.append(cur + " \\")
            cur = indent + "    " + w
        else:
            cur += piece
    lines.append(cur)
    return lines


def render_pagetables(r: dict[str, Any], unmapped_range: tuple[int, int] | None = None) -> str:
    """`model pagetables` as text: tables per level in both arms, MemTotal and MemFree changes."""
    from benchctl.human import fmt_size

    bm, g = r["boot_memory"], r["granule_bytes"]
    out = [f"{BANNER}", "(exact page-table arithmetic)"]
    out += wrap(
        f"RAM {fmt_size(r['installed_bytes'])} installed, {fmt_size(bm['mapped'])} mapped ({r['source']}); "
        f"granule {fmt_size(g)}, VA_BITS=48"
    )
    out.append(f"{'table level':<12}{'PTE arm':>20}{'block arm':>20}{'saving':>20}")
    for lv in r["levels"]:
        out.append(
            f"{lv['level']:<12}{fmt_size(lv['pte_arm_bytes']):>20}{fmt_size(lv['block_arm_bytes']):>20}"
            f"{fmt_size(lv['saving_bytes']):>20}"
        )
    out.append(
        f"{'total':<12}{fmt_size(r['pte_arm_bytes']):>20}{fmt_size(r['block_arm_bytes']):>20}"
        f"{fmt_size(r['saving_bytes']):>20}"
    )
    out.append(f"MemTotal change (block - PTE): {bm['mem_total_change'] // 1024:+,} kB")
    if unmapped_range:
        a, b = r["mem_total_change_range_bytes"]
        out += wrap(
            f"{a // 1024:+,}..{b // 1024:+,} kB for {fmt_size(unmapped_range[1])}..{fmt_size(unmapped_range[0])} "
            "unmapped (the assumption's range)",
            "  ",
            "  ",
        )
    out.append(
        f"MemFree change: {bm['mem_free_change'] // 1024:+,} kB (splits after boot: {bm['split_tables'] // 1024:,} kB)"
    )
    out.append(f"memmap (both arms): {fmt_size(bm['memmap'])}")
    rng = (r.get("release") or {}).get("mem_total_change_range_bytes")
    if rng:
        out += wrap(f"{rng[0] // 1024:+,}..{rng[1] // 1024:+,} kB over the alias size's assumed range", "  ", "  ")
    for n in r["notes"]:
        out += wrap(n, "  ", "note: ")
    mapped_by = ", ".join(f"{k} {fmt_size(v)}" for k, v in r["mapped_bytes"]["block"].items() if v)
    out += wrap(mapped_by, "  ", "block arm maps: ")
    return "\n".join(out)


def _pub(p: dict) -> str:
    pub = p["published_pct"]
    if not pub:
        return "-"
    return f"{pub[0]:+.3g} %" if pub[0] == pub[1] else f"{pub[0]:+.0f}..{pub[1]:+.0f} %"


def decimals(lo: float, hi: float) -> int:
    """Decimals that show an interval's two ends apart (2 to 5): +0.1992..+0.1999 % is not +0.20..+0.20."""
    d = 2
    while d < 5 and abs(hi - lo) < 10.0 ** (1 - d):
        d += 1
    return d


def interval_text(p: dict) -> tuple[str, str]:
    """A prediction's median and 90 % interval with enough decimals to show why it holds the published value
    or not (the one-boot interval where there is one)."""
    lo, hi = p.get("one_boot_interval_pct") or p["interval_pct"]
    d = decimals(lo, hi)
    return f"{p['median_pct']:+.{d}f}", f"[{lo:+.{d}f}, {hi:+.{d}f}]"


def render_predictions(r: dict) -> str:
    """`model predict` as text: the arms, one row per claim, then each claim's mechanism and assumptions."""
    out = [BANNER]
    arms = r["arms"]
    out += wrap(
        f"CPU {r['cpu_name']} (MIDR {r['midr']}), {r['ram_bytes'] >> 30} GiB, {r['draws']} joint draws. "
        f"Baseline: the kernel without the series ({arms['pte']['kernel']}'s rules): "
        f"{arms['pte']['linear_map']}; candidate: with it ({arms['block']['kernel']}): "
        f"{arms['block']['linear_map']} ({arms['block']['why']}). Simulated runs give both arms "
        "one release, as a build with and without the series on one base would."
    )
    if r.get("calibration"):
        c = r["calibration"]
        out += wrap(
            f"Calibrated by tlb-probe on {c['cpu_model']} ({', '.join(c['used'])}); effective draws "
            f"{c['effective_draws']:.0f} of {r['draws']}."
        )
    out.append("")
    out.append(f"{'claim':<14}{'published':>11}{'median':>11}  {'90 % interval':<20}{'in':>4}")
    for p in r["predictions"]:
        inside = {True: "yes", False: "no", None: "-"}[p["published_inside_interval"]]
        med, iv = interval_text(p)
        out.append(f"{p['claim'][:14]:<14}{_pub(p):>11}{med:>10}%  {iv:<20}{inside:>4}")
    out.append(f"published inside the interval: {r['inside_count']} of {len(r['predictions'])}")
    out += wrap("A published number stands for its rounding (+0.199 % is +0.1985..+0.1995 %).")
    for p in r["predictions"]:
        out.append("")
        out += wrap(p["mechanism"], "  ", f"{p['claim']}: ")
        if p.get("mem_total"):
            mt = p["mem_total"]
            out += wrap(
                f"MemTotal {mt['median_kb']:+,} kB [{mt['interval_kb'][0]:+,}, {mt['interval_kb'][1]:+,}]; "
                f"MemFree {p['mem_free_kb']['median']:+,} kB; one boot per arm adds boot-to-boot noise "
                "(the interval shown).",
                "  ",
                "  ",
            )
        if p["top_assumptions"]:
            out += wrap(
                ", ".join(
                    f"{a['name'].replace('workload.', '')} {100 * a['variance_share']:.0f} %"
                    for a in p["top_assumptions"][:3]
                ),
                "    ",
                "  rests on: ",
            )
    for w in r.get("warnings", []):
        out += wrap(w, "  ", "warning: ")
    return "\n".join(out)


OBS_LABELS = {
    "chase_huge_ns": "dependent load, huge pages",
    "chase_penalty_ns": "walk on a dependent load",
    "randcopy_huge_ns": "4 KiB copy of a random page",
    "randcopy_penalty_ns": "walk on a random copy",
    "seqcopy_huge_ns": "4 KiB of a streaming copy",
    "seqcopy_penalty_ns": "4 KiB boundary, stream",
}


def render_calibration(r: dict) -> str:
    """`model calibrate` as text: the estimates with their errors, and the predict command that uses them."""
    if r.get("source") != "tlb-probe":
        out = [r["kind"]]
        for f in r["fits"]:
            c, a = f["cycles_per_walk"], f["kernel_cpi_without_walks"]
            out += wrap(
                f"{f['workload']}: {c['mean']:.1f} +- {c['se']:.1f} cycles per walk, kernel CPI without "
                f"walks {a['mean']:.3f} +- {a['se']:.3f} ({f['iterations']} iterations; walk rates differ, "
                f"Welch p={f['walk_rate_welch_p']:.2g})"
            )
        return "\n".join(out)
    out = wrap(
        f"Measured by tlb-probe on {', '.join(r['hosts'])} ({r['cpu_model']}, {r['arch']}): "
        f"{r['iterations']} probe processes, 4 KiB vs {r['huge_arm']}, "
        f"{r['config'].get('size', 0) >> 20} MiB per arm."
    )
    out.append(f"{'quantity (ns per op)':<30}{'mean':>9}{'se':>8}  {'95 % interval':<20}")
    for name, o in r["observations"].items():
        lo, hi = o["ci95"]
        iv = f"[{lo:.1f}, {hi:.1f}]" if all(map(lambda x: abs(x) < 1e9, (lo, hi))) else "-"
        out.append(f"{OBS_LABELS.get(name, name)[:30]:<30}{o['mean']:>9.1f}{o['se']:>8.1f}  {iv:<20}")
    unsupported = [k for k, s in r.get("counters", {}).items() if not str(s).startswith("ok")]
    if unsupported:
        out += wrap(f"PMU walk counters unsupported here ({', '.join(unsupported)}): times only.")
    for w in r.get("warnings", []):
        out += wrap(w, "  ", "warning: ")
    out += ["", "next:"]
    words = ["benchctl", "model", "predict", "--cpu", "ampereone"]
    for run in r["runs"]:
        words += ["--calibration", run]
    out += shell_lines(words)
    return "\n".join(out)


def render_simulated(paths: list[Path], out_dir: Path | str, claims: Path | str) -> str:
    """What `model simulate` wrote, and the analyze command that reads it (pasteable as is)."""
    out = wrap(f"{BANNER}: wrote {len(paths)} simulated run folders under {out_dir}")
    out.append("next:")
    where = str(paths[0].parent)
    try:
        rel = os.path.relpath(where)
        where = rel if len(rel) < len(where) else where
    except ValueError:
        pass
    out += shell_lines(
        ["benchctl", "analyze", f"{where}/*", "--baseline", "pte", "--candidate", "block", "--claims", str(claims)]
    )
    return "\n".join(out)


def markdown_table(result: dict[str, Any]) -> str:
    """The claims table of docs/model.md, generated from predict's output."""
    rows = [
        f"Predictions for {result['cpu_name']} ({result['ram_bytes'] >> 30} GiB RAM, {result['draws']} draws, "
        f"seed {result['seed']}), SIMULATED:",
        "",
        "| claim | published | predicted median [90 % interval] | inside | mechanism "
        "| main assumptions (variance share) |",
        "|---|---|---|---|---|---|",
    ]
    for p in result["predictions"]:
        pub = p["published_pct"]
        pub_s = "-" if not pub else (f"{pub[0]:+.3g} %" if pub[0] == pub[1] else f"{pub[0]:+.0f} to {pub[1]:+.0f} %")
        med, iv = interval_text(p)
        pred = f"{med} % {iv}"
        inside = {True: "yes", False: "no", None: "-"}[p["published_inside_interval"]]
        names = (
            ", ".join(
                f"`{a['name'].replace('workload.', '')}` ({a['variance_share']:.0%})" for a in p["top_assumptions"][:3]
            )
            or "none (exact or off the allow-list)"
        )
        rows.append(f"| {p['claim']} | {pub_s} | {pred} | {inside} | {p['mechanism']} | {names} |")
    return "\n".join(rows)


def render_explain(r: dict[str, Any]) -> str:
    """`model explain` as text: per claim outside its interval, each top assumption's needed value, the
    joint point and the one-line reading."""
    from benchctl.model.explain import fmt_value, place

    out = [BANNER]
    out += wrap(
        f"What the published values would need: {r['cpu_name']}, {r['draws']} joint draws; one assumption "
        "at a time with the others at their medians, then the nearest joint point (normal scores)."
    )
    for c in r["claims"]:
        out.append("")
        if c["inside"] is not False:
            state = "inside its interval" if c["inside"] else "no published value, or off the allow-list"
            out.append(f"{c['claim']}: {state}: nothing to explain")
            continue
        lo, hi = c["interval_pct"]
        pub = c["published_pct"]
        pub_s = f"{pub[0]:+g} %" if pub[0] == pub[1] else f"{pub[0]:+g}..{pub[1]:+g} %"
        out += wrap(f"{c['claim']}: published {pub_s}, model {c['median_pct']:+.2f} % [{lo:+.2f}, {hi:+.2f}]")
        for a in c["assumptions"]:
            name = a["name"].replace("workload.", "")
            out.append(f"  {name[:60]} ({100 * a['variance_share']:.0f} %)")
            needed = "-" if a["needed"] is None else fmt_value(a["name"], a["needed"])
            rng = a["reach_pct"]
            reach = f"; alone it moves the change over {rng[0]:+.3g}..{rng[1]:+.3g} %" if rng else ""
            cal = (
                f"; calibrated here {fmt_value(a['name'], a['calibrated'])}" if a.get("calibrated") is not None else ""
            )
            out += wrap(
                f"needs {needed} (stated {a['stated']}, {a['status']}: {place(a)}){reach}{cal}", "      ", "      "
            )
            src = a["source"] if len(a["source"]) <= 120 else a["source"][:117].rsplit(" ", 1)[0] + " ..."
            out += wrap(src, "        ", "      source: ")
        j = c["joint"]
        if j.get("reached"):
            pts = ", ".join(f"{n.split('.')[-1]} {fmt_value(n, x)}" for n, x in j["values"].items())
            out += wrap(
                f"nearest joint point: {pts}: {j['distance_sd']:.2f} sd from the medians, P(chi-square, "
                f"{j['dof']} dof) = {j['p_chi2']:.2g}",
                "    ",
                "  ",
            )
        else:
            out += wrap(
                f"no joint point within 4 sd of the top {j.get('dof', 0)}; nearest {j['value_pct']:+.3g} %",
                "    ",
                "  ",
            )
        out += wrap(c["reading"], "    ", "  reading: ")
    return "\n".join(out)


def markdown_explain(r: dict[str, Any]) -> str:
    """The explain table of docs/model.md, generated from explain's output."""
    from benchctl.model.explain import fmt_value, place

    rows = [
        f"What the published values would need, {r['cpu_name']} ({r['draws']} draws, seed {r['seed']}), SIMULATED:",
        "",
        "| claim | published | model [90 %] | assumption (variance share) | stated | needed alone | joint point |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in r["claims"]:
        if c["inside"] is not False:
            continue
        lo, hi = c["interval_pct"]
        pub = c["published_pct"]
        pub_s = f"{pub[0]:+g} %" if pub[0] == pub[1] else f"{pub[0]:+g} to {pub[1]:+g} %"
        j = c["joint"]
        joint = (
            f"{j['distance_sd']:.2f} sd, P {j['p_chi2']:.2g}; {100 * c['share_of_draws_reaching']:.2g} % of draws"
            if j.get("reached")
            else f"none within 4 sd (best {j['value_pct']:+.3g} %)"
        )
        for i, a in enumerate(c["assumptions"]):
            needed = "no value" if a["needed"] is None else f"{fmt_value(a['name'], a['needed'])}: {place(a)}"
            head = f"{c['claim']} | {pub_s} | {c['median_pct']:+.2f} % [{lo:+.2f}, {hi:+.2f}]" if i == 0 else " | |"
            name = a["name"].replace("workload.", "")
            last = joint if i == 0 else ""
            rows.append(f"| {head} | `{name}` ({a['variance_share']:.0%}) | {a['stated']} | {needed} | {last} |")
    return "\n".join(rows)
