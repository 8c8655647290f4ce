"""Claims files (TOML) and the verdict on one claim.

Format (documented for users in analysis/claims/README.md):

    format = "benchctl-claims/1"          # optional
    [[claim]]
    id = "memcached-ops"                  # unique, [a-z0-9._-]
    workload = "memcached"
    metric = "ops_per_sec"
    direction = "increase"                # or "decrease"
    value = 3.5                           # signed percent ...
    # range = [90.0, 150.0]               # ... or a signed range in percent
    tolerance = 1.0                       # percentage points, widens the band
    resolution_pct = 1.0                  # optional: finest change the data must resolve
    source = "..."; machine = "..."; description = "..."

Verdicts (issue 5), for an interval [L, H] of the change in percent and the
claimed band [lo - tol, hi + tol]:
- confirmed: the interval lies on the claimed side of zero and overlaps the band;
- smaller-than-claimed / larger-than-claimed: on the claimed side of zero but
  entirely nearer to / farther from zero than the band;
- not-reproduced: the interval misses the band and includes zero or lies on
  the other side;
- inconclusive: the interval overlaps both zero and the band.
Family-wise error: a verdict that asserts an effect (the first three) also
needs the claim's Holm-adjusted p-value below 1 - confidence when a p-value
exists; otherwise the verdict is inconclusive with a warning saying so.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from benchctl.documents import load_toml
from benchctl.errors import InputError

FORMAT = "benchctl-claims/1"
DEFAULT_TOLERANCE_REL = 0.25   # of the claimed magnitude nearest zero, when tolerance is omitted
EFFECT_VERDICTS = ("confirmed", "smaller-than-claimed", "larger-than-claimed")
VERDICTS = EFFECT_VERDICTS + ("not-reproduced", "inconclusive")
CLAIM_KEYS = {"id", "workload", "metric", "direction", "value", "range", "tolerance", "resolution_pct",
              "source", "machine", "description", "absolute"}
TOP_KEYS = {"format", "title", "description", "claim"}
ID_RE = re.compile(r"^[A-Za-z0-9._-]+$")


@dataclass(frozen=True)
class Claim:
    id: str
    workload: str
    metric: str
    direction: str          # "increase" | "decrease"
    lo: float               # claimed change, signed percent (lo == hi for a single value)
    hi: float
    tolerance: float        # percentage points
    source: str = ""
    machine: str = ""
    description: str = ""
    resolution_pct: float | None = None
    absolute: str = ""

    @property
    def is_range(self) -> bool:
        return self.lo != self.hi

    @property
    def band(self) -> tuple[float, float]:
        return (self.lo - self.tolerance, self.hi + self.tolerance)

    @property
    def nearest_zero(self) -> float:
        """The claimed change of smallest magnitude (what a plan must resolve)."""
        return self.lo if abs(self.lo) <= abs(self.hi) else self.hi

    def claimed_text(self) -> str:
        v = f"{self.lo:+g}..{self.hi:+g} %" if self.is_range else f"{self.lo:+g} %"
        return f"{v} +-{self.tolerance:g}"

    def as_dict(self) -> dict:
        return {"value": None if self.is_range else self.lo,
                "range": [self.lo, self.hi] if self.is_range else None,
                "direction": self.direction, "band": list(self.band),
                "source": self.source, "machine": self.machine, "description": self.description,
                "absolute": self.absolute or None, "resolution_pct": self.resolution_pct}


def _num(v, path, key) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise InputError(f"{key} must be a finite number, not {v!r}", path)
    return float(v)


def _str(v, path, key) -> str:
    if not isinstance(v, str):
        raise InputError(f"{key} must be a string, not {type(v).__name__}", path)
    return v


def parse_claim(d: dict, path: str, where: str) -> Claim:
    unknown = sorted(set(d) - CLAIM_KEYS)
    if unknown:
        raise InputError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(CLAIM_KEYS))})", path)
    for k in ("id", "workload", "metric", "direction"):
        if k not in d:
            raise InputError(f"{where}: missing key {k!r}", path)
    cid = _str(d["id"], path, f"{where}.id")
    where = f"claim {cid!r}"
    if not ID_RE.match(cid):
        raise InputError(f"{where}: id may hold only letters, digits, '.', '_' and '-'", path)
    direction = _str(d["direction"], path, f"{where}.direction")
    if direction not in ("increase", "decrease"):
        raise InputError(f"{where}.direction must be 'increase' or 'decrease', not {direction!r}", path)
    if ("value" in d) == ("range" in d):
        raise InputError(f"{where}: give exactly one of 'value' or 'range'", path)
    if "value" in d:
        lo = hi = _num(d["value"], path, f"{where}.value")
    else:
        r = d["range"]
        if not isinstance(r, list) or len(r) != 2:
            raise InputError(f"{where}.range must be [low, high] in percent", path)
        lo, hi = sorted(_num(x, path, f"{where}.range") for x in r)
    sign_ok = (lo > 0 and hi > 0) if direction == "increase" else (lo < 0 and hi < 0)
    if not sign_ok:
        raise InputError(f"{where}: a claimed {direction} needs a {'positive' if direction == 'increase' else 'negative'} "
                         f"value in percent (got {lo:g}..{hi:g})", path)
    if "tolerance" in d:
        tol = _num(d["tolerance"], path, f"{where}.tolerance")
        if tol < 0:
            raise InputError(f"{where}.tolerance must be >= 0 percentage points", path)
    else:
        tol = round(DEFAULT_TOLERANCE_REL * min(abs(lo), abs(hi)), 6)
    res = None
    if "resolution_pct" in d:
        res = _num(d["resolution_pct"], path, f"{where}.resolution_pct")
        if res <= 0:
            raise InputError(f"{where}.resolution_pct must be > 0", path)
    texts = {k: _str(d[k], path, f"{where}.{k}") if k in d else ""
             for k in ("workload", "metric", "source", "machine", "description", "absolute")}
    return Claim(cid, texts["workload"], texts["metric"], direction, lo, hi, tol, texts["source"],
                 texts["machine"], texts["description"], res, texts["absolute"])


def load_claims(path: str | Path) -> list[Claim]:
    path = str(path)
    doc = load_toml(path, "claims file")
    unknown = sorted(set(doc) - TOP_KEYS)
    if unknown:
        raise InputError(f"unknown top-level key {unknown[0]!r} (allowed: {', '.join(sorted(TOP_KEYS))})", path)
    fmt = doc.get("format", FORMAT)
    if fmt != FORMAT:
        raise InputError(f"format {fmt!r} is not {FORMAT!r}", path)
    items = doc.get("claim", [])
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise InputError("claims must be [[claim]] tables", path)
    if not items:
        raise InputError("no [[claim]] tables in this file", path)
    claims, seen = [], set()
    for i, d in enumerate(items, 1):
        c = parse_claim(d, path, f"claim #{i}")
        if c.id in seen:
            raise InputError(f"duplicate claim id {c.id!r}", path)
        seen.add(c.id)
        claims.append(c)
    return claims


def verdict(claim: Claim, low: float, high: float) -> str:
    """The verdict from the interval alone (module doc); Holm is applied by the caller."""
    b_lo, b_hi = claim.band
    overlaps_band = low <= b_hi and high >= b_lo
    if claim.direction == "increase":
        claimed_side = low > 0
        nearer, farther = high < b_lo, low > b_hi
    else:
        claimed_side = high < 0
        nearer, farther = low > b_hi, high < b_lo
    includes_zero = low <= 0 <= high
    if claimed_side:
        if overlaps_band:
            return "confirmed"
        return "smaller-than-claimed" if nearer else "larger-than-claimed"
    if includes_zero and overlaps_band:
        return "inconclusive"
    return "not-reproduced"
