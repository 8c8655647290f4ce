"""A new campaign folder: plan.json, inventory.yml, campaign.yml, ansible.cfg, written all or nothing."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchctl.campaign.inventory import write_config, write_inventory
from benchctl.campaign.plan import PLAN_FILE, validate
from benchctl.campaign.playbook import write_playbook
from benchctl.errors import ResourceError, UsageError
from benchctl.results.fsutil import atomic_write_json


def create(folder: Path, plan: dict[str, Any], hostvars: dict[str, dict[str, Any]], source: str) -> Path:
    """Write the four files into a private temporary folder beside `folder`, then rename it into place,
    so an interrupted or failed plan leaves no half campaign behind."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UsageError(f"-o {folder}: exists and is not an empty folder; a campaign gets a folder of its own")
    validate(plan, folder / PLAN_FILE)   # what we write is what we will read back
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
