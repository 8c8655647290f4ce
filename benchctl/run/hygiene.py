"""Confounders worth a warning before a run (they do not stop it).

A CPU governor that is not `performance`, THP left at `always`, another
benchctl or a busy process on the host, or too little free memory for the
preset each move the numbers by more than the effects being judged; the
warnings go into run.json so analyze and reviewers see them too.
"""

from __future__ import annotations

import os

from benchctl.documents import get

HEAVY_CPU_PCT = 50.0


def from_fingerprint(fp: dict, min_memory_mb: int) -> list[str]:
    """Warnings derived from the fingerprint alone (pure; tested on recorded fingerprints)."""
    out = []
    gov = get(fp, "tuning.governor")
    if isinstance(gov, dict) and gov:
        slow = sorted({v for v in gov.values() if v != "performance"})
        if slow:
            out.append(f"CPU frequency governor is {', '.join(map(str, slow))}, not performance: "
                       "set it (cpupower frequency-set -g performance) on both arms")
    elif gov is None:
        out.append("CPU frequency governor unknown (no cpufreq): frequency is not under benchctl's control")
    thp = get(fp, "tuning.thp_enabled")
    if thp == "always":
        out.append("transparent hugepages are 'always': user memory is THP-backed; keep the same setting on both arms")
    elif thp is None:
        out.append("transparent hugepage setting unknown")
    avail = get(fp, "memory.available_kb")
    if isinstance(avail, (int, float)) and min_memory_mb and avail < min_memory_mb * 1024:
        out.append(f"only {avail // 1024} MiB of memory available, the preset wants {min_memory_mb} MiB: "
                   "expect swapping or an OOM kill")
    return out


def other_processes(sample_s: float = 0.2) -> list[str]:
    """Other benchctl runs and processes using more than half a CPU (psutil)."""
    import time

    import psutil

    me = os.getpid()
    ancestors = set()
    try:
        p = psutil.Process(me)
        while p is not None:
            ancestors.add(p.pid)
            p = p.parent()
    except psutil.Error:
        pass
    out = []
    procs = []
    for p in psutil.process_iter(["pid", "name", "cmdline"]):
        if p.info["pid"] in ancestors:
            continue
        argv = p.info.get("cmdline") or []
        cmd = " ".join(argv)
        if is_benchctl_run(argv):
            out.append(f"another benchctl run is active (pid {p.info['pid']}: {cmd[:80]})")
        try:
            p.cpu_percent(None)
            procs.append(p)
        except psutil.Error:
            pass
    time.sleep(sample_s)
    for p in procs:
        try:
            pct = p.cpu_percent(None)
        except psutil.Error:
            continue
        if pct >= HEAVY_CPU_PCT:
            out.append(f"busy process: pid {p.pid} ({p.info['name']}) used {pct:.0f}% CPU while benchctl started")
    return out


def is_benchctl_run(argv: list[str]) -> bool:
    """`benchctl run ...` or `python -m benchctl run ...` (not any command line that mentions benchctl)."""
    for i, a in enumerate(argv[:4]):
        program = os.path.basename(a) == "benchctl" and (
            i == 0 or (i == 1 and os.path.basename(argv[0]).startswith("python")))
        module = a == "benchctl" and i > 0 and argv[i - 1] == "-m"
        if program or module:
            return "run" in argv[i + 1:i + 2]
    return False


def check(fp: dict, min_memory_mb: int) -> list[str]:
    return from_fingerprint(fp, min_memory_mb) + other_processes()
