"""Reports of a several-arm result (analyze/arms.py): one verdict line per claim and pair first,
then each pair's own report (text, markdown) or, in the brief and the mail, only the lines that
fit: the arms, the verdicts, the checks."""

from __future__ import annotations

from benchctl.analyze.report.common import BANNER, change, header_facts, reason, verdict_word
from benchctl.analyze.report.text import finish, wrap
from benchctl.analyze.resulttypes import MultiAnalysis

MAX_LINES = 40


def _arms(result: MultiAnalysis) -> list[str]:
    """Each arm once, described by the first pair that has it."""
    out, seen = [], set()
    for r in result["pairs"]:
        facts = header_facts(r)
        for arm in (r["baseline"], r["candidate"]):
            if arm not in seen:
                seen.add(arm)
                role = "baseline" if arm == result["baseline"] else "candidate"
                out += wrap(f"{arm} ({role}): {facts['compared'][arm]}", "    ", "  ")
    return out


def verdict_lines(result: MultiAnalysis) -> list[str]:
    """Per pair: '  id: +3.10 % [+1.0, +5.2] CONFIRMED' for each claim it judged, the claims it
    could not judge with their reason, and those without data in one line."""
    out = []
    for r in result["pairs"]:
        out.append(f"{r['candidate']} vs {r['baseline']}:")
        empty = []
        for cl in r["claims"]:
            why = reason(cl) or "no data"
            if cl["verdict"] != "not-judged":
                out += wrap(f"{cl['id']}: {change(cl)} {verdict_word(cl)}", "      ", "  ")
            elif why.startswith("no ") and not cl["ci_pct"]:
                empty.append(cl["id"])
            else:
                out += wrap(f"{cl['id']}: NOT JUDGED ({why})"[:200], "      ", "  ")
        if empty:
            out += wrap(f"no data in both arms: {', '.join(empty)}", "      ", "  ")
    return out


def _header(result: MultiAnalysis) -> list[str]:
    head = [f"*** {BANNER} ***"] if result["simulated"] else []
    head += wrap(
        f"benchctl: {len(result['arms'])} arms, baseline {result['baseline']}, candidates "
        f"{', '.join(result['candidates'])}; {result['correction']}",
        "  ",
        "",
    )
    return head + _arms(result)


def _checks(result: MultiAnalysis) -> list[str]:
    seen: list[str] = []
    for r in result["pairs"]:
        seen += [w for w in r["checks"] if w not in seen]
    return seen


def render_text(result: MultiAnalysis) -> str:
    from benchctl.analyze.report.text import render as pair_text

    out = _header(result) + ["", "verdicts (pair; claim: change, interval, verdict):"] + verdict_lines(result)
    for r in result["pairs"]:
        out += ["", f"== {r['candidate']} vs {r['baseline']} (baseline) " + "=" * 20, ""]
        out += pair_text(r).rstrip("\n").splitlines()
    if result["simulated"]:
        out += ["", f"*** {BANNER} ***"]
    return finish(out)


def render_brief(result: MultiAnalysis) -> str:
    """<= 40 lines: arms, verdicts (cut with a count), the checks that fit."""
    head = _header(result)
    foot = ["Each pair: Welch on per-boot means, Holm across its claims;", "full report: without --brief."]
    if result["simulated"]:
        foot.append(f"*** {BANNER} ***")
    body = verdict_lines(result)
    room = MAX_LINES - len(head) - len(foot) - 2
    checks = _checks(result)
    check_lines = ["checks: none triggered"] if not checks else ["checks:"]
    for i, w in enumerate(checks):
        lines = wrap(w, "    ", "  - ")[:2]
        if i and len(body) + len(check_lines) + len(lines) > room - 1:
            check_lines.append(f"  - and {len(checks) - i} more (full report)")
            break
        check_lines += lines
    if len(body) + len(check_lines) > room:
        keep = room - len(check_lines) - 1
        body = body[:keep] + [f"  ... {len(body) - keep} more lines in the full report"]
    return finish(head + [""] + body + check_lines + [""] + foot)


def render_markdown(result: MultiAnalysis) -> str:
    from benchctl.analyze.report.markdown import render as pair_md

    out = [f"> **{BANNER}**", ""] if result["simulated"] else []
    out += [f"## benchctl analyze: {len(result['arms'])} arms", "", f"- {result['correction']}"]
    out += ["", "| claim | pair | change | verdict |", "|---|---|---|---|"]
    for r in result["pairs"]:
        for cl in r["claims"]:
            ch = change(cl) if cl["ci_pct"] else "no data"
            out.append(f"| {cl['id']} | {r['candidate']} vs {r['baseline']} | {ch} | {verdict_word(cl)} |")
    for r in result["pairs"]:
        out += ["", pair_md(r).replace("\n## ", "\n### ", 1)]
    return "\n".join(out).rstrip() + "\n"
