"""Renderers of an analysis result dict (benchctl.analyze.result.analyze).

text.py: a mailing-list reply (plain ASCII, <= 72 columns, no tabs);
brief.py: the same sized for a mail (<= 40 lines); `--format mail` is the brief.
multi.py: a baseline and several candidates (analyze/arms.py).
markdown.py: for issue trackers. jsonout.py: the stable machine format.
common.py: what they share (banner, warning footnotes, number formats).
"""

from benchctl.analyze.resulttypes import Analysis, MultiAnalysis, is_multi

FORMATS = ("text", "mail", "markdown", "json")


def render(result: Analysis | MultiAnalysis, fmt: str, brief: bool = False) -> str:
    if fmt == "json":
        from benchctl.analyze.report.jsonout import render as as_json

        return as_json(result)
    if is_multi(result):
        from benchctl.analyze.report import multi

        if fmt == "markdown":
            return multi.render_markdown(result)
        return multi.render_brief(result) if brief or fmt == "mail" else multi.render_text(result)
    if fmt == "mail" or (fmt == "text" and brief):
        from benchctl.analyze.report.brief import render as r
    elif fmt == "text":
        from benchctl.analyze.report.text import render as r
    elif fmt == "markdown":
        from benchctl.analyze.report.markdown import render as r
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return r(result)


# The public entry points: what a command, another package or a test may import from here.
__all__ = ["FORMATS", "render", "common", "forest", "plots", "text", "units"]
