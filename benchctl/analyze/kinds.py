"""Claims that are not "the change is X %": equivalence ("on par with") and scaling ("the larger
the machine, the more saved").

Equivalence is judged on the same comparison as a change claim (compare.py's per-boot means):
Schuirmann's TOST within the claim's margin (stats/equivalence.py); an exact comparison
(MemTotal) is equivalent when its exact change lies within the margin.

Scaling is judged across machine sizes: the boots of each arm are grouped by the machine's RAM
(the kernel's 'Memory: .../N K' boot line, the same for both arms of one machine), each size's
change is candidate minus baseline in the metric's unit (the means of per-boot means), and the
slope of change on RAM in GiB is fitted by least squares with its t interval (stats/slope.py).
The verdict is claims.verdict on the slope's interval against the claimed slope's band. With
boots of several sizes in one arm, the ordinary comparisons pool machines: `pooled` says so and
keeps them from verdicts.
"""

from __future__ import annotations

import math

from benchctl.analyze.resulttypes import ClaimResult, Comparison, ScalingPoint
from benchctl.analyze.stats import equivalence, slope
from benchctl.claims import Claim, verdict
from benchctl.results.table import BootMeta, Frame

GIB_KB = 1024 * 1024
POOLED_PREFIX = "machines of several sizes pooled"
SAME_SIZE = 0.02  # RAM within 2 % is one machine size (MemTotal, where no 'Memory:' line, differs by arm)


def ram_sizes(boots: list[BootMeta]) -> dict[str, dict[str, int]]:
    """arm -> {boot id: machine size in kB RAM} for the boots whose fingerprint says how much RAM
    there is; sizes within SAME_SIZE of the smallest of their class are that class's size."""
    seen = sorted({int(b.ram_kb) for b in boots if b.ram_kb})
    size: dict[int, int] = {}
    for kb in seen:
        first = next((s for s in size.values() if kb <= s * (1 + SAME_SIZE)), kb)
        size[kb] = first
    out: dict[str, dict[str, int]] = {}
    for b in boots:
        if b.ram_kb:
            out.setdefault(b.arm, {}).setdefault(b.boot, size[int(b.ram_kb)])
    return out


def _gib(kb: int) -> str:
    return f"{kb / GIB_KB:.3g}"


def pooled(comps: dict[tuple[str, str], Comparison], boots: list[BootMeta]) -> str | None:
    """When an arm's boots come from machines of different RAM sizes: the check, added to every
    comparison's reasons for no verdict (a scaling claim uses the sizes instead)."""
    sizes = sorted({kb for per in ram_sizes(boots).values() for kb in per.values()})
    if len(sizes) < 2:
        return None
    why = (
        f"{POOLED_PREFIX} (RAM {', '.join(_gib(s) for s in sizes)} GiB): a change between arms mixes "
        "machine sizes; analyze one size at a time (scaling claims use every size)"
    )
    for comp in comps.values():
        comp["not_judged"].append(why)
    return why


def equivalence_row(row: ClaimResult, c: Claim, comp: Comparison, alpha: float) -> None:
    """Fill a claim row with the TOST verdict on the comparison (the caller checked it can be judged)."""
    if comp.get("exact"):
        x = comp["change_pct"]
        row["change_pct"], row["ci_pct"], row["p_value"] = x, [x, x], None
        row["verdict"] = "equivalent" if abs(x) <= c.tolerance else "not-equivalent"
        return
    t = equivalence.tost(comp["baseline"]["boot_means"], comp["candidate"]["boot_means"], c.tolerance, alpha)
    row["change_pct"], row["ci_pct"], row["p_value"] = t.change_pct, list(t.ci_pct), t.p_value
    row["verdict"] = t.verdict
    row["equivalence"] = t.as_dict(c.tolerance, 1 - 2 * alpha)


def _boot_means(df: Frame, workload: str, metric: str, arm: str) -> dict[str, float]:
    sub = df[(df["workload"] == workload) & (df["metric"] == metric) & (df["arm"] == arm)]
    return {str(k): float(v) for k, v in sub.groupby("boot", observed=True)["value"].mean().items()}


def points(df: Frame, boots: list[BootMeta], c: Claim, arms: tuple[str, str]) -> list[ScalingPoint]:
    """Per RAM size with boots in both arms: the arms' means and the change (candidate - baseline)."""
    sizes = ram_sizes(boots)
    per_arm = {a: _boot_means(df, c.workload, c.metric, a) for a in arms}
    out: list[ScalingPoint] = []
    for kb in sorted({kb for a in arms for kb in sizes.get(a, {}).values()}):
        vals = {a: [v for bt, v in per_arm[a].items() if sizes.get(a, {}).get(bt) == kb] for a in arms}
        if all(vals.values()):
            b, k = (sum(vals[a]) / len(vals[a]) for a in arms)
            out.append(
                {
                    "ram_kb": kb,
                    "ram_gib": kb / GIB_KB,
                    "baseline": b,
                    "candidate": k,
                    "change": k - b,
                    "boots": [len(vals[a]) for a in arms],
                    "exact": all(len(set(vals[a])) == 1 for a in arms) and min(len(vals[a]) for a in arms) > 1,
                }
            )
    return out


def scaling_row(
    row: ClaimResult, c: Claim, df: Frame, boots: list[BootMeta], arms: tuple[str, str], confidence: float
) -> None:
    """Fill a claim row with the slope of the change on RAM and its verdict, or the reason there is none."""
    from scipy import special  # stdtr: scipy.stats' t.cdf

    pts = points(df, boots, c, arms)
    row["scaling"] = {"points": pts, "fit": None, "per": "GiB RAM (the kernel's 'Memory:' line)"}
    if len({p["ram_kb"] for p in pts}) < 3:
        have = f"sizes here: {', '.join(_gib(p['ram_kb']) for p in pts)} GiB" if pts else "no RAM size known"
        row["warnings"].insert(
            0,
            f"not judged: a slope with an interval needs >= 3 machine sizes with boots of both arms "
            f"({have}); boot the arms at more RAM sizes",
        )
        return
    fit = slope.fit([p["ram_gib"] for p in pts], [p["change"] for p in pts], confidence)
    row["scaling"]["fit"] = fit.as_dict()
    row["change_pct"], row["ci_pct"] = fit.slope, list(fit.ci)
    if fit.se > 0:
        row["p_value"] = float(2 * special.stdtr(fit.n - 2, -abs(fit.slope) / fit.se))
    row["verdict"] = verdict(c, *fit.ci)
    if not all(p["exact"] for p in pts):
        row["warnings"].append(
            "some sizes have one boot per arm or values that vary between boots: their change is a "
            "difference of means, and the slope's interval counts only the spread around the line"
        )
    if math.isclose(fit.residual_sd, 0.0, abs_tol=1e-12):
        row["warnings"].append("the changes lie exactly on a line: the slope's interval has zero width")
