"""DIR/campaign.yml: the playbook that does one planned boot per host, and running one round of it.

The playbook is a static, commented file shipped with benchctl (campaign.yml
beside this module) and copied verbatim: everything that varies comes from
plan.json and inventory.yml at run time, so a user reads one playbook, and an
edited plan needs no new playbook. A round is one ansible-playbook run with
the extra variables saying which boot each host does; its output goes to
DIR/logs/, and what Ansible gave up on outside the playbook's rescue (an
unreachable host) is read back from that log.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from benchctl.campaign.inventory import CONFIG_FILE, INVENTORY_FILE, ansible_program
from benchctl.errors import ResourceError
from benchctl.osutil.fsutil import atomic_write_json, atomic_write_text
from benchctl.run.proctree import kill_group

PLAYBOOK_FILE = "campaign.yml"
PLAYBOOK_FORMAT = "benchctl-campaign-playbook/1"
ROUND_SLACK_S = 300  # ansible-playbook start-up, packing and fetching, on top of the plan's timeouts
ANSIBLE_GRACE_S = 5.0  # SIGTERM lets ansible-playbook stop its workers and close ssh before SIGKILL


def text() -> str:
    return resources.files("benchctl.campaign").joinpath(PLAYBOOK_FILE).read_text(encoding="utf-8")


def write_playbook(folder: Path) -> Path:
    path = Path(folder) / PLAYBOOK_FILE
    atomic_write_text(path, text())
    return path


# -- what a killed controller left running ------------------------------------------------------------

MARKER = "BENCHCTL_CAMPAIGN"


def _marked(campaign_id: str) -> list[int]:
    """Processes carrying this campaign's marker in their environment (ansible-playbook, its workers, ssh)."""
    needle = f"{MARKER}={campaign_id}".encode()
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            if needle in (d / "environ").read_bytes().split(b"\0"):
                out.append(int(d.name))
        except OSError:
            continue
    return out


def reap_leftovers(campaign_id: str, echo: Callable[[str], None], wait_s: float = 10.0) -> None:
    """Kill what a killed controller left running: its ansible-playbook may still be rebooting hosts,
    and two rounds on one host would load one kernel and boot another. Found by an environment
    marker that every process of a round inherits, not by a pid that might be recorded too late."""
    pids = _marked(campaign_id)
    if not pids:
        return
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + wait_s
    while _marked(campaign_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _marked(campaign_id)
    if left:
        raise ResourceError(
            f"processes of a stopped controller of this campaign will not die (pids "
            f"{', '.join(map(str, left[:5]))}); kill them and run again"
        )
    echo(f"campaign: killed {len(pids)} process(es) left running by a stopped controller")


# -- one round ---------------------------------------------------------------------------------------------

_TASK = re.compile(r"^TASK \[(.*)\] \**\s*$")
_FATAL = re.compile(r"^fatal: \[([^\]]+)\]: (UNREACHABLE|FAILED)! => (\{.*\})\s*$")


def parse_log(text: str) -> dict[str, tuple[str, str, str]]:
    """{host: (task, kind, message)} of hosts Ansible gave up on outside the playbook's rescue
    (unreachable hosts above all), from the default callback's output."""
    out: dict[str, tuple[str, str, str]] = {}
    task = ""
    for line in text.splitlines():
        m = _TASK.match(line)
        if m:
            task = m[1]
            continue
        m = _FATAL.match(line)
        if m:
            try:
                msg = str(json.loads(m[3]).get("msg", "")).strip()
            except ValueError:
                msg = m[3][:200]
            out[m[1]] = (task, m[2], msg.splitlines()[-1] if msg else m[2].lower())
    return out


def first_error(text: str) -> str:
    for line in text.splitlines():
        s = line.strip()
        if s.startswith(("ERROR!", "[ERROR]")):
            return s.removeprefix("[ERROR]:").removeprefix("ERROR!").strip()
    return ""


def phase_of(task: str) -> str:
    head, colon, _ = task.partition(":")
    return head.strip() if colon else (task or "ansible")


def round_deadline(plan: dict[str, Any]) -> float:
    t = plan["timeouts"]
    steps = 1 if plan["run"].get("suite") else len(plan["run"]["workloads"])
    return 3 * t["connect_s"] + 2 * t["reboot_s"] + steps * t["suite_s"] + ROUND_SLACK_S


def play_round(
    folder: Path, plan: dict[str, Any], todo: dict[str, int], number: int, attempt: str, ansible_args: list[str]
) -> tuple[int, str]:
    """Run the playbook for these hosts and boots; returns (ansible rc, log text)."""
    state = folder / "state"
    logs = folder / "logs"
    state.mkdir(exist_ok=True)
    logs.mkdir(exist_ok=True)
    extra = state / f"round-{number:03d}.json"
    atomic_write_json(extra, {"benchctl_next": todo, "benchctl_attempt": attempt})
    log_path = logs / f"round-{number:03d}.{attempt}.log"
    argv = [
        ansible_program("ansible-playbook"),
        "-i",
        str(folder / INVENTORY_FILE),
        str(folder / PLAYBOOK_FILE),
        "-e",
        f"@{extra}",
        "--limit",
        ",".join(sorted(todo)),
        *ansible_args,
    ]
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(folder / CONFIG_FILE),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "PYTHONUNBUFFERED": "1",
        "ANSIBLE_LOG_PATH": str(logs / "ansible.log"),  # the same lines with timestamps: where the time went
        MARKER: plan["id"],
    }
    deadline = round_deadline(plan)
    with open(log_path, "w") as log:
        log.write(f"# round {number}: {' '.join(argv)}\n")
        log.flush()
        proc = subprocess.Popen(
            argv,
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        try:
            rc = proc.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            kill_group(proc, grace_s=ANSIBLE_GRACE_S)
            log.write(f"\n# benchctl: round deadline of {deadline:.0f} s passed; killed ansible-playbook\n")
            rc = -9
        except BaseException:
            kill_group(proc, grace_s=ANSIBLE_GRACE_S)
            raise
    return rc, log_path.read_text(errors="replace")
