"""tlb-probe output (benchctl's own native probe, benchctl/run/drivers/tlb_probe.c).

Format, one record per line, `kind key=value ...` (a value with spaces is
double-quoted), first line `tlb-probe 1`:

    tlb-probe 1
    config size=536870912 reps=5 seed=1 chase_steps=1048576 page=4096 line=64 ring=65536
    arm name=4k status=ok bytes=536870912 anon_huge_kb=0 kernel_page_kb=4
    arm name=hugetlb status=unavailable reason="mmap(MAP_HUGETLB, 2048 kB): ..."
    counter name=cycles status=unsupported errno=2 (No such file or directory)
    sample rep=0 pos=0 arm=4k kernel=chase ops=1048576 ns=346552098 ns_per_op=330.498 [cycles=N ...]
    done

`parse` returns one iteration's measurements: per kernel and arm the median
time per operation over the repetitions (`probe_<kernel>_ns_<arm>`), and
per huge-page arm the paired penalty of 4 KiB pages, the median over
repetitions of (4 KiB time - that arm's time) from the same repetition
(`probe_<kernel>_penalty_ns_<arm>`). Medians, because a repetition that
another process preempted is an outlier, not information about the TLB. The individual samples stay in
`info["samples"]` for benchctl model calibrate, which needs every
repetition for its standard errors.
"""

from __future__ import annotations

import re
import shlex
from statistics import median
from typing import Any

from benchctl.parsers import Measurement, ParseError, ParseResult
from benchctl.parsers.textutil import guarded, lines, to_float

KERNELS = ("chase", "seqcopy", "randcopy")
ARMS = ("4k", "thp", "hugetlb", "hugetlb1g")
HUGE_ARMS = ARMS[1:]
MIN_HUGE_SHARE = 0.9  # a THP arm with less of its buffer in huge pages is not a huge-page arm
_KEY = re.compile(r"^[a-z_0-9]+$")


def _fields(rest: str, lineno: int) -> dict[str, str]:
    try:
        words = shlex.split(rest)
    except ValueError as e:
        raise ParseError(f"line {lineno}: unreadable record ({e})") from None
    out: dict[str, str] = {}
    key = None
    for w in words:
        k, sep, v = w.partition("=")
        if sep and _KEY.match(k):
            out[k] = v
            key = k
        elif key is not None:  # "unsupported errno=2 (No such file or directory)": words after a value
            out[key] += " " + w
        else:
            out.setdefault("_", "")
            out["_"] = (out["_"] + " " + w).strip()
    return out


def _int(fields: dict[str, str], key: str, lineno: int) -> int:
    v = fields.get(key, "")
    if not v.isascii() or not v.isdigit():
        raise ParseError(f"line {lineno}: expected an integer {key}=, got {v!r}")
    return int(v)


@guarded
def parse(text: str) -> ParseResult:
    """Measurements of one tlb-probe run (one engine iteration)."""
    rows = [(n, r) for n, r in enumerate((ln.strip() for ln in lines(text)), 1) if r]
    if not rows or rows[0][1] != "tlb-probe 1":
        raise ParseError("not tlb-probe output (first line 'tlb-probe 1' expected)")
    config: dict[str, Any] = {}
    arms: dict[str, dict[str, Any]] = {}
    counters: dict[str, str] = {}
    samples: list[dict[str, Any]] = []
    warnings: list[str] = []
    done = False
    for n, row in rows[1:]:
        kind, _, rest = row.partition(" ")
        f = _fields(rest, n)
        if kind == "config":
            config = {k: int(v) if v.isascii() and v.isdigit() else v for k, v in f.items()}
        elif kind == "arm":
            name = f.get("name", "")
            if name not in ARMS:
                raise ParseError(f"line {n}: unknown arm {name!r}")
            arms[name] = _arm(f, n)
        elif kind == "counter":
            counters[f.get("name", "?")] = rest.split("status=", 1)[1].strip() if "status=" in rest else ""
        elif kind == "sample":
            samples.append(_sample(f, n, arms))
        elif kind == "warning":
            warnings.append(" ".join(f"{k}: {v}" for k, v in f.items()))
        elif kind == "pin":
            config["pinned_cpu"] = f.get("cpu")
        elif kind == "done":
            done = True
        else:
            raise ParseError(f"line {n}: unknown record {kind!r}")
    warnings += _caveats(arms, counters, done)  # before the measurements: it marks degraded arms
    if not samples:
        raise ParseError("tlb-probe output has no samples")
    return ParseResult(
        measurements=measurements(samples, arms),
        info={"config": config, "arms": arms, "counters": counters, "samples": samples, "complete": done},
        warnings=warnings,
    )


def _arm(f: dict[str, str], n: int) -> dict[str, Any]:
    """An `arm` record: its buffer and page sizes when it was set up, else why not."""
    a: dict[str, Any] = {"status": f.get("status", "")}
    if a["status"] == "ok":
        a.update(
            bytes=_int(f, "bytes", n),
            anon_huge_kb=_int(f, "anon_huge_kb", n),
            kernel_page_kb=_int(f, "kernel_page_kb", n),
        )
    else:
        a["reason"] = f.get("reason", f.get("_", ""))
    return a


def _sample(f: dict[str, str], n: int, arms: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A `sample` record, checked against the arms set up before it; extra keys are PMU counters."""
    s: dict[str, Any] = {
        "rep": _int(f, "rep", n),
        "pos": _int(f, "pos", n),
        "arm": f.get("arm"),
        "kernel": f.get("kernel"),
        "ops": _int(f, "ops", n),
        "ns": to_float(f.get("ns", ""), f"ns on line {n}"),
    }
    if s["arm"] not in arms or arms[s["arm"]]["status"] != "ok":
        raise ParseError(f"line {n}: sample for arm {s['arm']!r} that was not set up")
    if s["kernel"] not in KERNELS:
        raise ParseError(f"line {n}: unknown kernel {s['kernel']!r}")
    if s["ops"] <= 0 or s["ns"] <= 0:
        raise ParseError(f"line {n}: a sample needs positive ops and ns")
    s["ns_per_op"] = s["ns"] / s["ops"]
    s["counters"] = {
        k: to_float(v, f"{k} on line {n}")
        for k, v in f.items()
        if k not in ("rep", "pos", "arm", "kernel", "ops", "ns", "ns_per_op")
    }
    return s


def _caveats(arms: dict[str, dict[str, Any]], counters: dict[str, str], done: bool) -> list[str]:
    """What limits the run's results: an early stop, missing or degraded arms, missing counters.

    Marks a THP arm with too little of its buffer in huge pages as degraded (not a huge-page arm).
    """
    warnings = []
    if not done:
        warnings.append(
            "tlb-probe output has no 'done' line: the probe stopped early; only the repetitions printed are used"
        )
    for name, a in arms.items():
        if a["status"] != "ok":
            warnings.append(f"arm {name} unavailable: {a.get('reason') or a['status']}")
        elif name == "thp" and a["bytes"] and a["anon_huge_kb"] * 1024 < MIN_HUGE_SHARE * a["bytes"]:
            share = a["anon_huge_kb"] * 1024 / a["bytes"]
            a["degraded"] = True
            warnings.append(
                f"arm thp: only {share:.0%} of the buffer is in transparent huge pages "
                f"(AnonHugePages {a['anon_huge_kb']} kB); its results are not a huge-page arm"
            )
    unsupported = sorted(k for k, v in counters.items() if not v.startswith("ok"))
    if unsupported:
        warnings.append(
            f"PMU counters not available here ({', '.join(unsupported)}: {counters[unsupported[0]]}); times only"
        )
    return warnings


def paired_penalties(samples: list[dict[str, Any]], kernel: str, arm: str) -> list[float]:
    """Per repetition: 4 KiB time minus `arm`'s time for `kernel` (ns per op), same repetition."""
    by_rep: dict[int, dict[str, float]] = {}
    for s in samples:
        if s["kernel"] == kernel:
            by_rep.setdefault(s["rep"], {})[s["arm"]] = s["ns_per_op"]
    return [r["4k"] - r[arm] for _, r in sorted(by_rep.items()) if "4k" in r and arm in r]


def measurements(samples: list[dict[str, Any]], arms: dict[str, dict[str, Any]]) -> list[Measurement]:
    out = []
    for kernel in KERNELS:
        for arm in ARMS:
            vals = [s["ns_per_op"] for s in samples if s["kernel"] == kernel and s["arm"] == arm]
            if not vals:
                continue
            note = {"kernel": kernel, "arm": arm, "repetitions": len(vals)}
            out.append(Measurement(f"probe_{kernel}_ns_{arm}", median(vals), "ns", note))
            if arm in HUGE_ARMS and not arms.get(arm, {}).get("degraded"):
                pen = paired_penalties(samples, kernel, arm)
                if pen:
                    out.append(
                        Measurement(
                            f"probe_{kernel}_penalty_ns_{arm}",
                            median(pen),
                            "ns",
                            dict(note, repetitions=len(pen), paired="4k minus " + arm),
                        )
                    )
    return out
