"""The tidy table every source becomes (docs/result-format.md), and writing it out.

One table shape, so analyze, plan and export never care where data came
from:

    arm, host, boot, run, workload, iteration, metric, value, unit
    (+ optional t, simulated, note)

with per-boot metadata (BootMeta) beside it and the rows left out, each with
its reason (Skipped). Loading from run folders or CSV is results/loader.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchctl.osutil.fsutil import atomic_open

# A pandas DataFrame or Series: pandas ships no types (pyproject.toml [tool.mypy]), so this is Any with a name.
Frame = Any

COLUMNS = ["arm", "host", "boot", "run", "workload", "iteration", "metric", "value", "unit"]
OPTIONAL = ["t", "simulated", "note"]
TEXT = ("arm", "host", "boot", "run", "workload", "metric", "unit", "note")  # categorical columns (category())
MAX_LISTED = 8  # skipped lines listed per (file, reason) in messages


@dataclass
class Skipped:
    """A row, line or file left out of the analysis, and why."""

    file: str
    line: int | None
    reason: str
    arm: str | None = None
    user_row: bool = False  # a data row of a table the user gave (CSV): an error unless --skip-bad-rows

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.reason}"


@dataclass
class BootMeta:
    """What analyze needs to know about one run on one boot."""

    arm: str
    host: str
    boot: str
    run: str
    workload: str
    source: str
    kernel_release: str | None = None
    kernel_cmdline: str | None = None
    governor: str | None = None
    thp_enabled: str | None = None
    linear_map_before: str | None = None
    linear_map_after: str | None = None
    tainted: bool = False
    taint_lines: list[str] = field(default_factory=list)
    started: float | None = None  # epoch seconds
    simulated: bool = False
    status: str | None = None
    boot_method: str | None = None  # how the boot was started (kexec, cold, ...): campaign records only
    # host.emulation of the run's fingerprint: True under qemu TCG, False on silicon (bare metal,
    # KVM), None when unknown or not recorded (CSV); a timing from an emulated CPU measures qemu
    emulated: bool | None = None
    emulation_how: str | None = None  # "qemu TCG", "KVM", "bare metal", ...
    emulation_reason: str | None = None
    cpu_identity: str | None = None  # "AmpereOne r0p0 (0xc00fac30)": what the kernel was told it runs on
    linear_map_source: str | None = None  # how the state was seen: ptdump, kcore, DirectMap, inferred
    cpu_count: int | None = None
    ram_kb: int | None = None  # the kernel's "Memory: .../N K" boot line, else MemTotal
    page_size: int | None = None
    # counter -> why the run could not count it (run.json perf.unsupported: an event the PMU lacks)
    unsupported: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Tidy:
    """The loaded table: `df, boots, skipped = load_runs(dirs)` also works."""

    df: Frame  # COLUMNS + t, simulated, note
    boots: list[BootMeta]
    skipped: list[Skipped]

    def __iter__(self) -> Iterator[Any]:
        return iter((self.df, self.boots, self.skipped))


def summarize_skipped(skipped: list[Skipped]) -> list[str]:
    """One message per (file, reason): the first few lines and a count."""
    groups: dict[tuple[str, str], list[int | None]] = {}
    for s in skipped:
        groups.setdefault((s.file, s.reason), []).append(s.line)
    out = []
    for (f, reason), lines in groups.items():
        nums = [x for x in lines if x is not None]
        if not nums:
            out.append(f"{f}: {reason}")
            continue
        shown = ", ".join(str(x) for x in nums[:MAX_LISTED])
        more = f" and {len(nums) - MAX_LISTED} more" if len(nums) > MAX_LISTED else ""
        word = "line" if len(nums) == 1 else "lines"
        out.append(f"{f}: {word} {shown}{more}: {reason} (skipped)")
    return out


def category(s: Frame) -> Frame:
    """A text column as a pandas categorical with its categories in sorted order, missing as "".

    Why: a million rows hold a few dozen distinct boots, runs and metrics;
    as categories each row is a small integer, so grouping and sorting never
    hash the strings again, and sorted categories sort rows exactly as the
    strings would. Every groupby over the tidy table says observed=True
    (pandas < 3 would otherwise add a group for every unseen combination).
    """
    import numpy as np
    import pandas as pd

    if not isinstance(s.dtype, pd.CategoricalDtype) or s.cat.categories.inferred_type != "string":
        return s.astype(object).where(s.notna(), "").astype(str).astype("category")
    if s.isna().any():
        s = s.cat.add_categories([""]).fillna("") if "" not in s.cat.categories else s.fillna("")
    cats = s.cat.categories
    unused = np.bincount(s.cat.codes.to_numpy(), minlength=len(cats)) == 0  # rows left out took them
    if unused.any():
        s = s.cat.remove_categories(cats[unused])
        cats = s.cat.categories
    return s if cats.is_monotonic_increasing else s.cat.reorder_categories(cats.sort_values())


def categorical(df: Frame) -> Frame:
    """The text columns of a concatenated table as sorted categories again (concat of differing ones gives
    strings)."""
    for c in TEXT:
        if c in df.columns:
            df[c] = category(df[c])
    return df


def empty_frame() -> Frame:
    """A table with the tidy columns and no rows."""
    import pandas as pd

    return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS + OPTIONAL})


def write_tidy(df: Frame, path: str | Path, fmt: str = "csv") -> None:
    """Write the tidy table atomically: csv (COLUMNS first) or json (a list of records)."""
    if fmt not in ("csv", "json"):
        raise ValueError(f"fmt must be csv or json, not {fmt!r}")
    path = Path(path)
    cols = [c for c in COLUMNS + OPTIONAL if c in df.columns]
    out = df[cols]
    with atomic_open(path, "w", encoding="utf-8", newline="") as f:
        if fmt == "csv":
            out.to_csv(f, index=False)
        else:
            f.write(out.to_json(orient="records", indent=None))
            f.write("\n")
