"""A campaign folder as the input of `benchctl analyze` and `benchctl plan`.

Both commands take RUN_DIR... that may be a campaign folder, or lie in one:
its plan.json names the arms (baseline first) and, for `campaign run
--until-decided`, the claims and their sequential level; its boot records
say how each boot was started. Read here once, so the two commands cannot
disagree on which folder is a campaign and which arms it compares.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchctl.campaign.folder import boot_records, find, roots
from benchctl.campaign.schedule import candidates as planned_candidates
from benchctl.errors import UsageError


@dataclass(frozen=True)
class Arms:
    """The arms to compare, as given or as the campaign's plan names them, and the campaign itself."""

    baseline: str
    candidates: list[str]
    campaign: Path | None = None  # the folder the first RUN_DIR is or lies in
    adaptive: dict[str, Any] | None = None  # plan.json's record of `run --until-decided`

    def claims_file(self, given: str | None) -> str | None:
        """The claims to judge: as given, else those an adaptive campaign was run to decide."""
        return given or (self.adaptive or {}).get("claims")


def resolve_arms(run_dirs: tuple[str, ...], baseline: str | None, candidates: tuple[str, ...]) -> Arms:
    """Baseline and candidates (repeated or comma-separated), the plan's where none are given."""
    root, plan = find(run_dirs) if run_dirs else (None, None)
    cands = [x.strip() for v in candidates for x in v.split(",") if x.strip()]
    if plan is not None:
        baseline = baseline or plan["baseline"]
        cands = cands or planned_candidates(plan)
    if not baseline or not cands:
        raise UsageError("--baseline and --candidate are required (or give a campaign folder: its plan names the arms)")
    return Arms(baseline, cands, root, (plan or {}).get("adaptive"))


def stamp_boot_methods(boots: list[Any], run_dirs: tuple[str, ...]) -> None:
    """Set each boot's `boot_method` from the boot records of the campaign folders among run_dirs."""
    records = {k: v for r in roots(run_dirs) for k, v in boot_records(r).items()}
    for b in boots:
        b.boot_method = (records.get(b.boot) or {}).get("boot_method")
