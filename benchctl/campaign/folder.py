"""A new campaign folder: plan.json, inventory.yml, campaign.yml, ansible.cfg, written all or nothing."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchctl.campaign.inventory import write_config, write_inventory
from benchctl.campaign.playbook import write_playbook
from benchctl.campaign.schedule import PLAN_FILE, validate
from benchctl.errors import ResourceError, UsageError
from benchctl.results.fsutil import atomic_write_json


def create(folder: Path, plan: dict[str, Any], hostvars: dict[str, dict[str, Any]], source: str) -> Path:
    """Write the four files into a private temporary folder beside `folder`, then rename it into place,
    so an interrupted or failed plan leaves no half campaign behind."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UsageError(f"-o {folder}: exists and is not an empty folder; a campaign gets a folder of its own")
    validate(plan, folder / PLAN_FILE)  # what we write is what we will read back
    parent = folder.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=parent))
    except OSError as e:
        raise ResourceError(f"cannot create the campaign folder {folder}: {e.strerror or e}") from None
    try:
        atomic_write_json(tmp / PLAN_FILE, plan)
        write_inventory(tmp, hostvars, source)
        write_playbook(tmp)
        write_config(tmp)
        tmp.chmod(0o755)
        if folder.exists():
            folder.rmdir()
        tmp.rename(folder)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ResourceError(f"cannot write the campaign folder {folder}: {e.strerror or e}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def roots(paths: list[str] | tuple[str, ...]) -> list[Path]:
    """The campaign folders these paths are, or lie in (a few levels up), in order, once each."""
    out: list[Path] = []
    for p in paths:
        here = Path(p).absolute()
        cand = next((c for c in [here, *here.parents][:5] if (c / PLAN_FILE).is_file()), None)
        if cand is not None and cand not in out:
            out.append(cand)
    return out


def find(paths: list[str] | tuple[str, ...]) -> tuple[Path | None, dict[str, Any] | None]:
    """The campaign folder (and its plan) that the first of these paths is, or lies in (a few levels up)."""
    from benchctl.campaign.schedule import load_schedule

    found = roots(paths)
    return (found[0], load_schedule(found[0])) if found else (None, None)


def boot_records(root: Path) -> dict[str, dict[str, Any]]:
    """{boot id: boots/HOST/NNN-ARM/boot.json} of a campaign folder (how each boot was started, what
    verification saw); unreadable records are skipped: they describe, they do not carry results."""
    from benchctl.campaign.collect import BOOT_FILE, BOOT_FORMAT
    from benchctl.documents import load_json
    from benchctl.errors import InputError

    out: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(root).glob(f"boots/*/*/{BOOT_FILE}")):
        try:
            rec = load_json(path)
        except InputError:
            continue
        if isinstance(rec, dict) and rec.get("format") == BOOT_FORMAT and rec.get("boot_id"):
            out[str(rec["boot_id"])] = rec
    return out
