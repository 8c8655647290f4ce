"""Which assumed parameters move each prediction most (one at a time, low/high).

The numbers are predict.py's own one-at-a-time sweep: each assumed figure
with a range is set to its low and then its high end, the others at their
values; swing = |high - low| in percentage points of the predicted change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchctl.model.predict import predict


def sensitivity(cpu: str, **kw: Any) -> dict[str, Any]:
    pred = predict(cpu, **kw)
    claims = []
    for p in pred["predictions"]:
        rows = [{"parameter": name, "low_pct": lo, "high_pct": hi, "swing_pct": round(abs(hi - lo), 6)}
                for name, (lo, hi) in p["sensitivity"].items()]
        rows.sort(key=lambda r: (-r["swing_pct"], r["parameter"]))
        claims.append({"claim": p["claim"], "metric": p["metric"], "change_pct": p["change_pct"], "parameters": rows})
    return {"simulated": True, "kind": "model sensitivity (SIMULATED)", "cpu": pred["cpu"],
            "cpu_name": pred["cpu_name"], "claims": claims}


def render(result: dict[str, Any], top: int = 6) -> str:
    lines = [f"SIMULATED - model sensitivity, {result['cpu_name']} (one-at-a-time, low/high of each assumed figure)"]
    for c in result["claims"]:
        lines.append("")
        lines.append(f"{c['claim']} ({c['metric']}): predicted {c['change_pct']:+.2f} %")
        if not c["parameters"]:
            lines.append("  no assumed parameter moves it")
            continue
        lines.append(f"  {'parameter':<48} {'low':>9} {'high':>9} {'swing':>8}")
        for r in c["parameters"][:top]:
            lines.append(f"  {r['parameter']:<48} {r['low_pct']:>+8.2f}% {r['high_pct']:>+8.2f}% {r['swing_pct']:>7.2f}")
    return "\n".join(lines)


def tornado(result: dict[str, Any], out_dir: Path, top: int = 8) -> Path:
    """One tornado chart per claim in one figure (PNG + SVG, shared plot style, SIMULATED stamp); the PNG's path."""
    from benchctl.analyze.report.plotstyle import LOW_HIGH, pyplot, save, stamp

    claims = result["claims"]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with pyplot() as plt:
        fig, axes = plt.subplots(len(claims), 1, figsize=(9, 2.2 + 0.45 * top * len(claims) / 2), squeeze=False)
        for ax, c in zip(axes[:, 0], claims):
            rows = c["parameters"][:top][::-1]
            nominal = c["change_pct"]
            for i, r in enumerate(rows):
                ax.barh(i, r["low_pct"] - nominal, left=nominal, color=LOW_HIGH[0])
                ax.barh(i, r["high_pct"] - nominal, left=nominal, color=LOW_HIGH[1])
            ax.axvline(nominal, color="black", lw=0.8)
            ax.set_yticks(range(len(rows)), [r["parameter"].replace("workload.", "") for r in rows])
            ax.set_title(f"{c['claim']}: predicted {nominal:+.2f} % (blue = low end, red = high end)")
            ax.set_xlabel("predicted change, %")
        fig.suptitle(f"SIMULATED model sensitivity - {result['cpu_name']} - not a measurement")
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        stamp(fig, f"benchctl model sensitivity --cpu {result['cpu']} (one-at-a-time sweep of assumed figures)",
              simulated=True)
        return save(plt, fig, out_dir, f"tornado-{result['cpu']}")[0]
