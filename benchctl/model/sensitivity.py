"""Which assumptions matter: each figure's share of the variance of each prediction.

The shares are first-order Sobol indices estimated from predict's own joint
Monte Carlo draws (benchctl.model.montecarlo.variance_shares): the part of a
prediction's variance that one figure explains alone, with every other
figure varying too. They need not sum to 1 (interactions, and estimation
noise of about 20 / draws per figure, which is subtracted).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from benchctl.human import WIDTH
from benchctl.model.predict import predict


def sensitivity(cpu: str, top: int = 8, **kw: Any) -> dict[str, Any]:
    pred = predict(cpu, shares_top=top, **kw)
    claims = [
        {
            "claim": p["claim"],
            "metric": p["metric"],
            "median_pct": p["median_pct"],
            "interval_pct": p["interval_pct"],
            "parameters": p["top_assumptions"],
        }
        for p in pred["predictions"]
    ]
    return {
        "format": "benchctl-model-sensitivity/2",
        "simulated": True,
        "kind": "model sensitivity (SIMULATED)",
        "cpu": pred["cpu"],
        "cpu_name": pred["cpu_name"],
        "draws": pred["draws"],
        "claims": claims,
        "method": "first-order variance shares (Sobol), 20 quantile bins, from the joint Monte Carlo draws",
    }


def render(result: dict[str, Any], top: int = 6) -> str:
    lines = textwrap.wrap(
        f"SIMULATED - model sensitivity, {result['cpu_name']}: share of each prediction's "
        f"variance explained by one assumption ({result['draws']} joint draws)",
        WIDTH,
    )
    for c in result["claims"]:
        lo, hi = c["interval_pct"]
        lines += ["", f"{c['claim']}: {c['median_pct']:+.2f} % [{lo:+.2f}, {hi:+.2f}]"]
        if not c["parameters"]:
            lines.append("  nothing varies it (exact, or off the allow-list)")
            continue
        for r in c["parameters"][:top]:
            name = r["name"].replace("workload.", "")
            if len(name) > 58:
                name = "..." + name[-55:]
            lines.append(f"  {name:<58} {100 * r['variance_share']:>5.1f} %")
    return "\n".join(lines)


def plot(result: dict[str, Any], out_dir: Path, top: int = 8) -> Path:
    """One bar chart per claim in one figure (PNG + SVG, shared plot style, SIMULATED stamp); the PNG's path."""
    from benchctl.plotstyle import LOW_HIGH, pyplot

    claims = result["claims"]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with pyplot() as plt:
        fig, axes = plt.subplots(len(claims), 1, figsize=(9, 1.6 + 0.4 * top * len(claims)), squeeze=False)
        for ax, c in zip(axes[:, 0], claims, strict=True):
            rows = c["parameters"][:top][::-1]
            ax.barh(range(len(rows)), [100 * r["variance_share"] for r in rows], color=LOW_HIGH[0])
            ax.set_yticks(range(len(rows)), [r["name"].replace("workload.", "") for r in rows])
            lo, hi = c["interval_pct"]
            ax.set_title(f"{c['claim']}: {c['median_pct']:+.1f} % [{lo:+.1f}, {hi:+.1f}]")
            ax.set_xlabel("share of the prediction's variance, %")
        footer = f"benchctl model sensitivity --cpu {result['cpu']} (first-order shares of joint draws)"
        return finish(
            plt, fig, f"model sensitivity - {result['cpu_name']}", footer, out_dir, f"sensitivity-{result['cpu']}"
        )


def finish(plt: Any, fig: Any, title: str, footer: str, out_dir: Path, name: str) -> Path:
    """The end every model figure shares: the SIMULATED title and stamp, PNG + SVG in the shared plot
    style (plotstyle.save); the PNG's path."""
    from benchctl.plotstyle import save, stamp

    fig.suptitle(f"SIMULATED {title} - not a measurement")
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    stamp(fig, footer, simulated=True)
    return save(plt, fig, Path(out_dir), name)[0]
