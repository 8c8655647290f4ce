"""Markdown report for issue trackers: the same facts as text.py, as tables."""

from __future__ import annotations

from benchctl.analyze.report.common import BANNER, Footnotes, ci, header_facts, num, pct, pval, verdict_word


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def render(result: dict) -> str:
    out: list[str] = []
    notes = Footnotes(result["checks"])
    if result["simulated"]:
        out += [f"> **{BANNER}**", ""]
    b, c = result["baseline"], result["candidate"]
    f = header_facts(result)
    out += [f"## benchctl analyze: `{c}` (candidate) vs `{b}` (baseline)", "",
            f"- hosts: {f['hosts']}",
            f"- kernels: `{b}`: {f['kernels'][b]}; `{c}`: {f['kernels'][c]}",
            f"- design: `{b}`: {f['design'][b]}; `{c}`: {f['design'][c]}",
            f"- method: {result['confidence']:.0%} hierarchical bootstrap (boots, then iterations), "
            f"{result['resamples']} resamples, seed {result['seed']}; p: Welch on per-boot means, Holm across claims",
            "", "### Checks", ""]
    checks = result["checks"] + result["skipped"]
    out += [f"- :warning: {_cell(w)}" for w in checks] or ["- none triggered"]
    if result["claims"]:
        out += ["", "### Claims", "",
                "| claim | metric | measured | interval | claimed | p | p (Holm) | verdict |",
                "|---|---|---:|---|---|---:|---:|---|"]
        for cl in result["claims"]:
            refs = notes.refs(cl["warnings"])
            out.append(f"| {cl['id']} | {cl['workload']} {cl['metric']} | {pct(cl['change_pct']) + ' %' if cl['ci_pct'] else 'no data'} | "
                       f"{ci(cl['ci_pct'])} | {_cell(cl['claimed_text'])} | {pval(cl['p_value'])} | "
                       f"{pval(cl['p_adjusted'])} | **{verdict_word(cl).lower()}** {refs} |")
        for cl in result["claims"]:
            d = cl.get("decide")
            if d and d.get("boots_per_arm"):
                out.append(f"\n`{cl['id']}` would be decided by {d['boots_per_arm']} boots x "
                           f"{d['iterations_per_boot']} iterations per arm (80 % power)"
                           + (f"; {d['note']}." if d.get("note") else "."))
    out += ["", "### Comparisons", "",
            f"| workload | metric | unit | {b} | {c} | change | interval | p (Welch) | boots x samples | between / within var ({b}) |",
            "|---|---|---|---:|---:|---:|---|---:|---|---|"]
    for cp in result["comparisons"]:
        refs = notes.refs(cp["warnings"])
        bs, cs = cp["baseline"], cp["candidate"]
        vc = cp["variance_components"]["baseline"]
        out.append(f"| {cp['workload']} | {cp['metric']} {refs} | {cp['unit']} | {num(bs['mean'])} | "
                   f"{num(cs['mean'])} | {pct(cp['change_pct'])} % | {ci(cp['ci_pct'])} | "
                   f"{pval(cp['p_value'])} | {bs['n_boots']}x{bs['n_samples']} / {cs['n_boots']}x{cs['n_samples']} | "
                   f"{num(vc['between_boot_var'])} / {num(vc['within_boot_var'])} |")
    if result["notes"]:
        out += [""] + [f"- {_cell(n)}" for n in result["notes"]]
    out += ["", "### Warnings", ""]
    out += [f"{i}. {_cell(w)}" for i, w in enumerate(notes.items, 1)] or ["none"]
    if result["simulated"]:
        out += ["", f"> **{BANNER}**"]
    return "\n".join(out) + "\n"
