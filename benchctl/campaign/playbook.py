"""DIR/campaign.yml: the playbook that does one planned boot per host.

It is a static, commented file shipped with benchctl (campaign.yml beside
this module) and copied verbatim: everything that varies comes from
plan.json and inventory.yml at run time, so a user reads one playbook, and
an edited plan needs no new playbook.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from benchctl.results.fsutil import atomic_write_text

PLAYBOOK_FILE = "campaign.yml"
PLAYBOOK_FORMAT = "benchctl-campaign-playbook/1"


def text() -> str:
    return resources.files("benchctl.campaign").joinpath(PLAYBOOK_FILE).read_text(encoding="utf-8")


def write_playbook(folder: Path) -> Path:
    path = Path(folder) / PLAYBOOK_FILE
    atomic_write_text(path, text())
    return path
