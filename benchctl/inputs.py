"""Shared input handling of analyze and plan: run folders and/or CSV -> Tidy."""

from __future__ import annotations

from benchctl.errors import UsageError
from benchctl.tidy import Tidy


def load_inputs(run_dirs: tuple[str, ...], csvs: tuple[str, ...]) -> Tidy:
    """Merge run folders and tidy CSV files into one table."""
    import pandas as pd

    from benchctl.tidy import load_csv, load_runs
    if not run_dirs and not csvs:
        raise UsageError("give run folders (RUN_DIR...) or --csv FILE")
    parts = []
    if run_dirs:
        parts.append(load_runs(run_dirs))
    if csvs:
        parts.append(load_csv(csvs))
    if len(parts) == 1:
        return parts[0]
    df = pd.concat([p.df for p in parts], ignore_index=True)
    return Tidy(df, [b for p in parts for b in p.boots], [s for p in parts for s in p.skipped])
