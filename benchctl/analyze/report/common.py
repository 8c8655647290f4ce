"""Pieces every report format shares."""

from __future__ import annotations

import math
from typing import Any

from benchctl.analyze.checks import CONFOUND_PREFIX
from benchctl.analyze.emulation import CHECK_PREFIX, headline
from benchctl.analyze.machine import MACHINE_PREFIX
from benchctl.analyze.resulttypes import Analysis, ArmDesign, ClaimResult, Decide, Row
from benchctl.analyze.sameness import EXACT_TEXT

BANNER = "SIMULATED DATA - model output, not a measurement"


def pct(x: float | None, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    return f"{x:+.{digits}f}"


def ci(c: list[float] | None, digits: int = 2) -> str:
    if not c:
        return "[n/a]"
    return f"[{pct(c[0], digits)}, {pct(c[1], digits)}]"


def unit_of(item: Row) -> str:
    """What a claim row's change is in: '%', or a scaling claim's slope unit ('kB/GiB RAM')."""
    return (item["claimed"]["unit"] or "%") if "claimed" in item else "%"


def change(item: Row) -> str:
    """A comparison's or claim's change and interval: '+1.23 % [+0.50, +2.00]', or '+0.200 % exact'
    (a scaling claim: '+2041 kB/GiB RAM [+2010, +2072]')."""
    unit = unit_of(item)
    if unit != "%":
        return f"{pct(item['change_pct'], 0)} {unit} {ci(item['ci_pct'], 0)}"
    if item.get("exact"):
        return f"{pct(item['change_pct'], 3)} % exact"
    return f"{pct(item['change_pct'])} % {ci(item['ci_pct'])}"


def exact_values_line(item: Row, baseline: str, candidate: str, unit: str) -> str:
    """What an exact change rests on, in the data's own unit (the values are exact: no rounding)."""
    e = item["exact"]
    assert e is not None, "only an exact change has exact values"
    b, c = e["baseline"], e["candidate"]

    def v(x: float) -> str:
        return (f"{int(x)}" if float(x).is_integer() else f"{x:.6g}") + (f" {unit}" if unit else "")

    return f"{EXACT_TEXT}: {baseline} {v(b)}, {candidate} {v(c)} ({'+' if c >= b else '-'}{v(abs(c - b))})"


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


# Parameters that name the boot, not the kernel configuration under test.
_BOOT_NOISE = ("BOOT_IMAGE=", "initrd=", "root=", "console=")


def arm_line(d: ArmDesign, kernel: str, say_emulated: bool = True) -> str:
    """What one arm was: release, CPU identity (emulated or not: left to the header when it says
    so for every boot), linear map and how it was seen, boot method. Unknown facts are left out."""
    parts = [kernel]
    if d.get("cpus"):
        cpu = "CPU " + "; ".join(d["cpus"])
        shown = d.get("emulated") and say_emulated
        parts.append(cpu + (f", emulated ({', '.join(d['emulated'])})" if shown else ""))
    if d.get("linear_map"):
        seen = ", ".join(s.replace("(", "").replace(")", "") for s in d.get("linear_map_source", []))
        src = f" ({seen})" if seen else ""
        parts.append(f"linear map {', '.join(d['linear_map'])}{src}")
    if d.get("boot_methods"):
        parts.append(f"boots by {', '.join(d['boot_methods'])}")
    return "; ".join(parts)


def cmdline_diff(base: list[str], cand: list[str], b: str, c: str) -> str | None:
    """The kernel command-line parameters one arm's boots have and the other's lack (None when no
    command line was recorded), e.g. "block +rodata=full; pte +rodata=on"."""
    if not base or not cand:
        return None

    def params(lines: list[str]) -> set[str]:
        return {w for line in lines for w in line.split() if not w.startswith(_BOOT_NOISE)}

    pb, pc = params(base), params(cand)
    only = [(c, sorted(pc - pb)), (b, sorted(pb - pc))]
    text = "; ".join(f"{arm} " + " ".join("+" + w for w in ws) for arm, ws in only if ws)
    return text or "the same on both arms"


def decide_design(dec: Decide) -> str:
    """A claim's deciding design in words: "12 boots x 1 iteration"."""
    from benchctl.human import count

    return f"{count(dec.get('boots_per_arm') or 0, 'boot')} x {count(dec.get('iterations_per_boot') or 0, 'iteration')}"


def _every_boot_emulated(result: Analysis) -> bool:
    em = result["emulated"]
    return em is not None and em["boots"] == em["of"]


def header_facts(result: Analysis) -> dict[str, Any]:
    """Hosts, kernels and the design (boots x iterations per arm, one notation) for a report header."""
    from benchctl.analyze.report.units import design as notation

    d = result["design"]
    b, c = result["baseline"], result["candidate"]
    hosts = sorted(set(d[b]["hosts"]) | set(d[c]["hosts"]))
    kernels = {a: (", ".join(d[a]["kernels"]) or "unknown") for a in (b, c)}
    design = {a: notation(d[a]["boots"], iterations=d[a]["iterations_per_boot"]) for a in (b, c)}
    counted = []
    if any(d[a].get("imported") for a in (b, c)):
        counted.append("imported runs without --boot count as one boot each")
    if any(d[a].get("unknown_host") for a in (b, c)):
        counted.append("host 'unknown' where none was given")
    return {
        "hosts": ", ".join(hosts) or "unknown",
        "compared": {a: arm_line(d[a], kernels[a], not _every_boot_emulated(result)) for a in (b, c)},
        "cmdline_diff": cmdline_diff(d[b].get("cmdlines", []), d[c].get("cmdlines", []), b, c),
        "kernels": kernels,
        "design": design,
        "design_text": f"{b} {design[b]}, {c} {design[c]} (boots x iterations)",
        "counted": "; ".join(counted),
    }


def emulation_line(result: Analysis) -> str | None:
    """'emulated CPU (qemu TCG) on every boot: timing claims not judged', for the
    first lines of every report; None when no fingerprint says a boot was emulated."""
    em = result.get("emulated")
    return headline(em) if em else None


def is_emulation_check(check: str) -> bool:
    """The emulation check, which a report whose header already says it may leave out."""
    return check.startswith(CHECK_PREFIX)


def verdict_word(claim: ClaimResult) -> str:
    """The verdict as printed: upper case; 'not-judged' reads NOT JUDGED. A verdict between two
    kernel releases carries "(release confound)" wherever it is quoted: it judges the releases,
    not only the change (checks.releases); one from another machine than the claim's carries
    "(other machine)" (analyze.machine)."""
    word = claim["verdict"].upper().replace("NOT-JUDGED", "NOT JUDGED")
    if claim["verdict"] == "not-judged":
        return word
    warnings = claim.get("warnings", [])
    if any(w.startswith(CONFOUND_PREFIX) for w in warnings):
        word += " (release confound)"
    if any(w.startswith(MACHINE_PREFIX) for w in warnings):
        word += " (other machine)"
    return word


def reason(claim: ClaimResult) -> str | None:
    """Why a claim was not judged (its first warning), without the prefix."""
    w = claim["warnings"][:1]
    if claim["verdict"] == "not-judged" and w and w[0].startswith("not judged: "):
        return w[0][len("not judged: ") :]
    return None
