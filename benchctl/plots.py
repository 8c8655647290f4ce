"""`analyze --plots DIR`: PNG and SVG figures for mails and reviews.

matplotlib (Agg) is imported only here, only when --plots is given. Every
figure carries its data source in a footer and, for simulated data, a large
SIMULATED stamp. Figures are sized and lettered to stay readable when a mail
client scales them to ~600 px wide.

Figures:
- claims-forest: each claim's interval (bar) and estimate against the claimed
  band (shaded), zero marked.
- dist-<workload>-<metric>: per-arm strip of iteration values, one colour per
  boot, boot means as diamonds (boot-to-boot spread visible at a glance).
- order-<workload>-<metric>: value against run order (record time, else
  boot/iteration order) per arm, to expose drift.
- latency-<workload>: per-boot P50/P99 (and P99.9) strips per arm, from the
  latency metrics.
- latency-hdr-<workload>: when run folders hold HdrHistogram percentile
  distributions (memtier --hdr-file-prefix *.txt under raw/iter-NNNN/), the
  full latency-by-percentile curves, one line per iteration, by arm.
"""

from __future__ import annotations

import re
from pathlib import Path

ARM_COLOURS = ("#1f77b4", "#d62728")
BOOT_CMAPS = ("Blues", "Reds")


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s)


def _stamp(fig, result: dict, sources: list[str]) -> None:
    src = ", ".join(sources)
    if len(src) > 110:
        src = src[:107] + "..."
    fig.text(0.01, 0.005, f"data: {src}  |  benchctl analyze seed {result['seed']}", fontsize=8,
             color="#555555", ha="left", va="bottom")
    if result["simulated"]:
        fig.text(0.5, 0.5, "SIMULATED", fontsize=60, color="red", alpha=0.18, ha="center", va="center",
                 rotation=25, weight="bold")
        fig.text(0.99, 0.005, "SIMULATED DATA", fontsize=12, color="red", ha="right", va="bottom", weight="bold")


def _save(fig, out: Path, name: str, written: list[Path]) -> None:
    for ext in ("png", "svg"):
        p = out / f"{name}.{ext}"
        fig.savefig(p, dpi=110 if ext == "png" else None)
        written.append(p)


def forest(plt, result: dict, sources, out: Path, written: list[Path]) -> None:
    claims = [c for c in result["claims"] if c["ci_pct"]]
    if not claims:
        return
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.75 * len(claims)))
    for i, c in enumerate(reversed(claims)):
        lo, hi = c["claimed"]["band"]
        ax.add_patch(plt.Rectangle((lo, i - 0.3), hi - lo, 0.6, color="#2ca02c", alpha=0.25, lw=0))
        a, b = c["ci_pct"]
        ax.plot([a, b], [i, i], color="black", lw=2.5)
        ax.plot([c["change_pct"]], [i], "o", color="black", ms=7)
        ax.text(1.02, i, c["verdict"], fontsize=10, va="center", transform=ax.get_yaxis_transform())
    ax.axvline(0, color="#777777", lw=1, ls="--")
    ax.set_yticks(range(len(claims)))
    ax.set_yticklabels([c["id"] for c in reversed(claims)], fontsize=11)
    ax.set_ylim(-0.7, len(claims) - 0.3)
    ax.set_xlabel(f"change {result['candidate']} vs {result['baseline']} (%)", fontsize=11)
    ax.set_title(f"Claims: {result['confidence']:.0%} interval (bar) vs claimed band (green)", fontsize=12)
    ax.tick_params(labelsize=10)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    _stamp(fig, result, sources)
    _save(fig, out, "claims-forest", written)
    plt.close(fig)


def _arm_frames(df, result, workload, metric):
    sub = df[(df["workload"] == workload) & (df["metric"] == metric)]
    return [(arm, sub[sub["arm"] == arm]) for arm in (result["baseline"], result["candidate"])]


def distributions(plt, df, result, sources, out: Path, written: list[Path]) -> None:
    import numpy as np
    for comp in result["comparisons"]:
        w, m = comp["workload"], comp["metric"]
        frames = _arm_frames(df, result, w, m)
        if any(len(f) == 0 for _, f in frames):
            continue  # derived ratio metrics have no rows of their own
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        rng = np.random.default_rng(0)
        for k, (arm, f) in enumerate(frames):
            boots = list(dict.fromkeys(f.sort_values("t" if f["t"].notna().any() else "boot")["boot"]))
            cmap = plt.get_cmap(BOOT_CMAPS[k])
            for j, boot in enumerate(boots):
                v = f.loc[f["boot"] == boot, "value"].to_numpy()
                x = k + (j - (len(boots) - 1) / 2) * (0.7 / max(len(boots), 1))
                jit = rng.uniform(-0.02, 0.02, len(v))
                colour = cmap(0.5 + 0.45 * j / (len(boots) - 1) if len(boots) > 1 else 0.75)
                ax.plot(x + jit, v, ".", color=colour, ms=6, alpha=0.8)
                ax.plot([x], [v.mean()], "D", color=colour, mec="black", ms=7)
        ax.set_xticks([0, 1])
        ax.set_xticklabels([f"{a}\n({comp[s]['n_boots']} boots)" for a, s in
                            zip((result["baseline"], result["candidate"]), ("baseline", "candidate"))], fontsize=11)
        ax.set_ylabel(f"{m} ({comp['unit']})" if comp["unit"] else m, fontsize=11)
        ax.set_title(f"{w} {m}: each boot a column (diamond = boot mean)\nchange {comp['change_pct']:+.2f} % "
                     f"[{comp['ci_pct'][0]:+.2f}, {comp['ci_pct'][1]:+.2f}]", fontsize=11)
        ax.tick_params(labelsize=10)
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        _stamp(fig, result, sources)
        _save(fig, out, f"dist-{_slug(w)}-{_slug(m)}", written)
        plt.close(fig)


def run_order(plt, df, result, sources, out: Path, written: list[Path]) -> None:
    for comp in result["comparisons"]:
        w, m = comp["workload"], comp["metric"]
        frames = _arm_frames(df, result, w, m)
        if any(len(f) == 0 for _, f in frames):
            continue
        sub = df[(df["workload"] == w) & (df["metric"] == m)]
        has_t = sub["t"].notna().all()
        sub = sub.sort_values(["t"] if has_t else ["boot", "run", "iteration"])
        fig, ax = plt.subplots(figsize=(7.5, 3.6))
        x0 = sub["t"].min() if has_t else 0
        for k, arm in enumerate((result["baseline"], result["candidate"])):
            f = sub[sub["arm"] == arm]
            x = (f["t"] - x0) / 3600 if has_t else f.index.map(list(sub.index).index)
            ax.plot(x, f["value"], ".", color=ARM_COLOURS[k], ms=4, label=arm)
        ax.set_xlabel("hours since first record" if has_t else "run order (no timestamps)", fontsize=11)
        ax.set_ylabel(m, fontsize=11)
        ax.set_title(f"{w} {m} in run order (drift shows as a slope)", fontsize=11)
        ax.legend(fontsize=10)
        ax.tick_params(labelsize=10)
        fig.tight_layout(rect=(0, 0.05, 1, 1))
        _stamp(fig, result, sources)
        _save(fig, out, f"order-{_slug(w)}-{_slug(m)}", written)
        plt.close(fig)


def latency(plt, df, result, sources, out: Path, written: list[Path]) -> None:
    lat = [m for m in ("p50_latency_us", "p99_latency_us", "p999_latency_us")]
    for w in sorted(df["workload"].unique()):
        present = [m for m in lat if ((df["workload"] == w) & (df["metric"] == m)).any()]
        if not present:
            continue
        fig, axes = plt.subplots(1, len(present), figsize=(3.2 * len(present) + 1, 3.8), squeeze=False)
        for ax, m in zip(axes[0], present):
            for k, arm in enumerate((result["baseline"], result["candidate"])):
                f = df[(df["workload"] == w) & (df["metric"] == m) & (df["arm"] == arm)]
                per_boot = f.groupby("boot")["value"].agg(["median", "min", "max"])
                nbt = len(per_boot)
                xs = [k + (j - (nbt - 1) / 2) * (0.6 / max(nbt, 1)) for j in range(nbt)]
                ax.errorbar(xs, per_boot["median"], yerr=[per_boot["median"] - per_boot["min"],
                            per_boot["max"] - per_boot["median"]], fmt="o", color=ARM_COLOURS[k],
                            alpha=0.7, capsize=3)
            ax.set_xticks([0, 1])
            ax.set_xticklabels([result["baseline"], result["candidate"]], fontsize=10)
            ax.set_xlim(-0.6, 1.6)
            ax.set_title(m.replace("_latency_us", "").upper() + " (us), per boot", fontsize=11)
        fig.suptitle(f"{w} latency: one point per boot (median, min-max of iterations)", fontsize=11)
        fig.tight_layout(rect=(0, 0.05, 1, 0.95))
        _stamp(fig, result, sources)
        _save(fig, out, f"latency-{_slug(w)}", written)
        plt.close(fig)


MAX_CURVES = 400


def _hdr_curves(tidy, arms: tuple[str, str]) -> dict[str, list[tuple[str, int, object]]]:
    """workload -> [(arm, boot index, PercentileCurve)] from run folders' raw outputs.

    Per iteration: the .hgrm beside a percentile table (memtier's full-resolution
    histogram, decoded, in ms like the table), else the printed table itself.
    Per-command files (P_GET_command_run_1.*) are left out: a curve is of all requests.
    """
    from benchctl.parsers import ParseError
    from benchctl.parsers.hdr import curve_from_histogram, is_percentile_text, parse_percentile_text, read_log
    out: dict[str, list] = {}
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


def latency_hdr(plt, tidy, result, sources, out: Path, written: list[Path]) -> None:
    import numpy as np
    arms = (result["baseline"], result["candidate"])
    for workload, curves in sorted(_hdr_curves(tidy, arms).items()):
        fig, ax = plt.subplots(figsize=(7.5, 4.2))
        for arm_i, arm in enumerate(arms):
            mine = [c for c in curves if c[0] == arm][:MAX_CURVES]
            n_boots = max([i for _, i, _ in mine], default=0) + 1
            cmap = plt.get_cmap(BOOT_CMAPS[arm_i])
            for j, (_, bi, c) in enumerate(mine):
                p = np.array(c.percentiles)
                keep = p < 1.0
                x = 1.0 / (1.0 - p[keep])
                ax.plot(x, np.array(c.values)[keep], color=cmap(0.4 + 0.55 * bi / max(n_boots - 1, 1)),
                        lw=1, alpha=0.7, label=f"{arm} ({n_boots} boots)" if j == 0 else None)
        ax.set_xscale("log")
        ticks = [1 / (1 - q) for q in (0.5, 0.9, 0.99, 0.999, 0.9999)]
        ax.set_xticks(ticks)
        ax.set_xticklabels(["50%", "90%", "99%", "99.9%", "99.99%"], fontsize=10)
        ax.set_yscale("log")
        ax.set_xlabel("percentile", fontsize=11)
        ax.set_ylabel("latency (tool units; memtier: ms)", fontsize=11)
        ax.set_title(f"{workload} latency by percentile (HDR histograms, one line per iteration)", fontsize=11)
        ax.legend(fontsize=10)
        fig.tight_layout(rect=(0, 0.05, 1, 1))
        _stamp(fig, result, sources)
        _save(fig, out, f"latency-hdr-{_slug(workload)}", written)
        plt.close(fig)


def write_plots(result: dict, tidy, out_dir: str | Path, sources: list[str]) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = tidy.df[tidy.df["arm"].isin([result["baseline"], result["candidate"]])]
    written: list[Path] = []
    forest(plt, result, sources, out, written)
    distributions(plt, df, result, sources, out, written)
    run_order(plt, df, result, sources, out, written)
    latency(plt, df, result, sources, out, written)
    latency_hdr(plt, tidy, result, sources, out, written)
    return written
