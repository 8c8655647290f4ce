"""Markdown report for issue trackers: the same facts as text.py, as tables."""

from __future__ import annotations

from benchctl.analyze.predictions import describe as describe_prediction
from benchctl.analyze.report.common import (
    BANNER,
    Footnotes,
    ci,
    decide_design,
    emulation_line,
    header_facts,
    pct,
    pval,
    verdict_word,
)
from benchctl.analyze.report.units import design, human, sd_pct
from benchctl.analyze.resulttypes import Analysis, Row


def interval(item: Row) -> str:
    return "exact (the same value on every boot of an arm)" if item.get("exact") else ci(item["ci_pct"])


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def render(result: Analysis) -> str:
    out: list[str] = []
    notes = Footnotes(result["checks"])
    if result["simulated"]:
        out += [f"> **{BANNER}**", ""]
    b, c = result["baseline"], result["candidate"]
    f = header_facts(result)
    out += [
        f"## benchctl analyze: `{c}` (candidate) vs `{b}` (baseline)",
        "",
        f"- hosts: {f['hosts']}",
        *([f"- cpu: **{emulated}**"] if (emulated := emulation_line(result)) else []),
        f"- baseline `{b}`: {f['compared'][b]}",
        f"- candidate `{c}`: {f['compared'][c]}",
        *([f"- cmdline: {f['cmdline_diff']}"] if f["cmdline_diff"] else []),
        f"- design: {f['design_text']}" + (f"; {f['counted']}" if f["counted"] else ""),
        f"- method: {result['confidence']:.0%} hierarchical bootstrap (boots, then iterations), "
        f"{result['resamples']} resamples, seed {result['seed']}; p: Welch on per-boot means, Holm across claims",
        "",
        "### Checks",
        "",
    ]
    checks = result["checks"] + result["skipped"]
    out += [f"- :warning: {_cell(w)}" for w in checks] or ["- none triggered"]
    if result["claims"]:
        out += [
            "",
            "### Claims",
            "",
            "| claim | metric | measured | interval | claimed | p | p (Holm) | verdict |",
            "|---|---|---:|---|---|---:|---:|---|",
        ]
        for cl in result["claims"]:
            refs = notes.refs(cl["warnings"])
            out.append(
                f"| {cl['id']} | {cl['workload']} {cl['metric']} | "
                f"{pct(cl['change_pct'], 3 if cl.get('exact') else 2) + ' %' if cl['ci_pct'] else 'no data'} | "
                f"{interval(cl)} | {_cell(cl['claimed_text'])} | {pval(cl['p_value'])} | "
                f"{pval(cl['p_adjusted'])} | **{verdict_word(cl).lower()}** {refs} |"
            )
        for cl in result["claims"]:
            if cl.get("prediction"):
                out.append(f"\n`{cl['id']}` beside the measurement: {_cell(describe_prediction(cl['prediction']))}")
            d = cl.get("decide")
            if d and d.get("boots_per_arm"):
                out.append(
                    f"\n`{cl['id']}` would be decided by {decide_design(d)} per arm (80 % power)"
                    + (f"; {d['note']}." if d.get("note") else ".")
                )
    out += [
        "",
        "### Comparisons",
        "",
        f"| workload | metric | {b} | {c} | change | interval | p (Welch) | boots x iterations "
        f"| sd between / within boots ({b}) |",
        "|---|---|---:|---:|---:|---|---:|---|---|",
    ]
    for cp in result["comparisons"]:
        refs = notes.refs(cp["warnings"])
        bs, cs = cp["baseline"], cp["candidate"]
        vc = cp["variance_components"]["baseline"]
        u = cp["unit"]
        out.append(
            f"| {cp['workload']} | {cp['metric']} {refs} | {human(bs['mean'], u)} | "
            f"{human(cs['mean'], u)} | {pct(cp['change_pct'], 3 if cp.get('exact') else 2)} % | {interval(cp)} | "
            f"{pval(cp['p_value'])} | {design(bs['n_boots'], bs['samples_per_boot'])} / "
            f"{design(cs['n_boots'], cs['samples_per_boot'])} | "
            f"{sd_pct(vc['between_boot_var'], bs['mean'])} / {sd_pct(vc['within_boot_var'], bs['mean'])} |"
        )
    if result["notes"]:
        out += [""] + [f"- {_cell(n)}" for n in result["notes"]]
    out += ["", "### Warnings", ""]
    out += [f"{i}. {_cell(w)}" for i, w in enumerate(notes.items, 1)] or ["none"]
    if result["simulated"]:
        out += ["", f"> **{BANNER}**"]
    return "\n".join(out) + "\n"
