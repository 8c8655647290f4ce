"""The claims the model predicts, as targets: the same claims files analyze judges.

Parsing and validation live in benchctl.claims (one loader for the whole
tool); a Target is what the model needs from a change claim: the claimed
change as a (low, high) pair and which workload access profile predicts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchctl import claims as claims_file
from benchctl.errors import InputError


@dataclass(frozen=True)
class Target:
    """A change claim as the model predicts it (not a second claim type: built from benchctl.claims.Claim)."""

    id: str
    workload: str  # as written in the claims file
    metric: str
    published: tuple[float, float] | None  # claimed change in percent (low, high)
    kind: str  # model workload key ("memcached", "dmcrypt", "seqread", "boot") or ""

    @property
    def published_sign(self) -> int:
        if not self.published:
            return 0
        mid = (self.published[0] + self.published[1]) / 2
        return (mid > 0) - (mid < 0)


def model_kind(workload: str) -> str:
    w = workload.lower()
    if "memcache" in w:
        return "memcached"
    if "crypt" in w or "fio" in w:
        return "dmcrypt"
    if "seq" in w or "xfs" in w:
        return "seqread"
    if "boot" in w or "mem" in w:
        return "boot"
    return ""


def load_targets(path: Path | str | None = None) -> tuple[list[Target], str]:
    """(targets, where their claims came from): the file given (a path or a bundled name), else the bundled bbml2.

    Only claims of a change between two arms: the model predicts no equivalence margin, and a
    scaling claim's model line is drawn by analyze beside the measured sizes (analyze/kinds.py)."""
    path = claims_file.resolve_claims(path or claims_file.BUNDLED_DEFAULT)
    out = [
        Target(c.id, c.workload, c.metric, (c.lo, c.hi), model_kind(c.workload))
        for c in claims_file.load_claims(path)
        if c.kind == "change"
    ]
    if not out:
        raise InputError("no [[claim]] entries found", path)
    return out, str(path)
