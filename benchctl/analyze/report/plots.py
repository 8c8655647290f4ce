"""`analyze --plots DIR`: PNG and SVG figures for mails and reviews.

The look (sizes, lettering, footer, SIMULATED stamp, PNG + SVG) is
benchctl.plotstyle's, shared with `benchctl model sensitivity --plots`.

By default: the claims figure (forest.py), one distribution figure per
claimed metric, a contact sheet and index.md. With --all-plots also:
- dist-<workload>-<metric> for every comparison: per-arm strip of
  iteration values, one colour per boot, boot means as diamonds;
- order-<workload>-<metric>: value against measurement time per arm, to
  expose drift; only where records carry real measurement times (not
  imports, whose times are the import's, nor simulations);
- latency-<workload>: per-boot P50/P99 (and P99.9) per arm;
- latency-hdr-<workload>: when run folders hold HdrHistogram percentile
  distributions (memtier --hdr-file-prefix *.txt under raw/iter-NNNN/),
  the full latency-by-percentile curves, one line per iteration, by arm.
Axes are in human units (GiB/s, k ops/s), never with a 1e8 offset.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchctl.analyze.report.common import change
from benchctl.analyze.report.forest import contact_sheet, fit_title, forest, index
from benchctl.analyze.report.scaling import scaling
from benchctl.analyze.report.units import axis_scale
from benchctl.analyze.resulttypes import Analysis, Comparison, fitted, sides
from benchctl.human import slug
from benchctl.plotstyle import ARM_COLOURS, BOOT_CMAPS, pyplot, save, shorten, stamp
from benchctl.results.table import Frame, Tidy

if TYPE_CHECKING:
    from benchctl.parsers.hdr import PercentileCurve


# stamps a figure with its data sources and seed (and SIMULATED): _footer
Footer = Callable[[Any], None]


@dataclass
class Figure:
    """One figure to draw: its file stem, what it shows (for index.md) and how to draw it."""

    name: str
    what: str
    draw: Callable[..., list[Path]]


def data_text(sources: list[str]) -> str:
    """Where the data came from, in a line: the folders' common parent and how many."""
    if len(sources) == 1:
        return f"data: {sources[0]}"
    try:
        parent = os.path.commonpath([os.path.abspath(s) for s in sources])
    except ValueError:
        parent = ""
    return f"data: {len(sources)} folders under {parent}" if parent else f"data: {len(sources)} folders"


def _footer(result: Analysis, sources: list[str]) -> Footer:
    # The red SIMULATED label sits at the bottom right: a simulated footer stops well before it.
    text = shorten(data_text(sources) + f"  |  seed {result['seed']}", 80 if result["simulated"] else 120)
    return lambda fig: stamp(fig, text, result["simulated"])


def _plain_y(ax: Any, values: Any, unit: str, metric: str) -> float:
    """Human units on the y axis, no offset; returns the divisor to apply to the values."""
    from benchctl.results.metrics import CATALOGUE

    div, label = axis_scale(values, unit)
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    info = CATALOGUE.get(metric)
    # "mem_free_kb (GiB)" reads as a contradiction: name the quantity, then the unit drawn
    name = info.description if info and info.description else metric
    ax.set_ylabel(f"{name} ({label})" if label else name)
    return div


def _claimed_band(ax: Any, result: Analysis, comp: Comparison, div: float) -> None:
    """The claimed band where the candidate's boot means should fall: the baseline's mean moved by
    the claimed change (with its tolerance), beside the candidate's column."""
    for c in result["claims"]:
        if (c["workload"], c["metric"]) != (comp["workload"], comp["metric"]) or c["claimed"].get("unit", "%") != "%":
            continue
        if c["claimed"].get("kind", "change") != "change":
            continue
        lo, hi = c["claimed"]["band"]
        base = comp["baseline"]["mean"] / div
        ax.fill_between(
            [0.6, 1.4],
            base * (1 + lo / 100),
            base * (1 + hi / 100),
            color="#2e8b57",
            alpha=0.18,
            lw=0,
            label=f"claimed {c['claimed_text']} (from the baseline mean)",
        )
        ax.legend(fontsize=8, loc="best")
        return


def _finish(plt: Any, fig: Any, ax: Any, title: str, footer: Footer, out: Path, name: str) -> list[Path]:
    """Title (wrapped), legend, layout, footer, PNG + SVG: the end of every line figure."""
    ax.set_title(fit_title(title, 7.5))
    ax.legend()
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    footer(fig)
    return save(plt, fig, out, name)


def _arm_frames(df: Frame, result: Analysis, workload: str, metric: str) -> list[tuple[str, Frame]]:
    sub = df[(df["workload"] == workload) & (df["metric"] == metric)]
    return [(arm, sub[sub["arm"] == arm]) for arm in (result["baseline"], result["candidate"])]


def distribution(plt: Any, df: Frame, result: Analysis, comp: Comparison, footer: Footer, out: Path) -> list[Path]:
    """dist-<workload>-<metric>: iterations per boot as columns, boot means as diamonds."""
    import numpy as np

    w, m = comp["workload"], comp["metric"]
    frames = _arm_frames(df, result, w, m)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    rng = np.random.default_rng(0)
    allv = [v for _, f in frames for v in f["value"]] or comp["baseline"]["boot_means"] + comp["candidate"][
        "boot_means"
    ]
    div = _plain_y(ax, allv, comp["unit"], m)
    for k, ((_, side), (_, f)) in enumerate(zip(sides(comp), frames, strict=True)):
        boots = side["boots"]
        cmap = plt.get_cmap(BOOT_CMAPS[k])
        for j, boot in enumerate(boots):
            v = f.loc[f["boot"] == boot, "value"].to_numpy() / div if len(f) else np.array([])
            x = k + (j - (len(boots) - 1) / 2) * (0.7 / max(len(boots), 1))
            colour = cmap(0.5 + 0.45 * j / (len(boots) - 1) if len(boots) > 1 else 0.75)
            if len(v):
                ax.plot(x + rng.uniform(-0.02, 0.02, len(v)), v, ".", color=colour, ms=6, alpha=0.8)
            ax.plot([x], [side["boot_means"][j] / div], "D", color=colour, mec="black", ms=7)
    _claimed_band(ax, result, comp, div)
    ax.set_xticks([0, 1])
    arms = (result["baseline"], result["candidate"])
    ax.set_xticklabels([f"{arm}\n({s['n_boots']} boots)" for arm, (_, s) in zip(arms, sides(comp), strict=True)])
    ax.set_title(
        fit_title(
            f"{w} {m}: one column per boot, diamond = boot mean; change {change(comp)}",
            7.5,
        )
    )
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    footer(fig)
    return save(plt, fig, out, f"dist-{slug(w)}-{slug(m)}")


def real_times(tidy: Tidy, result: Analysis) -> bool:
    """Records carry measurement times only from benchctl's own runs (not imports, not simulations)."""
    mine = [b for b in tidy.boots if b.arm in (result["baseline"], result["candidate"])]
    return bool(mine) and not any(b.simulated or b.status == "imported" or b.source == "csv" for b in mine)


def run_order(plt: Any, df: Frame, result: Analysis, comp: Comparison, footer: Footer, out: Path) -> list[Path]:
    """order-<workload>-<metric>: value against hours since the first record, per arm."""
    w, m = comp["workload"], comp["metric"]
    sub = df[(df["workload"] == w) & (df["metric"] == m)].sort_values("t")
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    div = _plain_y(ax, sub["value"], comp["unit"], m)
    x0 = sub["t"].min()
    for k, arm in enumerate((result["baseline"], result["candidate"])):
        f = sub[sub["arm"] == arm]
        ax.plot((f["t"] - x0) / 3600, f["value"] / div, ".", color=ARM_COLOURS[k], ms=4, label=arm)
    ax.set_xlabel("hours since the first record")
    return _finish(
        plt,
        fig,
        ax,
        f"{w} {m} in measurement order (drift shows as a slope)",
        footer,
        out,
        f"order-{slug(w)}-{slug(m)}",
    )


LATENCY = ("p50_latency_us", "p99_latency_us", "p999_latency_us")


def latency(plt: Any, df: Frame, result: Analysis, w: str, footer: Footer, out: Path) -> list[Path]:
    """latency-<workload>: per-boot P50/P99/P99.9 (median, min-max of iterations) per arm."""
    present = [m for m in LATENCY if ((df["workload"] == w) & (df["metric"] == m)).any()]
    width = max(6.5, 3.2 * len(present) + 1)  # room for the footer and the SIMULATED label side by side
    fig, axes = plt.subplots(1, len(present), figsize=(width, 3.8), squeeze=False)
    for ax, m in zip(axes[0], present, strict=True):
        for k, arm in enumerate((result["baseline"], result["candidate"])):
            f = df[(df["workload"] == w) & (df["metric"] == m) & (df["arm"] == arm)]
            per_boot = f.groupby("boot", observed=True)["value"].agg(["median", "min", "max"])
            nbt = len(per_boot)
            xs = [k + (j - (nbt - 1) / 2) * (0.6 / max(nbt, 1)) for j in range(nbt)]
            err = [per_boot["median"] - per_boot["min"], per_boot["max"] - per_boot["median"]]
            ax.errorbar(xs, per_boot["median"], yerr=err, fmt="o", color=ARM_COLOURS[k], alpha=0.7, capsize=3)
        ax.set_xticks([0, 1])
        ax.set_xticklabels([result["baseline"], result["candidate"]])
        ax.set_xlim(-0.6, 1.6)
        ax.ticklabel_format(axis="y", useOffset=False, style="plain")
        ax.set_title(m.replace("_latency_us", "").upper() + " (us), per boot")
    fig.suptitle(fit_title(f"{w} latency: one point per boot (median, min-max of iterations)", width))
    fig.tight_layout(rect=(0, 0.05, 1, 0.92))
    footer(fig)
    return save(plt, fig, out, f"latency-{slug(w)}")


MAX_CURVES = 400


def _hdr_curves(tidy: Tidy, arms: tuple[str, str]) -> dict[str, list[tuple[str, int, PercentileCurve]]]:
    """workload -> [(arm, boot index, PercentileCurve)] from run folders' raw outputs.

    Per iteration: the .hgrm beside a percentile table (memtier's full-resolution
    histogram, decoded, in ms like the table), else the printed table itself.
    Per-command files (P_GET_command_run_1.*) are left out: a curve is of all requests.
    """
    from benchctl.parsers import ParseError
    from benchctl.parsers.hdr import curve_from_histogram, is_percentile_text, parse_percentile_text, read_log

    out: dict[str, list[tuple[str, int, PercentileCurve]]] = {}
    boot_index: dict[tuple[str, str], int] = {}
    for b in tidy.boots:
        if b.arm not in arms or b.source == "csv":
            continue
        raw = Path(b.source) / "raw"
        if not raw.is_dir():
            continue
        for f in sorted(raw.glob("iter-*/**/*.txt")):
            if "_command_run_" in f.name:
                continue
            hgrm = f.with_suffix(".hgrm")
            try:
                with open(f, encoding="utf-8", errors="replace") as fh:
                    first = fh.readline()
                    if not is_percentile_text(first):
                        continue
                    text = first + fh.read()
                if hgrm.is_file():
                    curve = curve_from_histogram(read_log(hgrm.read_text(errors="replace")).histogram, scale=1000.0)
                else:
                    curve = parse_percentile_text(text)
            except (OSError, ValueError, ParseError):
                continue
            idx = boot_index.setdefault((b.arm, b.boot), len([k for k in boot_index if k[0] == b.arm]))
            out.setdefault(b.workload, []).append((b.arm, idx, curve))
    return out


def latency_hdr(
    plt: Any,
    result: Analysis,
    workload: str,
    curves: list[tuple[str, int, PercentileCurve]],
    footer: Footer,
    out: Path,
) -> list[Path]:
    """latency-hdr-<workload>: latency by percentile from the runs' HdrHistogram files."""
    import numpy as np

    arms = (result["baseline"], result["candidate"])
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for arm_i, arm in enumerate(arms):
        mine = [c for c in curves if c[0] == arm][:MAX_CURVES]
        n_boots = max([i for _, i, _ in mine], default=0) + 1
        cmap = plt.get_cmap(BOOT_CMAPS[arm_i])
        for j, (_, bi, c) in enumerate(mine):
            p = np.array(c.percentiles)
            keep = p < 1.0
            colour = cmap(0.4 + 0.55 * bi / max(n_boots - 1, 1))
            label = f"{arm} ({n_boots} boots)" if j == 0 else None
            ax.plot(1.0 / (1.0 - p[keep]), np.array(c.values)[keep], color=colour, lw=1, alpha=0.7, label=label)
    ax.set_xscale("log")
    ax.set_xticks([1 / (1 - q) for q in (0.5, 0.9, 0.99, 0.999, 0.9999)])
    ax.set_xticklabels(["50%", "90%", "99%", "99.9%", "99.99%"])
    ax.set_yscale("log")
    ax.set_xlabel("percentile")
    ax.set_ylabel("latency (tool units; memtier: ms)")
    return _finish(
        plt,
        fig,
        ax,
        f"{workload} latency by percentile (HDR histograms, one line per iteration)",
        footer,
        out,
        f"latency-hdr-{slug(workload)}",
    )


def choose_figures(
    result: Analysis, tidy: Tidy, df: Frame, footer: Footer, out: Path, all_plots: bool
) -> tuple[list[Figure], list[str]]:
    """The figures to draw, in order, and what is left out and why."""
    claimed = {(c["workload"], c["metric"]) for c in result["claims"] if c["ci_pct"]}
    figs = (
        [
            Figure(
                "claims-forest",
                "each claim on its own scale: interval, claimed band, verdict",
                lambda plt: forest(plt, result, footer, out),
            )
        ]
        if claimed
        else []
    )
    if any(fitted(c) for c in result["claims"]):
        figs.append(
            Figure(
                "claims-scaling",
                "scaling claims: the change at each machine size, fitted slope, claimed slope, model line",
                lambda plt: scaling(plt, result, footer, out),
            )
        )
    skipped: list[str] = []
    for comp in result["comparisons"]:
        key = (comp["workload"], comp["metric"])
        if key in claimed or all_plots:
            what = f"{comp['workload']} {comp['metric']}: every iteration by boot and arm, boot means"
            figs.append(
                Figure(
                    f"dist-{slug(key[0])}-{slug(key[1])}",
                    what,
                    lambda plt, comp=comp: distribution(plt, df, result, comp, footer, out),
                )
            )
    if not all_plots:
        skipped.append("distributions of unclaimed metrics, drift and latency figures: --all-plots draws them")
        return figs, skipped
    if real_times(tidy, result) and df["t"].notna().all():
        for comp in result["comparisons"]:
            if ((df["workload"] == comp["workload"]) & (df["metric"] == comp["metric"])).any():
                figs.append(
                    Figure(
                        f"order-{slug(comp['workload'])}-{slug(comp['metric'])}",
                        f"{comp['workload']} {comp['metric']} against measurement time (drift)",
                        lambda plt, comp=comp: run_order(plt, df, result, comp, footer, out),
                    )
                )
    else:
        skipped.append(
            "drift (order-*) figures: the records carry no real measurement times (imported or simulated data, or CSV)"
        )
    for w in sorted(df["workload"].unique()):
        if df[(df["workload"] == w) & df["metric"].isin(LATENCY)].shape[0]:
            figs.append(
                Figure(
                    f"latency-{slug(w)}",
                    f"{w}: latency percentiles per boot",
                    lambda plt, w=w: latency(plt, df, result, w, footer, out),
                )
            )
    for w, curves in sorted(_hdr_curves(tidy, (result["baseline"], result["candidate"])).items()):
        figs.append(
            Figure(
                f"latency-hdr-{slug(w)}",
                f"{w}: latency by percentile from HDR histograms",
                lambda plt, w=w, curves=curves: latency_hdr(plt, result, w, curves, footer, out),
            )
        )
    return figs, skipped


Progress = Callable[[int, int, str], None]  # (step k, of n, its name): commands/common.Progress


def write_plots(
    result: Analysis,
    tidy: Tidy,
    out_dir: str | Path,
    sources: list[str],
    all_plots: bool = False,
    progress: Progress | None = None,
) -> list[Path]:
    """Draw the planned figures (progress(k, n, name) before each), a contact sheet and index.md."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = tidy.df[tidy.df["arm"].isin([result["baseline"], result["candidate"]])]
    footer = _footer(result, sources)
    written: list[Path] = []
    described: list[tuple[Path, str]] = []
    with pyplot() as plt:
        figs, skipped = choose_figures(result, tidy, df, footer, out, all_plots)
        n = len(figs) + 1
        for k, f in enumerate(figs, 1):
            if progress:
                progress(k, n, f.name)
            paths = f.draw(plt)
            written += paths
            described += [(p, f.what) for p in paths if p.suffix == ".png"]
        if progress:
            progress(n, n, "contact-sheet")
        sheet = contact_sheet(plt, [p for p, _ in described], result, footer, out)
        written += sheet
    described[:0] = [(p, "all figures as thumbnails") for p in sheet if p.suffix == ".png"]
    written.append(index(out, described, result, skipped))
    return written
