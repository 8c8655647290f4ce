"""Renderers of an analysis result dict (benchctl.analyze.result.analyze).

text.py: a mailing-list reply (plain ASCII, <= 72 columns, no tabs).
markdown.py: for issue trackers. jsonout.py: the stable machine format.
common.py: what they share (banner, warning footnotes, number formats).
"""

FORMATS = ("text", "markdown", "json")


def render(result: dict, fmt: str) -> str:
    if fmt == "text":
        from benchctl.analyze.report.text import render as r
    elif fmt == "markdown":
        from benchctl.analyze.report.markdown import render as r
    elif fmt == "json":
        from benchctl.analyze.report.jsonout import render as r
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return r(result)
