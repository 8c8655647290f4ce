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
    prediction = "pagetables"             # optional: show `benchctl model pagetables` beside the verdict
    kind = "change"                       # default; or "equivalence" / "scaling" (below)

An equivalence claim ("on par with") gives `margin` in percent instead of a
value and direction, and optionally `against` = the arm label the candidate
is compared with (default: the baseline); verdicts equivalent,
not-equivalent, inconclusive (stats/equivalence.py: TOST on per-boot means).
A scaling claim ("the larger the machine, the more saved") gives the change
in the metric's unit per GiB of the machine's RAM as its value (a slope),
judged from the boots of several machine sizes (analyze/kinds.py).

Verdicts (issue 5), for an interval [L, H] of the change in percent and the
claimed band [lo - tol, hi + tol]:
- confirmed: the interval lies on the claimed side of zero and overlaps the band;
- smaller-than-claimed / larger-than-claimed: on the claimed side of zero but
  entirely nearer to / farther from zero than the band;
- reversed: the interval lies entirely on the other side of zero (the
  change goes the opposite way);
- not-reproduced: the interval misses the band and includes zero;
- inconclusive: the interval overlaps both zero and the band;
- not-judged: the data cannot support any verdict (one boot per arm, a boot
  in both arms, duplicate data, mismatched setups, too coarse a resolution,
  no data); the first warning says why.
Family-wise error: a verdict that asserts an effect (the first three, and
reversed) also needs the claim's Holm-adjusted p-value below 1 - confidence
when a p-value exists; otherwise the verdict is inconclusive with a warning
saying so.

Errors name the file, the line and the claim id (`bbml2.toml:31: claim
'memcached-ops': ...`), so a reviewer need not count [[claim]] tables.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from benchctl.documents import load_toml
from benchctl.errors import InputError
from benchctl.results.metrics import CATALOGUE

FORMAT = "benchctl-claims/1"
DEFAULT_TOLERANCE_REL = 0.25  # of the claimed magnitude nearest zero, when tolerance is omitted
EFFECT_VERDICTS = ("confirmed", "smaller-than-claimed", "larger-than-claimed", "reversed")
VERDICTS = EFFECT_VERDICTS + ("not-reproduced", "inconclusive", "not-judged", "equivalent", "not-equivalent")
CLAIM_KEYS = {
    "id",
    "workload",
    "metric",
    "direction",
    "value",
    "range",
    "tolerance",
    "resolution_pct",
    "source",
    "machine",
    "description",
    "absolute",
    "setup",
    "prediction",
    "kind",
    "margin",
    "against",
}
KINDS = ("change", "equivalence", "scaling")
EQUIVALENCE_VERDICTS = ("equivalent", "not-equivalent")
PREDICTIONS = ("pagetables",)  # model outputs a claim can be shown beside (analyze/predictions.py)
TOP_KEYS = {"format", "title", "description", "claim"}
ID_RE = re.compile(r"^[A-Za-z0-9._-]+$")


class Claimed(TypedDict):
    """The claim as judged (Claim.as_dict, in analyze's ClaimResult): what was claimed, the band."""

    value: float | None
    range: list[float] | None
    direction: str
    band: list[float]
    source: str
    machine: str
    description: str
    absolute: str | None
    resolution_pct: float | None
    setup: dict[str, str] | None
    prediction: str | None
    kind: str
    against: str | None
    unit: str


@dataclass(frozen=True)
class Claim:
    id: str
    workload: str
    metric: str
    direction: str  # "increase" | "decrease"
    lo: float  # claimed change, signed percent (lo == hi for a single value)
    hi: float
    tolerance: float  # percentage points
    source: str = ""
    machine: str = ""
    description: str = ""
    resolution_pct: float | None = None
    absolute: str = ""
    prediction: str = ""
    setup: tuple[tuple[str, str], ...] = ()  # (key, value): what the data must have measured
    line: int | None = None  # of the [[claim]] header, for error messages
    source_path: str = field(default="", compare=False)
    key_lines: tuple[tuple[str, int], ...] = field(default=(), compare=False)
    kind: str = "change"
    against: str = ""  # equivalence: the arm the candidate is compared with ("" = the baseline)

    def line_of(self, key: str) -> int | None:
        """The line of `key = ...` in this claim's table (else its header line)."""
        return dict(self.key_lines).get(key, self.line)

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

    @property
    def unit(self) -> str:
        """What the claimed numbers are in: percent, or the metric's unit per GiB RAM (scaling)."""
        if self.kind != "scaling":
            return "%"
        info = CATALOGUE.get(self.metric)
        return f"{info.unit if info else 'units'}/GiB RAM"

    def claimed_text(self) -> str:
        if self.kind == "equivalence":
            return f"within +-{self.tolerance:g} % of {self.against or 'the baseline'} (equivalence)"
        v = f"{self.lo:+g}..{self.hi:+g} {self.unit}" if self.is_range else f"{self.lo:+g} {self.unit}"
        return f"{v} +-{self.tolerance:g}"

    def as_dict(self) -> Claimed:
        return {
            "value": None if self.is_range else self.lo,
            "range": [self.lo, self.hi] if self.is_range else None,
            "direction": self.direction,
            "band": list(self.band),
            "source": self.source,
            "machine": self.machine,
            "description": self.description,
            "absolute": self.absolute or None,
            "resolution_pct": self.resolution_pct,
            "setup": dict(self.setup) or None,
            "prediction": self.prediction or None,
            "kind": self.kind,
            "against": self.against or None,
            "unit": self.unit,
        }


class _Where:
    """Where a claim sits in its file, so every error names the file, line and claim id."""

    def __init__(self, path: str, header: int | None, keys: dict[str, int]) -> None:
        self.path, self.header, self.keys, self.id = path, header, keys, ""

    def error(self, message: str, key: str | None = None) -> InputError:
        who = f"claim {self.id!r}: " if self.id else "[[claim]]: "
        line = self.keys.get(key, self.header) if key else self.header
        return InputError(who + message, self.path, line)


def _num(v: object, where: _Where, key: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise where.error(f"{key} must be a finite number, not {v!r}", key.split(".")[0])
    return float(v)


def _str(v: object, where: _Where, key: str) -> str:
    if not isinstance(v, str):
        raise where.error(f"{key} must be a string, not {type(v).__name__}", key)
    return v


def _setup(v: object, where: _Where) -> tuple[tuple[str, str], ...]:
    if not isinstance(v, dict) or not all(
        isinstance(x, (str, int, float)) and not isinstance(x, bool) for x in v.values()
    ):
        raise where.error('setup must be a table of simple values, e.g. setup = { crypt = "dm-crypt" }', "setup")
    return tuple(sorted((str(k), str(x)) for k, x in v.items()))


def _claimed(d: dict[str, Any], where: _Where, direction: str) -> tuple[float, float]:
    if ("value" in d) == ("range" in d):
        raise where.error("give exactly one of 'value' or 'range'", "value" if "value" in d else None)
    if "value" in d:
        lo = hi = _num(d["value"], where, "value")
    else:
        r = d["range"]
        if not isinstance(r, list) or len(r) != 2:
            raise where.error("range must be [low, high] in percent", "range")
        lo, hi = sorted(_num(x, where, "range") for x in r)
    sign_ok = (lo > 0 and hi > 0) if direction == "increase" else (lo < 0 and hi < 0)
    if not sign_ok:
        sign = "positive" if direction == "increase" else "negative"
        raise where.error(
            f"a claimed {direction} needs a {sign} value in percent (got {lo:g}..{hi:g})",
            "value" if "value" in d else "range",
        )
    return lo, hi


def parse_claim(d: dict[str, Any], path: str, header: int | None = None, keys: dict[str, int] | None = None) -> Claim:
    """One [[claim]] table; header/keys are its line numbers (see claim_lines)."""
    where = _Where(path, header, keys or {})
    unknown = sorted(set(d) - CLAIM_KEYS)
    if unknown:
        raise where.error(f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(CLAIM_KEYS))})", unknown[0])
    if "id" in d:
        where.id = _str(d["id"], where, "id")
    kind = _str(d.get("kind", "change"), where, "kind")
    if kind not in KINDS:
        raise where.error(f"kind must be one of {', '.join(KINDS)}, not {kind!r}", "kind")
    for k in ("id", "workload", "metric") + (("direction",) if kind != "equivalence" else ()):
        if k not in d:
            raise where.error(f"missing key {k!r}")
    cid = where.id
    if not ID_RE.match(cid):
        raise where.error("id may hold only letters, digits, '.', '_' and '-'", "id")
    if kind == "equivalence":
        direction, lo, hi, tol = "none", 0.0, 0.0, _margin(d, where)
    else:
        direction, lo, hi, tol = _change(d, where, kind)
    res = None
    if "resolution_pct" in d:
        res = _num(d["resolution_pct"], where, "resolution_pct")
        if res <= 0:
            raise where.error("resolution_pct must be > 0", "resolution_pct")
    texts = {
        k: _str(d[k], where, k) if k in d else ""
        for k in ("workload", "metric", "source", "machine", "description", "absolute", "prediction")
    }
    if texts["prediction"] and texts["prediction"] not in PREDICTIONS:
        raise where.error(
            f"prediction must be one of {', '.join(PREDICTIONS)}, not {texts['prediction']!r}", "prediction"
        )
    setup = _setup(d["setup"], where) if "setup" in d else ()
    against = _str(d["against"], where, "against") if "against" in d else ""
    if against and kind != "equivalence":
        raise where.error('against is for kind = "equivalence" (the arm the candidate is compared with)', "against")
    return Claim(
        cid,
        texts["workload"],
        texts["metric"],
        direction,
        lo,
        hi,
        tol,
        texts["source"],
        texts["machine"],
        texts["description"],
        res,
        texts["absolute"],
        prediction=texts["prediction"],
        setup=setup,
        line=header,
        source_path=path,
        key_lines=tuple((keys or {}).items()),
        kind=kind,
        against=against,
    )


def _margin(d: dict[str, Any], where: _Where) -> float:
    """An equivalence claim's margin (percent): given, positive, and instead of a claimed change."""
    for k in ("value", "range", "direction", "tolerance"):
        if k in d:
            raise where.error(f"an equivalence claim gives margin (percent), not {k}", k)
    if "margin" not in d:
        raise where.error("missing key 'margin' (percent: how close counts as on par)")
    m = _num(d["margin"], where, "margin")
    if m <= 0:
        raise where.error("margin must be > 0 percent", "margin")
    return m


def _change(d: dict[str, Any], where: _Where, kind: str) -> tuple[str, float, float, float]:
    """(direction, lo, hi, tolerance) of a change or scaling claim."""
    if "margin" in d:
        raise where.error('margin is for kind = "equivalence"', "margin")
    direction = _str(d["direction"], where, "direction")
    if direction not in ("increase", "decrease"):
        raise where.error(f"direction must be 'increase' or 'decrease', not {direction!r}", "direction")
    lo, hi = _claimed(d, where, direction)
    if "tolerance" in d:
        tol = _num(d["tolerance"], where, "tolerance")
        if tol < 0:
            raise where.error("tolerance must be >= 0 (percentage points, or the slope's unit)", "tolerance")
    else:
        tol = round(DEFAULT_TOLERANCE_REL * min(abs(lo), abs(hi)), 6)
    return direction, lo, hi, tol


_HEADER = re.compile(r"^\s*\[\[\s*claim\s*\]\]")
_TABLE = re.compile(r"^\s*\[")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


def claim_lines(text: str) -> list[tuple[int, dict[str, int]]]:
    """Per [[claim]] table in order: (header line, {key: line}), 1-based.

    tomllib keeps no positions; the claims format is flat, so a scan of
    table headers and `key =` lines finds them (None-safe: callers fall
    back to the file name alone when a claim is written inline).
    """
    out: list[tuple[int, dict[str, int]]] = []
    current: dict[str, int] | None = None
    for n, line in enumerate(text.splitlines(), 1):
        if _HEADER.match(line):
            current = {}
            out.append((n, current))
        elif _TABLE.match(line):
            current = None
        elif current is not None:
            m = _KEY.match(line)
            if m:
                current.setdefault(m.group(1), n)
    return out


def _read(path: str) -> tuple[dict[str, Any], str]:
    """The document and its text (tomllib keeps no positions; claim_lines scans the text)."""
    doc = load_toml(path, "claims file")
    return doc, Path(path).read_text(encoding="utf-8", errors="replace")


BUNDLED_DEFAULT = "bbml2"


def bundled_dirs() -> list[Path]:
    """Where the claims files that ship with benchctl live: the installed package's data/claims (a
    wheel), then the source tree's analysis/claims (a checkout or an editable install)."""
    pkg = Path(__file__).resolve().parents[1]
    return [pkg / "data" / "claims", pkg.parent / "analysis" / "claims"]


def bundled_names() -> list[str]:
    return sorted({p.stem for d in bundled_dirs() if d.is_dir() for p in d.glob("*.toml")})


def resolve_claims(value: str | Path) -> Path:
    """A claims file from what the user typed: a path that exists, or a bundled file by name
    (`bbml2`), or the bundled file a checkout-relative path names (`analysis/claims/bbml2.toml`, as
    printed in hints) when run from elsewhere. InputError (exit 3) names the bundled names."""
    p = Path(value)
    if p.is_file():
        return p
    bare = p.suffix == "" and len(p.parts) == 1
    if bare or p.parts[-3:-1] == ("analysis", "claims"):
        for d in bundled_dirs():
            found = d / (p.name if p.suffix else f"{p.name}.toml")
            if found.is_file():
                return found
    names = ", ".join(bundled_names()) or "none found"
    raise InputError(f"no claims file {str(value)!r}: give a path to a TOML file or a bundled name ({names})")


def load_claims(path: str | Path) -> list[Claim]:
    path = str(resolve_claims(path))
    doc, text = _read(path)
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
    positions: list[tuple[int | None, dict[str, int]]] = list(claim_lines(text))
    if len(positions) != len(items):
        positions = [(None, {})] * len(items)  # written inline: no line numbers
    claims: list[Claim] = []
    seen: dict[str, Claim] = {}
    for d, (header, keys) in zip(items, positions, strict=True):
        c = parse_claim(d, path, header, keys)
        if c.id in seen:
            first = seen[c.id].line_of("id")
            raise InputError(
                f"claim {c.id!r}: duplicate id" + (f" (first at line {first})" if first else ""), path, c.line_of("id")
            )
        seen[c.id] = c
        claims.append(c)
    return claims


def verdict(claim: Claim, low: float, high: float) -> str:
    """The verdict from the interval alone (module doc); Holm is applied by the caller."""
    b_lo, b_hi = claim.band
    overlaps_band = low <= b_hi and high >= b_lo
    if claim.direction == "increase":
        claimed_side, nearer = low > 0, high < b_lo
    else:
        claimed_side, nearer = high < 0, low > b_hi
    includes_zero = low <= 0 <= high
    if claimed_side:
        if overlaps_band:
            return "confirmed"
        return "smaller-than-claimed" if nearer else "larger-than-claimed"
    if not includes_zero:
        return "reversed"
    if overlaps_band:
        return "inconclusive"
    return "not-reproduced"


# The public entry points: what a command, another package or a test may import from here.
__all__ = [
    "Claimed",
    "Claim",
    "BUNDLED_DEFAULT",
    "EFFECT_VERDICTS",
    "EQUIVALENCE_VERDICTS",
    "bundled_names",
    "load_claims",
    "resolve_claims",
    "verdict",
]
