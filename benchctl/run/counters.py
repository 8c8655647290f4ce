"""Hardware counters around the measured window (`perf stat`): which events, whether perf runs here, the result.

`perf stat -x, -a -o FILE -e EVENTS -- CMD` counts system-wide for the
lifetime of CMD (for memcached: the load generator, so the server's kernel
work is included). The event set follows the CPU (benchctl.parsers.perf_events):
arm64 architected TLB-walk events with :k, x86 dTLB walks, or software
events when the host has no hardware PMU. Problems are said once per run
(no perf, paranoid too high, no PMU) and never turn into zeros or failures.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from benchctl.parsers.perf_events import ARM64, ARM64_CODES, SOFTWARE, EventSet, event_set

PERF_FILE = "perf-stat.csv"


@dataclass
class CounterSetup:
    """How this run counts: perf on or off, the event set, and why (warnings said once per run)."""

    enabled: bool
    events: EventSet
    pmu: bool
    warnings: list[str] = field(default_factory=list)
    perf: str = "perf"
    # metric -> why it is not counted here (an event the CPU's PMU does not implement): never a 0
    unsupported: dict[str, str] = field(default_factory=dict)

    def wrap(self, argv: list[str], out_file: Path) -> list[str]:
        """argv under perf stat (or argv unchanged when perf is off)."""
        if not self.enabled:
            return list(argv)
        return [self.perf, "stat", "-x,", "-a", "-o", str(out_file), *self.events.perf_args(), "--", *argv]

    def to_json(self) -> dict:
        return {
            "enabled": self.enabled,
            "event_set": self.events.name,
            "events": list(self.events.events),
            "pmu": self.pmu,
            "warnings": self.warnings,
            "unsupported": self.unsupported,
        }


def pmu_present(sys_root: Path = Path("/sys")) -> bool:
    """A hardware CPU PMU registered with perf (x86 `cpu`/`cpu_core`, arm64 `armv8_*`/`arm_*pmu*`)."""
    d = sys_root / "bus/event_source/devices"
    if not d.is_dir():
        return False
    for p in d.iterdir():
        n = p.name
        if (
            n in ("cpu", "cpu_core", "cpu_atom")
            or n.startswith("armv8")
            or n.startswith("armv9")
            or ("pmu" in n and n.startswith("arm"))
        ):
            return True
    return False


def advertised_arm64_events(sys_root: Path = Path("/sys")) -> dict[str, set[int]]:
    """arm PMU name -> the event codes its sysfs `events/` lists.

    Why: the arm64 PMU driver accepts any raw event number, and a counter for an
    event the CPU does not implement simply never moves, so `perf stat -e r34:k`
    reports 0, not <not supported> (seen under qemu TCG, whose PMU implements
    CPU_CYCLES and little else). The kernel lists in `events/` only the common
    events the CPU's PMCEID0/1 registers say it counts, so that list is what
    tells a real 0 from an event that is not there. PMUs without an `events/`
    folder are left out (nothing is known about them)."""
    out: dict[str, set[int]] = {}
    d = sys_root / "bus/event_source/devices"
    if not d.is_dir():
        return out
    for pmu in sorted(d.iterdir()):
        ev = pmu / "events"
        if not (pmu.name.startswith(("armv8", "armv9")) or pmu.name.startswith("arm") and "pmu" in pmu.name):
            continue
        if not ev.is_dir():
            continue
        codes = set()
        for f in ev.iterdir():
            m = re.search(r"event=(0x[0-9a-fA-F]+|\d+)", f.read_text(errors="replace"))
            if m:
                codes.add(int(m.group(1), 0))
        if codes:
            out[pmu.name] = codes
    return out


def split_unsupported(events: EventSet, advertised: dict[str, set[int]]) -> tuple[EventSet, dict[str, str]]:
    """(the events to count, metric -> reason) for the arm64 raw set: an event no arm PMU advertises is
    recorded as unsupported with the reason and not passed to perf, whose count of it would be 0."""
    if events.name != ARM64.name or not advertised:
        return events, {}
    have = set().union(*advertised.values())
    names = {code: name for name, code in ARM64_CODES.items()}
    pmus = ", ".join(sorted(advertised))
    keep, unsupported = [], {}
    for ev in events.events:
        code = int(ev.split(":")[0][1:], 16)
        if code in have:
            keep.append(ev)
            continue
        unsupported[events.mapping[ev]] = (
            f"{names.get(code, hex(code))} (event {code:#x}) is not implemented by this CPU's PMU: "
            f"{pmus} does not list it in sysfs events/ (the CPU's PMCEID registers); perf would count 0"
        )
    return events.only(keep), unsupported


def configure(fp: dict, *, enabled: bool = True, sys_root: Path = Path("/"), probe: bool = True) -> CounterSetup:
    """Decide once per run whether and how perf runs; the warnings are recorded once in run.json."""
    arch = (fp.get("host") or {}).get("arch") or os.uname().machine
    pmu = pmu_present(Path(sys_root) / "sys")
    events, unsupported = split_unsupported(event_set(arch, pmu), advertised_arm64_events(Path(sys_root) / "sys"))
    if not enabled:
        return CounterSetup(False, events, pmu, ["perf disabled (--no-perf)"])
    perf = shutil.which("perf")
    if perf is None:
        return CounterSetup(
            False, events, pmu, ["perf is not installed (Debian package linux-perf): running without perf counters"]
        )
    paranoid = (fp.get("tuning") or {}).get("perf_event_paranoid")
    if os.geteuid() != 0 and isinstance(paranoid, int) and paranoid > 0:
        return CounterSetup(
            False,
            events,
            pmu,
            [
                f"kernel.perf_event_paranoid is {paranoid} and benchctl is not root: "
                "system-wide counting (-a) needs <= 0; running without perf counters"
            ],
        )
    warnings = []
    if unsupported:
        warnings.append(
            f"the CPU's PMU does not implement {', '.join(sorted(unsupported))}: recorded as unsupported "
            "(run.json perf.unsupported), never as 0; no TLB-walk MPKI from them"
        )
    if not pmu:
        warnings.append(
            f"no hardware PMU on this host ({arch}): perf counts software events only; no TLB-walk or MPKI metrics"
        )
    if probe:
        ok, why = _probe(perf, ["task-clock"])
        if not ok:
            return CounterSetup(
                False, events, pmu, [f"perf stat does not work here ({why}): running without perf counters"]
            )
        if events is not SOFTWARE and not _probe(perf, list(events.events))[0]:
            # perf rejects the whole command for one unknown event name (e.g. Intel names on AMD)
            usable = tuple(e for e in events.events if _probe(perf, [e])[0])
            dropped = [e for e in events.events if e not in usable]
            warnings.append(f"perf does not accept {', '.join(dropped)} on this CPU; counting without them")
            events = events.only(usable)
    return CounterSetup(True, events, pmu, warnings, perf, unsupported)


def _probe(perf: str, events: list[str]) -> tuple[bool, str]:
    """Does `perf stat -a -e EVENTS -- true` run? (A not-supported event still runs; a bad name does not.)"""
    try:
        p = subprocess.run(
            [perf, "stat", "-x,", "-a", "-e", ",".join(events), "--", "true"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    return p.returncode == 0, " ".join((p.stderr or p.stdout).strip().splitlines()[-1:])


def read(out_file: Path) -> tuple[list, list[str], dict]:
    """(measurements, warnings, info) from a perf stat -x, -o file; a missing file is a warning."""
    from benchctl.parsers import ParseError
    from benchctl.parsers.perf_stat import parse_csv

    try:
        text = Path(out_file).read_text(errors="replace")
    except OSError as e:
        return [], [f"perf output {out_file.name} missing ({e.strerror})"], {}
    try:
        res = parse_csv(text)
    except ParseError as e:
        return [], [f"perf output {out_file.name} not parsed: {e}"], {}
    return res.measurements, res.warnings, res.info


__all__ = ["PERF_FILE", "CounterSetup", "configure", "pmu_present", "read", "SOFTWARE"]
