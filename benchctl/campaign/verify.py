"""Is the boot that came up the arm the plan asked for?

Runs on the host (`benchctl campaign verify`, a playbook task) right after
the reboot and before anything is measured, so a wrong-arm boot stops that
host and is never recorded under the wrong label. It compares the host's
fingerprint (`benchctl env --format json`, the same collector) with the arm's
expectation from plan.json: kernel release, the planned command-line
parameters (last occurrence wins, as in the kernel), rodata's effective
mode and the linear-map state. An expectation of None is not checked and
is listed as such, so nobody mistakes "not checked" for "matched".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from benchctl.documents import get
from benchctl.env.arm64.expected import parse_cmdline

VERIFY_FORMAT = "benchctl-campaign-verify/1"


@dataclass
class Verification:
    arm: str
    boot_id: str | None
    mismatches: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)
    observed: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def line(self) -> str:
        """One line for the console and the progress file."""
        boot = (self.boot_id or "unknown")[:8]
        o = self.observed
        where = (
            f"release {o.get('release')}, rodata {o.get('rodata')}, linear map {o.get('linear_map')}"
            f" ({o.get('linear_map_source')})"
        )
        if self.ok:
            extra = f"; not checked: {', '.join(self.unchecked)}" if self.unchecked else ""
            return f"boot {boot} is arm {self.arm}: {where}{extra}"
        return f"boot {boot} is not arm {self.arm}: {'; '.join(self.mismatches)} ({where})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": VERIFY_FORMAT,
            "arm": self.arm,
            "ok": self.ok,
            "boot_id": self.boot_id,
            "mismatches": self.mismatches,
            "unchecked": self.unchecked,
            "observed": self.observed,
        }


def cmdline_mismatches(tokens: list[str], actual: str | None) -> list[str]:
    """Each planned parameter must be on the booted command line with the same value (last one wins);
    bootloaders may add their own (BOOT_IMAGE=, initrd=), so extra parameters are fine."""
    params = parse_cmdline(actual)
    out = []
    for token in tokens:
        name, eq, value = token.partition("=")
        if name not in params:
            out.append(f"command line lacks {token}")
        elif eq and params[name] != value or not eq and params[name] is not None:
            out.append(f"command line has {name}={params[name]}, planned {token}")
    return out


def verify(fp: dict, arm: str, expect: dict[str, Any]) -> Verification:
    """Compare a fingerprint with an arm's expectation (plan.json arms.ARM.expect)."""
    v = Verification(arm=arm, boot_id=get(fp, "boot.id"))
    v.observed = {
        "release": get(fp, "kernel.release"),
        "cmdline": get(fp, "kernel.cmdline"),
        "rodata": get(fp, "rodata.effective"),
        "linear_map": get(fp, "linear_map.state"),
        "linear_map_source": get(fp, "linear_map.source"),
        "boot_id": v.boot_id,
        "mem_total_kb": get(fp, "memory.total_kb"),
        "mem_free_kb": get(fp, "memory.free_kb"),
        # The CPU identity (checked against expect.midr), the BBML2 line (expect.bbml2) and
        # whether the CPU was silicon or emulated (recorded).
        "midr": get(fp, "cpu.midr"),
        "bbml2_dmesg": get(fp, "cpu.bbml2_dmesg"),
        "emulation": get(fp, "host.emulation"),
    }
    if not v.boot_id:
        v.mismatches.append("no boot id (/proc/sys/kernel/random/boot_id unreadable): the boot cannot be told apart")
    tokens = expect.get("cmdline") or []
    if not tokens:
        v.unchecked.append("command line")
    elif v.observed["cmdline"] is None:
        v.mismatches.append("command line unreadable (/proc/cmdline)")
    else:
        v.mismatches += cmdline_mismatches(tokens, v.observed["cmdline"])
    source = f" ({v.observed['linear_map_source']})"
    for key, name, shown in (
        ("release", "kernel release", ""),
        ("rodata", "rodata.effective", ""),
        ("linear_map", "linear_map.state", source),
    ):
        want = expect.get(key)
        if want is None:
            v.unchecked.append(name)
        elif v.observed[key] != want:
            v.mismatches.append(f"{name} is {v.observed[key]}{shown}, planned {want}")
    v.mismatches += identity_mismatches(v, expect)
    return v


def identity_mismatches(v: Verification, expect: dict[str, Any]) -> list[str]:
    """The arm's CPU identity (every CPU's MIDR), its kernel-log BBML2 line and how the linear map
    was seen: an arm that differs by CPU is only that arm if the kernel read the planned MIDR on
    every CPU, and a linear-map state is only evidence if it was observed, not inferred."""
    out = []
    want = expect.get("midr")
    if want is None:
        v.unchecked.append("MIDR")
    else:
        midrs = sorted({str(m.get("value")) for m in v.observed.get("midr") or [] if isinstance(m, dict)})
        if midrs != [want]:
            out.append(f"MIDR is {', '.join(midrs) or 'unknown'}, planned {want} on every CPU")
    want = expect.get("bbml2")
    if want is None:
        v.unchecked.append("BBML2 line")
    elif v.observed.get("bbml2_dmesg") is not (want == "yes"):
        line = {True: "present", False: "absent", None: "unknown"}[v.observed.get("bbml2_dmesg")]
        out.append(f"kernel log BBML2 line is {line}, planned {'present' if want == 'yes' else 'absent'}")
    want = expect.get("linear_map_source")
    if want is None:
        v.unchecked.append("linear_map.source")
    elif v.observed["linear_map_source"] != want:
        out.append(f"linear_map.source is {v.observed['linear_map_source']}, planned {want}")
    return out
