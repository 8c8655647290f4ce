"""Was the data measured on the machine a claim was made on?

A claim's `machine` (claims file) is free text as the thread states it:
"AmpereOne, 192 cores, 1 socket, 256 GB, 4 KiB pages". Its CPU name, core
count, RAM and page size are read from it where present and compared with
what the runs' fingerprints recorded: the CPU the kernel was told it runs
on (and whether it was emulated: an emulated AmpereOne is not the claimed
silicon), the CPU count, the RAM ("Memory:" boot line, else MemTotal) and
the page size. Data from another machine is still judged: the verdict then
reads "(other machine)" wherever it is quoted and the checks say on what
machine and on which it was claimed, so a 2 GiB guest's "CONFIRMED" of a
256 GB claim is never read as a reproduction on the claimed hardware.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from benchctl.analyze.resulttypes import ClaimResult
from benchctl.claims import Claim
from benchctl.results.table import BootMeta

MACHINE_PREFIX = "other machine:"
RAM_TOLERANCE = 0.15  # "256 GB" vs the kernel's 247.5 GiB available: units and reservations, not another size


@dataclass(frozen=True)
class Machine:
    cpu: str | None = None
    cores: int | None = None
    ram_bytes: int | None = None
    page_bytes: int | None = None


def parse_claimed(text: str) -> Machine:
    """The facts a claim's machine text states (the first comma-separated part is the CPU)."""
    cores = re.search(r"(\d+)\s*(?:cores|cpus|CPUs)", text)
    ram = re.search(r"(\d+(?:\.\d+)?)\s*(GB|GiB|TB|TiB)\b", text)
    page = re.search(r"(\d+)\s*(?:KiB|K|KB)\s*pages", text)
    first = text.split(",")[0].strip()
    cpu = first if first and not re.match(r"^\d", first) else None
    ram_bytes = None
    if ram:
        scale = {"GB": 10**9, "GiB": 2**30, "TB": 10**12, "TiB": 2**40}[ram.group(2)]
        ram_bytes = int(float(ram.group(1)) * scale)
    return Machine(
        cpu=cpu,
        cores=int(cores.group(1)) if cores else None,
        ram_bytes=ram_bytes,
        page_bytes=int(page.group(1)) * 1024 if page else None,
    )


def describe(boots: list[BootMeta]) -> str:
    """The measured machine in the words of a claim's machine text."""
    cpus = sorted({b.cpu_identity for b in boots if b.cpu_identity})
    parts = [" / ".join(cpus) or "unknown CPU"]
    counts = sorted({b.cpu_count for b in boots if b.cpu_count})
    if counts:
        parts.append(f"{'/'.join(map(str, counts))} CPUs")
    rams = sorted({b.ram_kb for b in boots if b.ram_kb})
    if rams:
        parts.append(f"{rams[-1] / 2**20:.3g} GiB")
    pages = sorted({b.page_size for b in boots if b.page_size})
    if pages:
        parts.append(f"{'/'.join(str(p // 1024) for p in pages)} KiB pages")
    return ", ".join(parts)


def differences(claimed: Machine, boots: list[BootMeta]) -> list[str]:
    """What the data's machine does not share with the claimed one (empty: the same, as far as known)."""
    out = []
    if claimed.cpu:
        names = {b.cpu_identity or "" for b in boots}
        if not any(claimed.cpu.lower() in n.lower() for n in names if n):
            out.append("CPU")
        elif any(b.emulated for b in boots):
            how = sorted({b.emulation_how or "an emulator" for b in boots if b.emulated})
            out.append(f"CPU ({', '.join(how)}, not the silicon)")
    counts = {b.cpu_count for b in boots if b.cpu_count}
    if claimed.cores and counts and counts != {claimed.cores}:
        out.append("cores")
    rams = [b.ram_kb * 1024 for b in boots if b.ram_kb]
    if claimed.ram_bytes and rams and abs(max(rams) / claimed.ram_bytes - 1) > RAM_TOLERANCE:
        out.append("RAM")
    pages = {b.page_size for b in boots if b.page_size}
    if claimed.page_bytes and pages and pages != {claimed.page_bytes}:
        out.append("page size")
    return out


def checks(claims: list[Claim], judged: list[ClaimResult], boots: list[BootMeta]) -> list[str]:
    """One check per claimed machine the data differs from; each claim on it carries the same
    warning (read by report.common.verdict_word)."""
    if not boots or all(b.source == "csv" for b in boots):
        return []
    here = describe(boots)
    out: list[str] = []
    by_text: dict[str, str] = {}
    for c in claims:
        text = (c.machine or "").strip()
        if not text:
            continue
        if text not in by_text:
            diff = differences(parse_claimed(text), boots)
            by_text[text] = (
                f"{MACHINE_PREFIX} differs in {', '.join(diff)}; measured on {here}, claimed on {text}; "
                "the verdicts say what the change does on this machine"
                if diff
                else ""
            )
            if by_text[text]:
                out.append(by_text[text])
        warning = by_text[text]
        if warning:
            for row in judged:
                if row["id"] == c.id and warning not in row["warnings"]:
                    row["warnings"].append(warning)
    return out
