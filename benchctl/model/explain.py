"""What would have to be true: the model inverted for each claim its 90 % interval misses.

predict says +0.95 % where +90..150 % was published; a reviewer needs to know
what the published number would require. For each such claim, on predict's
own draws and mechanisms (nothing is refitted: explain inverts, it never
changes a figure):

(a) one assumption at a time, every other figure at its median, the value
    that puts the model at the published value (the end of a published range
    nearest the median), found by scanning the figure over its stated range
    and beyond (fractions over 0..1; positive figures from a thirtieth of
    their low to thirty times their high), then refined between the two scan
    points that bracket it; beside it the figure's stated distribution, the
    quantile the needed value has there, its source and, with a tlb-probe
    calibration, the calibrated median;
(b) the most plausible joint point of the top assumptions that reaches it:
    each figure as a normal score z = Phi^-1(F(x)) (F its stated CDF), the
    point of least Mahalanobis distance d = |z| (independent figures: the
    identity covariance) on the level set model(z) = published, by SLSQP
    (Kraft 1988, scipy.optimize.minimize) with |z_i| <= 4; how improbable it
    is: P(chi-square with k degrees of freedom >= d^2), the probability that
    k independent standard normals lie at least as far from their medians;
    and, without any solver, the share of predict's joint draws that reach
    the published value;
(c) one line that reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchctl.model import montecarlo
from benchctl.model.predict import Prepared, claim_change, prepare, summarise
from benchctl.model.profiles import SIZE_FIGURES, Figure
from benchctl.model.targets import Target

FORMAT = "benchctl-model-explain/1"
Z_MAX = 4.0
SCAN = 161
TOP = 4


def explain(
    cpu: str,
    *,
    claim_ids: list[str] | None = None,
    top: int = TOP,
    progress: Callable[[int, int], None] | None = None,
    plots_dir: Any = None,
    **kw: Any,
) -> dict[str, Any]:
    """JSON-ready inversion of every claim (or those named) whose published value is outside its interval;
    with `plots_dir`, the figure too (its path under "plot")."""
    p = prepare(cpu, **kw)
    pred, changes = summarise(p, progress=progress, shares_top=top + 4)
    wanted = {c.lower() for c in claim_ids or []}
    known = {c.id for c in p.claims}
    if wanted - known:
        from benchctl.errors import UsageError

        raise UsageError(f"unknown claim(s) {', '.join(sorted(wanted - known))}; known: {', '.join(sorted(known))}")
    out = []
    for c, q in zip(p.claims, pred["predictions"], strict=True):
        if wanted and c.id not in wanted:
            continue
        if q["published_inside_interval"] is not False or not p.model.blocks_in_candidate:
            out.append({"claim": c.id, "inside": q["published_inside_interval"], "prediction": q})
            continue
        out.append(explain_claim(p, c, q, changes[c.id], top))
    result = {
        "format": FORMAT,
        "simulated": True,
        "kind": "model inversion (SIMULATED, not a measurement): what the published values would need",
        "cpu": pred["cpu"],
        "cpu_name": pred["cpu_name"],
        "draws": pred["draws"],
        "seed": pred["seed"],
        "calibrated": p.weights is not None,
        "method": "one assumption at a time (others at their medians), then the least-Mahalanobis joint "
        "point in normal scores (SLSQP, |z| <= 4), P = chi-square survival of d^2 with k degrees of freedom",
        "claims": out,
    }
    if plots_dir is not None:
        result["plot"] = str(plot(result, plots_dir, p.model.figures))
    return result


def target_of(claim: Target, median: float) -> float:
    """The published value to reach: a single number, or the end of a published range nearest the median."""
    assert claim.published
    a, b = sorted(claim.published)
    return min((a, b), key=lambda t: abs(t - median))


def explain_claim(p: Prepared, c: Target, q: dict[str, Any], y: np.ndarray, top: int) -> dict[str, Any]:
    """(a), (b) and (c) for one claim outside its interval."""
    model, v = p.model, p.v
    target = target_of(c, q["median_pct"])
    base = {k: float(model.figures[k].quantile(0.5)) for k in v}

    def batch(points: dict[str, np.ndarray]) -> np.ndarray:
        n = len(next(iter(points.values())))
        vv = {k: np.full(n, x) for k, x in base.items()}
        vv.update(points)
        with np.errstate(all="ignore"):
            return np.asarray(claim_change(model, c, vv)[0], float)

    rows = []
    for a in q["top_assumptions"]:  # by variance share; a figure the claim does not depend on is skipped
        row = _one(model.figures[a["name"]], a["name"], batch, target, p, a["variance_share"])
        if row["reach_pct"] and row["reach_pct"][1] - row["reach_pct"][0] > 1e-9:
            rows.append(row)
        if len(rows) == top:
            break
    names = [r["name"] for r in rows]
    joint = _joint([model.figures[n] for n in names], names, batch, target, rows)
    w = p.weights
    w = np.ones_like(y) / len(y) if w is None else w / w.sum()
    beyond = y >= target if target >= q["median_pct"] else y <= target
    at_median = float(batch({k: np.array([x]) for k, x in list(base.items())[:1]})[0])
    res = {
        "claim": c.id,
        "inside": False,
        "metric": c.metric,
        "published_pct": list(c.published) if c.published else None,
        "target_pct": target,
        "median_pct": q["median_pct"],
        "interval_pct": q.get("one_boot_interval_pct") or q["interval_pct"],
        "at_medians_pct": round(at_median, 6),
        "share_of_draws_reaching": float(w[beyond].sum()),
        "assumptions": rows,
        "joint": joint,
    }
    res["reading"] = reading(res)
    return res


def _scan_grid(fig: Figure) -> np.ndarray:
    """Where one figure is scanned: its stated range and beyond (see the module docstring)."""
    inner = np.array([fig.quantile(x) for x in np.linspace(0.0, 1.0, 41)], float)
    lo, hi = float(np.min(inner)), float(np.max(inner))
    if fig.dist == "normal" and fig.sd:
        lo, hi = min(lo, float(fig.value) - 6 * fig.sd), max(hi, float(fig.value) + 6 * fig.sd)
    if lo >= 0 and hi <= 1:
        outer = np.linspace(0.0, 0.999, SCAN)
    elif lo > 0:
        outer = np.geomspace(lo / 30, hi * 30, SCAN)
    else:
        outer = np.linspace(min(lo, 0.0), hi * 30, SCAN)
    return np.unique(np.concatenate([inner[np.isfinite(inner)], outer]))


def _one(
    fig: Figure,
    name: str,
    batch: Callable[[dict[str, np.ndarray]], np.ndarray],
    target: float,
    p: Prepared,
    share: float,
) -> dict[str, Any]:
    """(a) for one figure: the value that alone reaches the target, and where it sits in the stated distribution."""
    grid = _scan_grid(fig)
    y = batch({name: grid})
    ok = np.isfinite(y)
    row: dict[str, Any] = {
        "name": name,
        "variance_share": share,
        "status": fig.status,
        "source": fig.source,
        "stated": fig.describe(lambda x: fmt_value(name, x)),
        "median": fig.quantile(0.5),
        "reach_pct": [float(np.min(y[ok])), float(np.max(y[ok]))] if ok.any() else None,
        "needed": None,
        "needed_quantile": None,
        "needed_z": None,
    }
    if p.weights is not None and name.startswith("cpu."):  # the probe informs the CPU's figures only
        row["calibrated"] = float(montecarlo.weighted_quantile(p.v[name], 0.5, p.weights)[0])
    s = np.sign(y - target)
    idx = [i for i in range(len(grid) - 1) if ok[i] and ok[i + 1] and s[i] != s[i + 1]]
    if not idx:
        return row
    med = fig.quantile(0.5)
    i = min(idx, key=lambda j: abs(fig.cdf(float(grid[j])) - 0.5) + 1e-9 * abs(grid[j] - med))
    a, b = grid[i], grid[i + 1]
    for _ in range(3):  # refine inside the bracket
        xs = np.linspace(a, b, 41)
        ys = batch({name: xs}) - target
        j = int(np.argmax(np.sign(ys[:-1]) != np.sign(ys[1:])))
        a, b = xs[j], xs[j + 1]
    x = float((a + b) / 2)
    qx = fig.cdf(x)
    row.update(needed=x, needed_quantile=qx, needed_z=_z(qx))
    return row


def _z(q: float) -> float | None:
    """Normal score of a quantile; None outside the stated range (q of 0 or 1)."""
    from scipy.stats import norm

    return None if q <= 0.0 or q >= 1.0 else float(norm.ppf(q))


def min_norm_point(
    batch: Callable[[np.ndarray], np.ndarray],
    k: int,
    target: float,
    start: np.ndarray | None = None,
    z_max: float = Z_MAX,
) -> tuple[np.ndarray | None, float]:
    """The point z of least |z| with batch(z) = target inside |z_i| <= z_max (SLSQP), or None; and the value
    reached there (or the value nearest the target the box allows). `batch` maps rows of z to values."""
    from scipy.optimize import minimize

    h = 1e-4
    memo: dict[bytes, np.ndarray] = {}

    def both(z: np.ndarray) -> np.ndarray:
        """Value and forward differences at z in one batch of k + 1 rows (SLSQP asks for both at each point)."""
        key = np.asarray(z, float).tobytes()
        if key not in memo:
            memo[key] = batch(np.vstack([z, z + h * np.eye(k)])) - target
        return memo[key]

    def g(z: np.ndarray) -> float:
        return float(both(z)[0])

    def g_jac(z: np.ndarray) -> np.ndarray:
        vals = both(z)
        return (vals[1:] - vals[0]) / h

    z0 = np.zeros(k) if start is None else np.clip(np.asarray(start, float), -z_max, z_max)
    if np.all(z0 == 0):
        z0 = 0.1 * np.sign(g_jac(z0) * -np.sign(g(z0)) + 1e-12)
    res = minimize(
        lambda z: float(z @ z),
        z0,
        jac=lambda z: 2 * z,
        method="SLSQP",
        bounds=[(-z_max, z_max)] * k,
        constraints=[{"type": "eq", "fun": g, "jac": g_jac}],
        options={"maxiter": 60, "ftol": 1e-8},
    )
    tol = 1e-3 * max(1.0, abs(target))
    if np.all(np.isfinite(res.x)) and abs(g(res.x)) <= tol:
        return res.x, g(res.x) + target
    sign = 1.0 if g(np.zeros(k)) < 0 else -1.0
    far = minimize(
        lambda z: -sign * g(z),
        np.zeros(k),
        jac=lambda z: -sign * g_jac(z),
        method="L-BFGS-B",
        bounds=[(-z_max, z_max)] * k,
        options={"maxiter": 40},
    )
    return None, g(far.x) + target


def _joint(
    figs: list[Figure],
    names: list[str],
    batch: Callable[[dict[str, np.ndarray]], np.ndarray],
    target: float,
    rows: list[dict[str, Any]],
) -> dict[str, Any]:
    """(b): the least-Mahalanobis joint point of the top figures, in their normal scores."""
    from scipy.stats import chi2, norm

    k = len(names)
    if not k:
        return {"names": [], "reached": False}

    def to_x(z: np.ndarray) -> dict[str, np.ndarray]:
        u = norm.cdf(z)
        return {
            n: np.array([f.quantile(float(ui)) for ui in u[:, i]])
            for i, (n, f) in enumerate(zip(names, figs, strict=True))
        }

    singles = [(abs(r["needed_z"]), i, r["needed_z"]) for i, r in enumerate(rows) if r["needed_z"] is not None]
    start = None
    if singles:
        _, i, zi = min(singles)
        start = np.zeros(k)
        start[i] = zi
    z, reached = min_norm_point(lambda zz: batch(to_x(np.atleast_2d(zz))), k, target, start)
    out: dict[str, Any] = {"names": names, "dof": k, "reached": z is not None, "value_pct": float(reached)}
    if z is None:
        return out
    d = float(np.sqrt(z @ z))
    xs = to_x(z[None, :])
    out.update(
        z={n: float(zi) for n, zi in zip(names, z, strict=True)},
        values={n: float(xs[n][0]) for n in names},
        distance_sd=d,
        p_chi2=float(chi2.sf(d * d, k)),
    )
    return out


def fmt_value(name: str, x: float) -> str:
    """A figure's value as people read it: sizes in binary units, other numbers to 3 significant digits
    (thousands separated)."""
    from benchctl.human import fmt_size

    if name.split(".")[-1] in SIZE_FIGURES:
        return fmt_size(int(x)).replace(" ", "")
    if abs(x) >= 1000:
        return f"{float(f'{x:.3g}'):,.0f}"  # 145,000 rather than 1.45e+05
    return f"{x:.3g}"


def place(row: dict[str, Any]) -> str:
    """Where the needed value sits in the figure's stated distribution."""
    q = row["needed_quantile"]
    if q is None:
        return "no value reaches it"
    if 0.05 <= q <= 0.95:
        return f"inside its 90 % range (quantile {q:.2f})"
    if 0.0 < q < 1.0:
        return f"in its outer tail (quantile {q:.3g})"
    side = "below its low" if q <= 0.0 else "above its high"
    return f"{side}: outside the stated range"


def reading(r: dict[str, Any]) -> str:
    """(c) in one sentence: the most plausible single figure and the joint point."""
    rows = [a for a in r["assumptions"] if a["needed"] is not None]
    short = lambda n: n.replace("workload.", "")  # noqa: E731
    if rows:
        a = min(rows, key=lambda a: abs(a["needed_z"]) if a["needed_z"] is not None else 99.0)
        cal = f", calibrated here {fmt_value(a['name'], a['calibrated'])}" if a.get("calibrated") is not None else ""
        first = (
            f"needs {short(a['name'])} {fmt_value(a['name'], a['needed'])} "
            f"(median {fmt_value(a['name'], a['median'])}; stated {a['stated']}, {a['status']}: {place(a)}{cal})"
        )
    else:
        first = "no top assumption alone reaches it within the scanned range"
    j = r["joint"]
    if j.get("reached"):
        second = f"jointly {j['distance_sd']:.1f} sd from the medians (P {j['p_chi2']:.2g})"
    else:
        second = f"not reachable jointly within 4 sd (best {j.get('value_pct', float('nan')):+.3g} %)"
    return f"{first}; {second}; {100 * r['share_of_draws_reaching']:.2g} % of the draws reach it"


def _position(fig: Figure, x: float) -> float:
    """x on the figure's stated range as 0 (low) .. 1 (high), log scale for log-uniform figures."""
    lo, hi = fig.quantile(0.0), fig.quantile(1.0)
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        lo, hi = fig.quantile(0.001), fig.quantile(0.999)
    if fig.dist == "loguniform" and x > 0:
        return float(np.log(x / lo) / np.log(hi / lo))
    return float((x - lo) / (hi - lo)) if hi > lo else 0.5


def _mark(ax: Any, i: int, pos: float | None, marker: str, a: dict[str, Any]) -> None:
    """The needed value on row i (an arrow at the edge when far outside; a note when none reaches it)."""
    from benchctl.plotstyle import LOW_HIGH

    if pos is None:
        ax.annotate("no value alone", (1.05, i), va="center", fontsize=8)
        return
    shown = float(np.clip(pos, -0.9, 1.9))
    ax.plot([shown], [i], marker=marker if shown == pos else (">" if pos > 1 else "<"), color=LOW_HIGH[1])
    ax.annotate(fmt_value(a["name"], a["needed"]), (shown, i), textcoords="offset points", xytext=(4, 4))


def plot(result: dict[str, Any], out_dir: Any, figures: dict[str, Figure]) -> Any:
    """One panel per explained claim, a bar per assumption: its stated range (light: all of it, dark: the
    middle 90 %) and the value needed alone (x; an arrow at the edge when far outside). PNG + SVG in the
    shared plot style with the SIMULATED stamp; the PNG's path."""
    from pathlib import Path

    from benchctl.model.sensitivity import finish
    from benchctl.plotstyle import LOW_HIGH, pyplot

    claims = [c for c in result["claims"] if c["inside"] is False]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with pyplot() as plt:
        fig, axes = plt.subplots(max(1, len(claims)), 1, figsize=(9, 1.4 + 1.6 * max(1, len(claims))), squeeze=False)
        for ax, c in zip(axes[:, 0], claims, strict=False):
            rows = c["assumptions"][::-1]
            for i, a in enumerate(rows):
                f = figures[a["name"]]
                p5, p95 = _position(f, f.quantile(0.05)), _position(f, f.quantile(0.95))
                ax.barh(i, 1.0, left=0.0, color=LOW_HIGH[0], alpha=0.35, height=0.6)
                ax.barh(i, p95 - p5, left=p5, color=LOW_HIGH[0], height=0.6)
                _mark(ax, i, _position(f, a["needed"]) if a["needed"] is not None else None, "x", a)
                joint = c["joint"].get("values", {}).get(a["name"])
                if joint is not None:
                    ax.plot([_position(f, joint)], [i], marker="o", color=LOW_HIGH[1], fillstyle="none")
            ax.set_yticks(range(len(rows)), [".".join(a["name"].split(".")[-3:]) for a in rows])
            ax.set_xlim(-1.0, 2.0)
            ax.axvline(0, color="grey", lw=0.5)
            ax.axvline(1, color="grey", lw=0.5)
            ax.set_title(f"{c['claim']}: published {c['target_pct']:+g} %, model {c['median_pct']:+.2f} %")
            ax.set_xlabel("position in the stated range (0 low, 1 high; log if log-uniform): x alone, o joint")
        footer = f"benchctl model explain --cpu {result['cpu']} (needed value of each assumption alone)"
        return finish(plt, fig, f"model inversion - {result['cpu_name']}", footer, out, f"explain-{result['cpu']}")
