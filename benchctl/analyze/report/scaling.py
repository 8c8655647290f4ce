"""claims-scaling.png: a scaling claim's measured change at each machine size, the fitted line
with its slope interval, the claimed slope and the model's line (SIMULATED) beside them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchctl.analyze.report.forest import caption, fit_title
from benchctl.analyze.resulttypes import Analysis, ClaimResult, fitted


def scaling(plt: Any, result: Analysis, footer: Callable[[Any], None], out: Path) -> list[Path]:
    """One panel per judged scaling claim; nothing when none has >= 3 sizes."""
    from benchctl.plotstyle import save

    rows = [c for c in result["claims"] if fitted(c)]
    if not rows:
        return []
    width = 8.0
    fig, axes = plt.subplots(len(rows), 1, figsize=(width, 1.6 + 3.4 * len(rows)), squeeze=False)
    for ax, c in zip(axes[:, 0], rows, strict=True):
        _panel(ax, c)
    title = ("SIMULATED - " if result["simulated"] else "") + (
        f"Change {result['candidate']} - {result['baseline']} by machine size (RAM): "
        f"slope with its {result['confidence']:.0%} interval"
    )
    fig.suptitle(fit_title(title, width * 0.95) + "\n" + fit_title(caption(result), width * 0.95, 9), fontsize=10)
    fig.tight_layout(rect=(0.02, 0.05, 0.98, 0.9))
    footer(fig)
    return save(plt, fig, out, "claims-scaling")


def _panel(ax: Any, c: ClaimResult) -> None:
    sc_fit = fitted(c)
    assert sc_fit is not None, "only fitted scaling claims get a panel"
    (sc, f), unit = sc_fit, c["claimed"]["unit"]
    pts = sc["points"]
    xs = [p["ram_gib"] for p in pts]
    ys = [p["change"] for p in pts]
    metric_unit = unit.split("/")[0]
    top = max(xs) * 1.08
    grid = [0.0, top]
    ax.plot(xs, ys, "o", color="#1f4e9c", label="measured (each size: candidate - baseline)", zorder=3)
    ax.plot(grid, [f["intercept"] + f["slope"] * x for x in grid], color="#1f4e9c", lw=1.2, label="fitted line")
    lo, hi = f["ci"]
    ax.fill_between(
        grid,
        [f["intercept"] + lo * x for x in grid],
        [f["intercept"] + hi * x for x in grid],
        color="#1f4e9c",
        alpha=0.12,
        lw=0,
        label="slope interval",
    )
    b_lo, b_hi = c["claimed"]["band"]
    ax.fill_between(
        grid,
        [b_lo * x for x in grid],
        [b_hi * x for x in grid],
        color="#2e8b57",
        alpha=0.15,
        lw=0,
        label=f"claimed {c['claimed_text']}",
    )
    model = c["prediction"].get("points") if "prediction" in c else None
    if model:
        ax.plot(
            [m["ram_gib"] for m in model],
            [m["change"] for m in model],
            "x--",
            color="#b8860b",
            label="model pagetables (SIMULATED)",
        )
    ax.set_xlim(0, top)
    ax.set_xlabel("RAM (GiB, the kernel's 'Memory:' line)")
    ax.set_ylabel(f"{c['metric']} change ({metric_unit})")
    ax.set_title(
        f"{c['id']}: {f['slope']:+.0f} {unit} [{lo:+.0f}, {hi:+.0f}], {len(pts)} sizes: {c['verdict'].upper()}",
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
