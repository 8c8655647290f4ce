"""What makes a step bad: an observed fact of the fingerprint, or a kernel-log pattern.

    fact:linear_map.state=block        bad when env-before.json says so on every boot of the step
    log:BUG: sleeping function called  bad when the boot's kernel log has a line matching the regex
    claim:boot-memory-total            bad when the claim's change is present against the first
                                       (good) kernel's boots (bisect/claim.py), good when absent

A step is good when no boot meets the criterion, bad when every boot does, and skipped (git
bisect's 125) when the boots disagree or a boot carries no evidence either way (the fact was not
observed, the log could not be read): a bisection decides on evidence, never on its absence.
Each boot's evidence is one short line (the value and how it was seen, or the first matching
log line), kept in the bisect log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from benchctl.campaign.measure import BOOT_LOG
from benchctl.documents import get, load_json
from benchctl.errors import InputError, UsageError

KINDS = ("fact", "log", "claim")


@dataclass(frozen=True)
class Criterion:
    kind: str  # fact | log | claim
    key: str = ""  # fact: dotted fingerprint key; claim: the claim id
    value: str = ""  # fact: the bad value; claim: the claims file
    pattern: str = ""  # log: a regular expression

    def text(self) -> str:
        if self.kind == "claim":
            return f"claim {self.key} present (vs the first kernel)"
        return f"{self.key} == {self.value}" if self.kind == "fact" else f"kernel log matches /{self.pattern}/"

    def as_dict(self) -> dict:
        return {"kind": self.kind, "key": self.key, "value": self.value, "pattern": self.pattern}


def parse(text: str, claims_file: str | None = None) -> Criterion:
    """`fact:KEY=VALUE`, `log:REGEX` or `claim:ID` (with a claims file); UsageError naming the fix."""
    kind, colon, rest = text.partition(":")
    if not colon or kind not in KINDS or not rest:
        raise UsageError(
            f"--bad-if {text!r}: give fact:KEY=VALUE (e.g. fact:linear_map.state=block), log:REGEX "
            "(e.g. 'log:BUG: sleeping function called from invalid context') or claim:ID (with --claims)"
        )
    if kind == "claim":
        from benchctl.claims import load_claims, resolve_claims

        path = str(resolve_claims(claims_file or "bbml2"))
        ids = [c.id for c in load_claims(path)]
        if rest not in ids:
            raise UsageError(f"--bad-if {text!r}: no claim {rest!r} in {path} ({', '.join(ids)})")
        return Criterion("claim", key=rest, value=path)
    if kind == "fact":
        key, eq, value = rest.partition("=")
        if not eq or not key.strip() or not value.strip() or "." not in key:
            raise UsageError(f"--bad-if {text!r}: a fact is KEY=VALUE with a dotted `benchctl env` key")
        return Criterion("fact", key=key.strip(), value=value.strip())
    try:
        re.compile(rest)
    except re.error as e:
        raise UsageError(f"--bad-if {text!r}: not a regular expression ({e})") from None
    return Criterion("log", pattern=rest)


def from_dict(d: dict) -> Criterion:
    return Criterion(d["kind"], d.get("key", ""), d.get("value", ""), d.get("pattern", ""))


@dataclass(frozen=True)
class BootEvidence:
    boot_id: str
    bad: bool | None  # None: no evidence either way
    line: str


def fact_of(boot_dir: Path, key: str) -> tuple[str | None, str]:
    """(value, source) of a fingerprint key in the boot's first run's env-before.json."""
    for env in sorted(boot_dir.glob("runs/*/*/env-before.json")):
        try:
            doc = load_json(env)
        except InputError:
            continue
        v = get(doc, key)
        if v is not None:
            section = key.split(".", 1)[0]
            src = get(doc, f"{section}.source")
            return str(v), f" ({src})" if isinstance(src, str) else ""
    return None, ""


def judge_boot(c: Criterion, boot_dir: Path, boot_id: str) -> BootEvidence:
    """One boot's evidence (boot_dir: boots/HOST/NNN-ARM/ of a step's campaign folder)."""
    short = boot_id[:8]
    if c.kind == "fact":
        v, src = fact_of(boot_dir, c.key)
        if v is None:
            return BootEvidence(boot_id, None, f"{short}: {c.key} not observed")
        return BootEvidence(boot_id, v == c.value, f"{short}: {c.key.rsplit('.', 1)[-1]}={v}{src}")
    log = boot_dir / BOOT_LOG
    if not log.is_file():
        return BootEvidence(boot_id, None, f"{short}: no kernel log saved")
    rx = re.compile(c.pattern)
    hit = next((ln for ln in log.read_text(errors="replace").splitlines() if rx.search(ln)), None)
    return BootEvidence(boot_id, hit is not None, f"{short}: " + (hit.strip()[:160] if hit else "no match"))


def decide(evidence: list[BootEvidence]) -> str:
    """good | bad | skip (module doc)."""
    seen = {e.bad for e in evidence}
    if not evidence or None in seen or len(seen) > 1:
        return "skip"
    return "bad" if seen == {True} else "good"
