"""What imported outputs say was measured (and what they leave to the user), and their caveats.

`benchctl import` records, with every imported value, the setup the
output shows: the operation, rw mode, block size and engine fio and
xfs_io echo, whether fio's I/O reached a device-mapper device, which load
generator wrote a memcached output. What no output shows (the file
system; dm-crypt behind a dm device) comes from the user's --set or stays
unrecorded, and analyze then refuses to compare it with runs that record
it (results/metrics.py SETUP_KEYS). The caveats are what the terminal
shows before the numbers are used: parser warnings and percentiles read
off coarse buckets.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from benchctl.errors import InputError, UsageError
from benchctl.parsers import LATENCY_RESOLUTION, TOOL_FORMATS, ParseResult, detect
from benchctl.results.importer import read_text
from benchctl.results.metrics import SETUP_ALIASES, SETUP_KEYS, setup_items, setup_value


def detect_tool(path: Path) -> tuple[str, str]:
    """(tool, format) of one file, for `benchctl import FILE...` without TOOL."""
    text = read_text(path)
    fmt = detect(text) if text.strip() else None
    owner = next((t for t, fmts in TOOL_FORMATS.items() if fmt in fmts), None)
    if owner is None:
        raise InputError(
            f"cannot tell which tool wrote this; give TOOL first (one of {', '.join(sorted(TOOL_FORMATS))})", path=path
        )
    return owner, fmt or ""


# What each tool's output cannot show but a claim may be about: the user's --set fills it.
NOT_SHOWN = {"fio": ("fs",), "xfs_io": ("fs",)}
GENERATOR = {"memtier": "memtier", "mutilate": "mutilate", "memaslap": "memcaslap"}


@dataclass
class ImportSetup:
    """What the outputs say was measured, and what they leave to the user."""

    setup: dict[str, str] = field(default_factory=dict)
    said: list[str] = field(default_factory=list)  # how each detected value was found
    unknown: list[str] = field(default_factory=list)  # keys a claim may need that no output shows


def _from_notes(res: ParseResult) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in res.measurements:
        for k, v in setup_items(m.note or {}):
            out.setdefault(k, str(v))
    return out


def _crypt(res: ParseResult) -> tuple[str | None, str]:
    """crypt from the block devices fio reports under 'Disk stats' (disk_util in JSON)."""
    disks = res.info.get("disks") or []
    if not disks:
        return None, "crypt: not shown (fio listed no block device)"
    dm = [d for d in disks if d.startswith("dm-")]
    if dm:
        return None, f"crypt: not shown ({dm[0]} is device-mapper; dm-crypt or not, the output does not say)"
    return "none", f"crypt=none (the I/O reached {', '.join(disks)}, no device-mapper device)"


def describe(tool: str, parsed: list[tuple[Path, ParseResult]]) -> ImportSetup:
    """The setup the outputs show; InputError when the files disagree (import them separately)."""
    out = ImportSetup()
    first: dict[str, tuple[str, Path]] = {}
    for path, res in parsed:
        seen = _from_notes(res)
        if tool in GENERATOR:
            seen["generator"] = GENERATOR[tool]
        if tool == "fio":
            crypt, said = _crypt(res)
            if crypt:
                seen["crypt"] = crypt
            if said not in out.said:
                out.said.append(said)
        for k, v in seen.items():
            if k in first and setup_value(k, first[k][0]) != setup_value(k, v):
                raise InputError(
                    f"{k}={v} here but {k}={first[k][0]} in {first[k][1].name}: these outputs "
                    "measured different things; import them as separate runs",
                    path=path,
                )
            first.setdefault(k, (v, path))
    out.setup = {k: v for k, (v, _) in first.items()}
    out.unknown = [k for k in NOT_SHOWN.get(tool, ()) + (("crypt",) if tool == "fio" else ()) if k not in out.setup]
    return out


def apply_sets(found: ImportSetup, sets: dict[str, str]) -> dict[str, str]:
    """The user's --set KEY=VALUE on top of what the outputs show (UsageError on a contradiction)."""
    setup = dict(found.setup)
    for k, v in sets.items():
        k = SETUP_ALIASES.get(k, k)
        if k not in SETUP_KEYS:
            near = difflib.get_close_matches(k, SETUP_KEYS, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise UsageError(f"--set {k}: not a setup key{hint}; one of {', '.join(SETUP_KEYS)}")
        if k in found.setup and setup_value(k, found.setup[k]) != setup_value(k, v):
            raise UsageError(f"--set {k}={v} contradicts the output, which shows {k}={found.setup[k]}")
        setup[k] = v
    return setup


def _step(note: dict[str, object]) -> tuple[float | None, str]:
    """Bucket width in % of a percentile (its own resolution_pct, else its label's), and the label."""
    label = note.get("latency_resolution")
    step = note.get("resolution_pct")
    if isinstance(step, (int, float)) and not isinstance(step, bool):
        return float(step), str(label or "histogram")
    fixed = LATENCY_RESOLUTION.get(label) if isinstance(label, str) else None
    return (100 * fixed if fixed is not None else None), str(label)


def caveats(parsed: list[tuple[Path, ParseResult]], coarse_pct: float = 5.0) -> list[str]:
    """Warnings worth reading before analyze: the parsers' own, and percentiles read off coarse buckets."""
    by_text: dict[str, list[str]] = {}
    coarse: dict[str, tuple[set[str], float, set[str]]] = {}
    for path, res in parsed:
        for w in res.warnings:
            by_text.setdefault(w, []).append(path.name)
        for m in res.measurements:
            step, label = _step(m.note or {})
            if step is not None and step >= coarse_pct:
                metrics, worst, files = coarse.setdefault(label, (set(), 0.0, set()))
                metrics.add(m.metric)
                files.add(path.name)
                coarse[label] = (metrics, max(worst, step), files)
    for label, (metrics, worst, files) in coarse.items():
        w = (
            f"{', '.join(sorted(metrics))} read off {label} buckets up to {worst:.3g} % wide (coarse): "
            "analyze will not judge a claimed change smaller than that"
        )
        by_text.setdefault(w, []).extend(sorted(files))
    return [f"{files[0] if len(set(files)) == 1 else f'{len(set(files))} files'}: {w}" for w, files in by_text.items()]
