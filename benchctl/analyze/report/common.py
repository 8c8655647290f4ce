"""Pieces every report format shares."""

from __future__ import annotations

import math

BANNER = "SIMULATED DATA - model output, not a measurement"


def pct(x: float | None, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:+.{digits}f}"


def ci(c: list[float] | None, digits: int = 2) -> str:
    if not c:
        return "[n/a]"
    return f"[{pct(c[0], digits)}, {pct(c[1], digits)}]"


def pval(p: float | None) -> str:
    if p is None:
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def num(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    a = abs(x)
    if a >= 1e6 or (a < 1e-3 and a != 0):
        return f"{x:.4g}"
    if a >= 100:
        return f"{x:,.1f}"
    return f"{x:.4g}"


class Footnotes:
    """Numbered, de-duplicated warnings: results cite [n], the list comes last."""

    def __init__(self, already_shown: list[str] | None = None) -> None:
        self.items: list[str] = []
        self.skip = set(already_shown or [])

    def refs(self, warnings: list[str]) -> str:
        nums = []
        for w in warnings:
            if w in self.skip:
                continue  # a design check, printed once before the numbers
            if w not in self.items:
                self.items.append(w)
            nums.append(self.items.index(w) + 1)
        return "".join(f"[{n}]" for n in sorted(set(nums)))


def header_facts(result: dict) -> dict:
    d = result["design"]
    b, c = result["baseline"], result["candidate"]
    hosts = sorted(set(d[b]["hosts"]) | set(d[c]["hosts"]))
    kernels = {a: (", ".join(d[a]["kernels"]) or "unknown") for a in (b, c)}
    design = {a: f"{d[a]['boots']} boots x {d[a]['iterations_per_boot']} iterations" for a in (b, c)}
    return {"hosts": ", ".join(hosts) or "unknown", "kernels": kernels, "design": design}


ONE_BOOT_PREFIX = "VERDICT FROM ITERATIONS OF ONE BOOT"


def verdict_word(claim: dict) -> str:
    """The verdict, with the one-boot caveat glued to it where it applies."""
    word = claim["verdict"].upper()
    if any(w.startswith(ONE_BOOT_PREFIX) for w in claim["warnings"]):
        word += " (ONE BOOT ONLY)"
    return word
