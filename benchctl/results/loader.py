"""Load the tidy table (results/table.py) from run folders or CSV files.

Bad rows do not stop the analysis: each is left out and reported as a
Skipped item naming the file and line, because "what can be analysed still
is". A file that cannot be a tidy table at all (missing columns, unreadable)
raises InputError. Warm-up records are dropped here and nowhere else.

    tidy = load_runs(["results/host1"])       # run folders, or folders holding them
    tidy = load_csv(["all.csv"])              # tidy CSV files
    tidy = load_inputs(run_dirs, csvs)        # both, as analyze and plan take them
    df, boots, skipped = tidy
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchctl.documents import format_version, get, load_json
from benchctl.errors import InputError, UsageError
from benchctl.results.table import COLUMNS, OPTIONAL, TEXT, BootMeta, Skipped, Tidy, categorical, category, empty_frame

Doc = dict[str, Any]  # a JSON document: run.json, env-before.json, a record
RUN_FORMAT_MAJOR = 1
ENV_FORMAT_MAJOR = 1


# --------------------------------------------------------------------- CSV


def _parse_bool(series: Any) -> Any:
    import pandas as pd

    s = series.astype(str).str.strip().str.lower()
    return s.isin(["true", "1", "yes"]) & series.notna() if len(s) else pd.Series([], dtype=bool)


def _finish(df: Any, skipped: list[Skipped], lines: Any, path: str, user_table: bool = False) -> Any:
    """Common clean-up for a freshly read frame: types, bad values, warm-ups."""
    import numpy as np
    import pandas as pd

    value = pd.to_numeric(df["value"], errors="coerce")
    finite = np.isfinite(value.to_numpy(dtype=float, na_value=np.nan))
    arms = df["arm"].to_numpy()

    def skip(mask: Any, reason: str) -> None:
        for ln, arm in zip(lines[mask][:10_000], arms[mask][:10_000], strict=True):
            arm_ = None if pd.isna(arm) else str(arm)
            skipped.append(Skipped(path, int(ln), reason, arm_, user_row=user_table))

    nonnum = value.isna().to_numpy()
    skip(nonnum, "value is not a number")
    skip(~finite & ~nonnum, "value is infinite")
    keep = finite
    iteration = pd.to_numeric(df["iteration"], errors="coerce")
    bad_it = iteration.isna().to_numpy() & keep
    skip(bad_it, "iteration is not an integer")
    keep &= ~bad_it
    missing_key = df[["arm", "boot", "workload", "metric"]].isna().any(axis=1).to_numpy() & keep
    skip(missing_key, "empty arm, boot, workload or metric")
    keep &= ~missing_key
    if "warmup" in df.columns:
        keep &= ~_parse_bool(df["warmup"]).to_numpy()
    out = df.loc[keep, [c for c in COLUMNS + OPTIONAL if c in df.columns]].copy()
    out["value"] = value[keep].astype(float)
    out["iteration"] = iteration[keep].astype(np.int64)
    if "note" not in out.columns:
        out["note"] = pd.Categorical.from_codes(np.zeros(len(out), dtype=np.int8), [""])
    for c in TEXT:
        out[c] = category(out[c])
    out["t"] = pd.to_numeric(out["t"], errors="coerce") if "t" in out.columns else np.nan
    out["simulated"] = _parse_bool(out["simulated"]) if "simulated" in out.columns else False
    return out.reset_index(drop=True)


def load_csv(paths: Iterable[str | Path]) -> Tidy:
    """Read tidy CSV files (vectorised; no per-row Python on the happy path)."""
    import numpy as np
    import pandas as pd

    frames: list[Any] = []
    skipped: list[Skipped] = []
    for p in paths:
        path = str(p)
        try:
            df = pd.read_csv(
                path,
                dtype={c: "category" for c in TEXT},  # parsed straight into codes: no string column
                keep_default_na=False,
                na_values={"value": ["", "nan", "NaN"]},
                low_memory=False,
            )
        except FileNotFoundError:
            raise InputError("no such file", path) from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            raise InputError(f"not a readable CSV table: {str(e).splitlines()[0]}", path) from None
        df.columns = [str(c).strip() for c in df.columns]
        missing = [c for c in COLUMNS if c not in df.columns]
        if missing:
            raise InputError(
                f"missing column(s) {', '.join(missing)}; a tidy table needs {', '.join(COLUMNS)}", path, 1
            )
        for c in ("arm", "boot", "workload", "metric"):
            if "" in df[c].cat.categories:  # an empty key is missing
                df[c] = df[c].cat.remove_categories([""])
        lines = np.arange(len(df)) + 2  # header is line 1
        frames.append(_finish(df, skipped, lines, path, user_table=True))
    df = (
        (categorical(pd.concat(frames, ignore_index=True)) if len(frames) > 1 else frames[0])
        if frames
        else empty_frame()
    )
    return Tidy(df, _boots_from_frame(df, "csv"), skipped)


def _boots_from_frame(df: Any, source: str) -> list[BootMeta]:
    """Per-boot metadata a CSV can give: identity, first timestamp, simulated."""
    if df.empty:
        return []
    return [
        BootMeta(arm, host, boot, run, workload, source, started=None if math.isnan(t0) else t0, simulated=sim)
        for (arm, host, boot, run, workload), (t0, sim) in _per_run(df).items()
    ]


KEY = ["arm", "host", "boot", "run", "workload"]
MAX_STRETCHES = 10_000


def _per_run(df: Any) -> dict[tuple[str, ...], tuple[float, bool]]:
    """(arm, host, boot, run, workload) -> (first t, any simulated), in order of first appearance.

    A table holds each run's rows in a few unbroken stretches (exports and
    run folders do): the key is compared row to row once, and only the
    stretches are grouped. Rows shuffled into many stretches go to pandas'
    groupby, which gives the same.
    """
    import numpy as np

    if all(hasattr(df[c], "cat") for c in KEY):
        change = np.zeros(len(df) - 1, dtype=bool)
        for c in KEY:
            k = df[c].cat.codes.to_numpy()
            change |= k[1:] != k[:-1]
        starts = np.flatnonzero(np.r_[True, change])
        if len(starts) <= MAX_STRETCHES:
            t = df["t"].to_numpy(dtype=float)
            t_min = np.fmin.reduceat(t, starts)  # fmin: NaN only where every t is NaN, as groupby's min
            sim = np.logical_or.reduceat(df["simulated"].to_numpy(dtype=bool), starts)
            keys = zip(*(df[c].iloc[starts].astype(str) for c in KEY), strict=True)
            out: dict[tuple[str, ...], tuple[float, bool]] = {}
            for key, t0, s in zip(keys, t_min, sim, strict=True):
                prev = out.get(key)
                out[key] = (float(np.fmin(prev[0], t0)), prev[1] or bool(s)) if prev else (float(t0), bool(s))
            return out
    g = df.groupby(KEY, sort=False, observed=True)
    first_t, any_sim = g["t"].min(), g["simulated"].any()
    return {key: (float(t0), bool(any_sim[key])) for key, t0 in first_t.items()}


# ------------------------------------------------------------- run folders


def _find_run_dirs(d: Path) -> list[Path]:
    if (d / "records.jsonl").exists() or (d / "run.json").exists():
        return [d]
    found = sorted({p.parent for p in d.rglob("records.jsonl")} | {p.parent for p in d.rglob("run.json")})
    return found


def _read_json(path: Path, skipped: list[Skipped], major: int, prefix: str) -> Doc | None:
    if not path.exists():
        return None
    try:
        j = load_json(path)
    except InputError as e:
        skipped.append(Skipped(str(path), e.line, f"{e.reason}; ignored"))
        return None
    if not isinstance(j, dict):
        skipped.append(Skipped(str(path), None, "not a JSON object; ignored"))
        return None
    fmt = j.get("format")
    try:
        v = format_version(fmt, prefix)
    except ValueError:  # a tag of ours with an unreadable version: not one this benchctl wrote
        v = major + 1
    if v is not None and v > major:
        skipped.append(
            Skipped(
                str(path),
                None,
                f"format {fmt!r} is newer than this benchctl reads "
                f"({prefix}/{major}); its metadata is ignored - upgrade benchctl",
            )
        )
        return None
    if v is None and fmt is not None:
        skipped.append(Skipped(str(path), None, f"unknown format {fmt!r} (expected {prefix}/{major}); ignored"))
        return None
    return j


def _governor(v: object) -> str | None:
    if v is None:
        return None
    if isinstance(v, dict):
        vals = sorted({str(x) for x in v.values()})
        return ",".join(vals)
    return str(v)


def _epoch(v: object) -> float | None:
    if v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(v).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


MAX_SKIPPED_LINES = 10_000  # per file: a garbage file is reported, not listed line by line into memory


def read_records(path: Path, skipped: list[Skipped]) -> list[Doc]:
    """Records of one records.jsonl, read line by line (memory follows the valid records, not the file)."""
    rows: list[Doc] = []
    bad = 0
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        skipped.append(Skipped(str(path), None, "no records.jsonl in this run folder"))
        return rows
    with f:
        for n, raw in enumerate(f, 1):
            line = raw.decode("utf-8", errors="replace")
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                # only the last line of a file can lack its newline: a write cut short
                truncated = not raw.endswith(b"\n")
                why = (
                    "truncated last record (the run was probably killed while writing it)"
                    if truncated
                    else "corrupted JSON record"
                )
                bad += 1
                if bad <= MAX_SKIPPED_LINES:
                    skipped.append(Skipped(str(path), n, why))
                continue
            if not isinstance(r, dict):
                bad += 1
                if bad <= MAX_SKIPPED_LINES:
                    skipped.append(Skipped(str(path), n, "record is not a JSON object"))
                continue
            if r.get("warmup") is True:
                continue
            r["_line"] = n
            rows.append(r)
    if bad > MAX_SKIPPED_LINES:
        skipped.append(Skipped(str(path), None, f"{bad - MAX_SKIPPED_LINES} more unreadable lines (not listed)"))
    return rows


def _records_frame(recs: list[Doc], m: Doc, rd: Path, skipped: list[Skipped]) -> Any:
    """One run folder's records as tidy rows; identity columns the records lack come from run.json."""
    import pandas as pd

    df = pd.DataFrame.from_records(recs)
    for c, default in (
        ("arm", m.get("arm")),
        ("host", m.get("host")),
        ("boot", m.get("boot_id")),
        ("run", m.get("run_id", rd.name)),
        ("workload", m.get("workload")),
        ("unit", ""),
        ("iteration", None),
        ("metric", None),
        ("value", None),
    ):
        if c not in df.columns:
            df[c] = default
        elif default is not None:
            df[c] = df[c].where(df[c].notna(), default)
    if "note" in df.columns:
        df["note"] = [
            json.dumps(x, sort_keys=True)
            if isinstance(x, dict)
            else ("" if x is None or (isinstance(x, float) and math.isnan(x)) else str(x))
            for x in df["note"]
        ]
    if "simulated" not in df.columns:
        df["simulated"] = bool(m.get("simulated", False))
    lines = df.pop("_line").to_numpy()
    for c in ("arm", "boot", "workload", "metric"):
        df[c] = df[c].where(df[c].notna() & (df[c].astype(str) != ""), None)
    return _finish(df, skipped, lines, str(rd / "records.jsonl"))


def _emulation(before: Doc | None, after: Doc | None) -> tuple[bool | None, str | None, str | None]:
    """(emulated, how, reason) from a fingerprint's host.emulation (a boot's fact: either
    fingerprint of the run tells it); all None when neither records it."""
    for fp in (before, after):
        em = get(fp, "host.emulation")
        if isinstance(em, dict):
            flag = em.get("emulated")
            how, why = em.get("how"), em.get("reason")
            return (
                flag if isinstance(flag, bool) else None,
                str(how) if how is not None else None,
                str(why) if why is not None else None,
            )
    return None, None, None


def _int(v: object) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _cpu_identity(fp: Doc | None) -> str | None:
    """The CPUs as the kernel identifies them: each distinct MIDR with its name, else the model."""
    midrs, model = get(fp, "cpu.midr"), get(fp, "cpu.model")
    if isinstance(midrs, list) and midrs:
        seen = {f"{m.get('name') or model or 'MIDR'} ({m.get('value')})" for m in midrs if isinstance(m, dict)}
        return ", ".join(sorted(seen)) or None
    return str(model) if model else None


def _boot_metas(rd: Path, frame: Any, m: Doc, before: Doc | None, after: Doc | None) -> list[BootMeta]:
    """What analyze needs to know about each (arm, host, boot, run, workload) of one run folder."""
    ids: set[tuple[Any, ...]] = set()  # (arm, host, boot, run, workload); str() below
    if frame is not None:
        ids = set(map(tuple, frame[["arm", "host", "boot", "run", "workload"]].drop_duplicates().to_numpy()))
    if not ids and m:
        ids = {(m.get("arm"), m.get("host"), m.get("boot_id"), m.get("run_id"), m.get("workload"))}
    sim = bool(m.get("simulated")) or m.get("status") == "simulated" or bool(get(before, "simulated"))
    emulated, how, why = _emulation(before, after)
    return [
        BootMeta(
            str(arm),
            str(host),
            str(boot),
            str(run),
            str(workload),
            str(rd),
            kernel_release=get(before, "kernel.release") or m.get("kernel_release"),
            kernel_cmdline=get(before, "kernel.cmdline"),
            governor=_governor(get(before, "tuning.governor")),
            thp_enabled=get(before, "tuning.thp_enabled"),
            linear_map_before=get(before, "linear_map.state"),
            linear_map_after=get(after, "linear_map.state"),
            tainted=bool(m.get("tainted")) or bool(m.get("taint_lines")),
            taint_lines=list(m.get("taint_lines") or []),
            started=_epoch(m.get("started")),
            simulated=sim,
            status=m.get("status"),
            emulated=emulated,
            emulation_how=how,
            emulation_reason=why,
            cpu_identity=_cpu_identity(before),
            linear_map_source=get(before, "linear_map.source"),
            cpu_count=_int(get(before, "cpu.count")),
            ram_kb=_int(get(before, "memory.ram_kb") or get(before, "memory.total_kb")),
            page_size=_int(get(before, "kernel.page_size")),
            unsupported=dict(get(m, "perf.unsupported") or {}),
        )
        for arm, host, boot, run, workload in ids
    ]


def load_runs(dirs: Iterable[str | Path]) -> Tidy:
    """Read run folders (or folders containing them) into the tidy table."""
    import numpy as np
    import pandas as pd

    frames: list[Any] = []
    boots: list[BootMeta] = []
    skipped: list[Skipped] = []
    for d in map(Path, dirs):
        if not d.is_dir():
            raise InputError("not a run folder (no such directory)", d)
        run_dirs = _find_run_dirs(d)
        if not run_dirs:
            raise InputError("no run folders (no records.jsonl) found here", d)
        for rd in run_dirs:
            m = _read_json(rd / "run.json", skipped, RUN_FORMAT_MAJOR, "benchctl-run") or {}
            before = _read_json(rd / "env-before.json", skipped, ENV_FORMAT_MAJOR, "benchctl-env")
            after = _read_json(rd / "env-after.json", skipped, ENV_FORMAT_MAJOR, "benchctl-env")
            recs = read_records(rd / "records.jsonl", skipped)
            frame = _records_frame(recs, m, rd, skipped) if recs else None
            if frame is not None:
                frames.append(frame)
            boots += _boot_metas(rd, frame, m, before, after)
    df = categorical(pd.concat(frames, ignore_index=True)) if frames else empty_frame()
    if not df.empty and boots:
        sim_runs = {b.run for b in boots if b.simulated}
        if sim_runs:
            df.loc[df["run"].isin(sim_runs), "simulated"] = True
        df["simulated"] = df["simulated"].astype(bool)
    # Start time from the first record when run.json has none.
    if not df.empty:
        first_t = df.groupby("run", observed=True)["t"].min()
        for b in boots:
            if b.started is None and b.run in first_t.index and not np.isnan(first_t[b.run]):
                b.started = float(first_t[b.run])
    return Tidy(df, boots, skipped)


def load_inputs(run_dirs: tuple[str, ...], csvs: tuple[str, ...]) -> Tidy:
    """Merge run folders and tidy CSV files into one table."""
    import pandas as pd

    if not run_dirs and not csvs:
        raise UsageError("give run folders (RUN_DIR...) or --csv FILE")
    parts = []
    if run_dirs:
        parts.append(load_runs(run_dirs))
    if csvs:
        parts.append(load_csv(csvs))
    if len(parts) == 1:
        return parts[0]
    df = categorical(pd.concat([p.df for p in parts], ignore_index=True))
    return Tidy(df, [b for p in parts for b in p.boots], [s for p in parts for s in p.skipped])


def refuse_bad_rows(tidy: Tidy) -> None:
    """A CSV row benchctl cannot read is an error unless the user asked to skip such rows.

    Silently analysing what is left would give a verdict on data the user
    did not mean to give; `--skip-bad-rows` makes the choice explicit (and
    the commands count what was left out on stderr).
    """
    bad = [s for s in tidy.skipped if s.user_row]
    if bad:
        first_file = bad[0].file
        bad.sort(key=lambda s: (s.file != first_file, s.line or 0))  # the first bad line of the first file
        more = f" (and {len(bad) - 1} more row(s))" if len(bad) > 1 else ""
        raise InputError(f"{bad[0].reason}{more}; fix the table or give --skip-bad-rows", bad[0].file, bad[0].line)
