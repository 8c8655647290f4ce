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
    return v
