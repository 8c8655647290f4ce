"""The campaign's inventory and Ansible configuration, and where Ansible's programs are.

The user's inventory (INI, YAML, a folder, whatever Ansible reads) is parsed
by Ansible itself (`ansible-inventory --list`), never by a second parser of
ours; its hosts and their variables are written into the campaign folder as
inventory.yml (group `benchctl_campaign`), next to an ansible.cfg that
ansible-playbook picks up when run from that folder. A campaign folder thus
keeps working when the original inventory changes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchctl.campaign.schedule import check_name
from benchctl.errors import InputError, ToolMissingError, UsageError
from benchctl.osutil.fsutil import atomic_write_text
from benchctl.run.proctree import run as run_bounded

GROUP = "benchctl_campaign"
INVENTORY_FILE = "inventory.yml"
CONFIG_FILE = "ansible.cfg"
INSTALL_HINT = "install the campaign extra: pip install 'benchctl[campaign]' (ansible-core)"

ANSIBLE_CFG = """\
# Written by `benchctl campaign plan`. ansible-playbook reads it when run from this
# folder (or with ANSIBLE_CONFIG pointing here); `benchctl campaign run` sets that.
[defaults]
inventory = inventory.yml
forks = 32
retry_files_enabled = false
interpreter_python = auto_silent
# host keys are checked: put the hosts in known_hosts (or set ansible_ssh_common_args per host)
host_key_checking = true

[ssh_connection]
pipelining = true
# a host that vanishes without closing the connection (a kexec, a power cut) is noticed in ~15 s
ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o ServerAliveInterval=5 -o ServerAliveCountMax=3
"""


def ansible_program(name: str) -> str:
    """ansible-playbook / ansible-inventory: next to this Python first (the venv), then PATH."""
    here = Path(sys.executable).parent / name
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which(name)
    if not found:
        raise ToolMissingError(f"{name} is not installed: {INSTALL_HINT}")
    return found


def _why_unparsed(stderr: str, path: Path) -> str:
    """The most specific reason among ansible-inventory's warnings for this kind of file."""
    causes = re.findall(r"<<< caused by >>>\s*\n\s*\n?(.+)", stderr)
    plugins = re.findall(r"Failed to parse inventory with '(\w+)' plugin", stderr)
    wanted = "yaml" if path.suffix in (".yml", ".yaml") else "ini"
    for plugin, cause in zip(plugins, causes, strict=False):
        if plugin == wanted:
            return f"{cause.strip()} ({plugin})"
    if causes:
        return causes[0].strip()
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    return lines[0] if lines else "ansible-inventory found no hosts in it"


def read_inventory(source: Path, timeout: float = 120) -> dict[str, dict[str, Any]]:
    """{host: {var: value}} of every host in an Ansible inventory; InputError (exit 3) if unparsable."""
    source = Path(source)
    if not source.exists():
        raise InputError("no such inventory file or folder", source)
    argv = [ansible_program("ansible-inventory"), "-i", str(source), "--list"]
    env = {**os.environ, "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1"}  # unparsable is an error, not "no hosts"
    try:
        proc = run_bounded(argv, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise InputError(
            f"ansible-inventory did not finish in {timeout:.0f} s (a dynamic inventory script that hangs?)", source
        ) from None
    if proc.returncode != 0:
        raise InputError(
            f"not an Ansible inventory: {_why_unparsed(proc.stderr, source)}; check it with "
            f"`ansible-inventory -i {source} --list`",
            source,
        )
    try:
        data = json.loads(proc.stdout)
        hostvars = data["_meta"]["hostvars"]
        groups = {g: v.get("hosts", []) for g, v in data.items() if g != "_meta" and isinstance(v, dict)}
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        raise InputError("ansible-inventory printed no inventory for it", source) from None
    hosts = sorted(set(hostvars) | {h for hs in groups.values() for h in hs})
    if not hosts:
        raise InputError("the inventory has no hosts", source)
    for h in hosts:
        try:
            check_name("host name", h)
        except UsageError as e:
            raise InputError(str(e), source) from None
    return {h: dict(hostvars.get(h) or {}) for h in hosts}


def write_inventory(folder: Path, hosts: dict[str, dict[str, Any]], source: str) -> Path:
    """DIR/inventory.yml: one group with every host and its variables (mode 0600: it may hold secrets).

    Written as JSON, which is YAML: no PyYAML import in benchctl's process (with a system-wide
    ansible-core, benchctl's venv has no yaml module and `import yaml` was a traceback)."""
    body = json.dumps({GROUP: {"hosts": hosts}}, indent=2, sort_keys=True) + "\n"
    text = (
        f"# Hosts of this campaign, from {source} (via ansible-inventory --list).\n"
        "# Edit freely; variables benchctl reads are listed at the top of campaign.yml.\n" + body
    )
    path = Path(folder) / INVENTORY_FILE
    atomic_write_text(path, text)
    path.chmod(0o600)
    return path


def write_config(folder: Path) -> Path:
    path = Path(folder) / CONFIG_FILE
    atomic_write_text(path, ANSIBLE_CFG)
    return path
