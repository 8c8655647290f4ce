"""The claims figure, and the index of everything `analyze --plots` drew.

claims-forest: one row per claim, each on its own scale (a +0.2 % claim
and a +150 % one cannot share an axis and both stay readable): the
claimed band shaded green, the measured interval as a thick bar with caps
and the estimate as a dot, zero dashed, the verdict in its colour at the
right. Claims without data are listed under the rows, not drawn.

contact-sheet.png and index.md: every figure of the folder at a glance
(thumbnails) and by name (with what it shows), so 20 files need no
guessing.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchctl.analyze.report.common import verdict_word
from benchctl.analyze.resulttypes import Analysis, ClaimResult

VERDICT_COLOURS = {
    "confirmed": "#1a9850",
    "smaller-than-claimed": "#d95f02",
    "larger-than-claimed": "#d95f02",
    "reversed": "#b2182b",
    "not-reproduced": "#b2182b",
    "inconclusive": "#555555",
    "not-judged": "#999999",
}
BAND = "#2ca02c"


def caption(result: Analysis) -> str:
    """What was compared, under the title: each arm's kernel and CPU, boots x iterations, host(s)."""
    from benchctl.analyze.report.common import header_facts

    f = header_facts(result)
    b, c = result["baseline"], result["candidate"]
    d = result["design"]
    arm = {a: f"{a} {f['kernels'][a]}" + (f" on {'; '.join(d[a]['cpus'])}" if d[a].get("cpus") else "") for a in (b, c)}
    return f"{arm[b]} vs {arm[c]}; {f['design_text']}; host {f['hosts']}"


def pct_tick(x: float) -> str:
    """An axis tick in percent with its sign; zero is "0%" (a float's -0.0 printed "-0%")."""
    return "0%" if abs(x) < 1e-12 else f"{x:+.3g}%"


def fit_title(text: str, width_in: float, fontsize: float = 11) -> str:
    """Wrap a title so it fits the axes of a figure width_in wide (DejaVu Sans: ~0.62 em a character)."""
    chars = max(20, int(0.85 * width_in * 72 / (0.62 * fontsize)))
    return "\n".join(textwrap.wrap(text, chars))


def _span(c: ClaimResult) -> tuple[float, float]:
    lo, hi = c["claimed"]["band"]
    assert c["ci_pct"] is not None, "the forest shows claims with an interval only"
    a, b = c["ci_pct"]
    left, right = min(lo, a, 0.0), max(hi, b, 0.0)
    pad = 0.08 * ((right - left) or 1.0)
    return left - pad, right + pad


def _row(plt: Any, ax: Any, c: ClaimResult) -> None:
    colour = VERDICT_COLOURS.get(c["verdict"], "#555555")
    lo, hi = c["claimed"]["band"]
    ax.axvspan(lo, hi, color=BAND, alpha=0.22, lw=0)
    ax.axvline(0, color="#777777", lw=1, ls="--")
    assert c["ci_pct"] is not None and c["change_pct"] is not None, "the forest shows claims with an interval only"
    a, b = c["ci_pct"]
    est = c["change_pct"]
    ax.errorbar([est], [0], xerr=[[est - a], [b - est]], fmt="o", color=colour, ms=8, lw=3.5, capsize=7, capthick=2)
    ax.set_xlim(*_span(c))
    ax.set_ylim(-1, 1)
    ax.set_yticks([])
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda x, _: pct_tick(x)))
    claimed = c["claimed_text"].replace(" +-", " \u00b1 ")
    measured = (
        f"{est:+.3f} % exact (the same value on every boot of an arm)"
        if c.get("exact")
        else f"{est:+.3g} % [{a:+.3g}, {b:+.3g}]"
    )
    ax.set_title(f"{c['id']}: {measured}; claimed {claimed}", loc="left", fontsize=9)
    ax.set_title(verdict_word(c), loc="right", color=colour, weight="bold", fontsize=9)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)


def forest(plt: Any, result: Analysis, footer: Callable[[Any], None], out: Path) -> list[Path]:
    """claims-forest.png/.svg; nothing when no claim has data."""
    from benchctl.plotstyle import save

    # a scaling claim's slope is not a percent: it has its own figure (plots.scaling)
    claims = [c for c in result["claims"] if c["ci_pct"] and not c.get("scaling")]
    if not claims:
        return []
    width = 9.0
    fig, axes = plt.subplots(len(claims), 1, figsize=(width, 1.1 + 1.05 * len(claims)), squeeze=False)
    for ax, c in zip(axes[:, 0], claims, strict=True):
        _row(plt, ax, c)
    title = (
        ("SIMULATED - " if result["simulated"] else "")
        + f"Claims: change {result['candidate']} vs {result['baseline']}, {result['confidence']:.0%} interval "
        "(bar), claimed band (green), each on its own scale"
    )
    fig.suptitle(fit_title(title, width * 0.95) + "\n" + fit_title(caption(result), width * 0.95), fontsize=11)
    missing = [c["id"] for c in result["claims"] if not c["ci_pct"]]
    bottom = 0.05
    if missing:
        fig.text(
            0.02, 0.04, fit_title(f"no data (not drawn): {', '.join(missing)}", width, 8), fontsize=8, color="#555555"
        )
        bottom = 0.08
    fig.tight_layout(rect=(0.02, bottom, 0.98, 0.95 if len(claims) > 2 else 0.9), h_pad=1.2)
    footer(fig)
    return save(plt, fig, out, "claims-forest")


def contact_sheet(plt: Any, pngs: list[Path], result: Analysis, footer: Callable[[Any], None], out: Path) -> list[Path]:
    """All PNGs of this run of --plots as thumbnails, three across (PNG only: an SVG of pictures
    would only be bigger)."""
    if len(pngs) < 2:
        return []
    cols = 3
    rows = -(-len(pngs) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(10, 2.6 * rows + 0.6), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, p in zip(axes.flat, pngs, strict=False):
        ax.imshow(plt.imread(p)[::2, ::2], interpolation="antialiased")  # a thumbnail needs a quarter of the pixels
        ax.set_title(p.name, fontsize=8)
    fig.suptitle(f"benchctl analyze --plots: {len(pngs)} figures (index.md names each)", fontsize=11)
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    footer(fig)
    path = out / "contact-sheet.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return [path]


def index(out: Path, described: list[tuple[Path, str]], result: Analysis, skipped: list[str]) -> Path:
    """index.md: each figure with what it shows (and why some were not drawn)."""
    lines = [f"# benchctl analyze --plots: {result['candidate']} vs {result['baseline']}", ""]
    if result["simulated"]:
        lines += ["**SIMULATED DATA - model output, not a measurement**", ""]
    for path, what in described:
        lines.append(f"- [{path.name}]({path.name}): {what}")
    if skipped:
        lines += ["", "Not drawn:", ""] + [f"- {s}" for s in skipped]
    p = out / "index.md"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p
