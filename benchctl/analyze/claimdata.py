"""Claims against the data: a claim naming a metric or workload nobody measured is a typo (exit 3).

Separate from benchctl.claims (the file format) because it needs the loaded table.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from benchctl.claims import Claim
from benchctl.errors import InputError
from benchctl.results.metrics import CATALOGUE, RATIOS
from benchctl.results.table import Frame


def _nearest(name: str, names: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(names), n=3, cutoff=0.6)
    return f" (nearest: {', '.join(close)})" if close else ""


def _produced(df: Frame) -> dict[str, set[str]]:
    """workload -> metrics in the data, with the ratio metrics its raw counters allow."""
    have: dict[str, set[str]] = {}
    for w, m in df[["workload", "metric"]].drop_duplicates().itertuples(index=False):
        have.setdefault(str(w), set()).add(str(m))
    for metrics in have.values():
        metrics |= {r.name for r in RATIOS.values() if set(r.numerators) | {r.denominator} <= metrics}
    return have


def validate_claims(claims: list[Claim], df: Frame) -> None:
    """A claim naming a metric nobody produces is an error, not an inconclusive verdict.

    Known metrics are those in the data for the claim's workload and those
    of benchctl's catalogue (a run without perf has no MPKI, and the claim
    is then "not judged: no data"); anything else is a typo, reported with
    the nearest names. A workload missing from the data but one letter off
    a workload in it is a typo too.
    """
    have = _produced(df)
    for c in claims:
        path = c.source_path or "claims"
        mine = have.get(c.workload, set())
        if c.metric not in mine | set(CATALOGUE) | set(RATIOS):
            pool = mine or set(CATALOGUE)
            where = f"workload {c.workload} has" if mine else "benchctl knows"
            raise InputError(
                f"claim {c.id!r}: {where} no metric {c.metric!r}{_nearest(c.metric, pool)}", path, c.line_of("metric")
            )
        if not mine:
            near = difflib.get_close_matches(c.workload, sorted(have), n=1, cutoff=0.8)
            if near:
                raise InputError(
                    f"claim {c.id!r}: no workload {c.workload!r} in the data (nearest: {near[0]})",
                    path,
                    c.line_of("workload"),
                )
