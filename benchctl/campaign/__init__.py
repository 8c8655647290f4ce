"""Campaigns: two kernels x several boots per host, interleaved, verified, driven through Ansible.

The data flow, one module each:

    schedule.py   arms (KERNEL[:CMDLINE]), boot order, plan.json (benchctl-campaign-plan/1)
    inventory.py  the user's inventory read by ansible-inventory -> DIR/inventory.yml, ansible.cfg
    playbook.py   DIR/campaign.yml: select, reboot, verify, run, fetch one planned boot per host
    verify.py     is this boot the planned arm? (host side: `benchctl campaign verify`)
    progress.py   progress.json (benchctl-campaign-progress/1), events.jsonl, status and ETA
    runner.py     `benchctl campaign run`: one ansible-playbook round per boot, results stored
    inputs.py     a campaign folder as the input of analyze and plan

Ansible does what it is good at (ssh to many hosts in parallel, reboot and
wait for a new boot id, copy files); benchctl decides what to boot, checks
what came up and keeps the books. docs/campaign.md describes the formats.
"""

# The public entry points: what a command, another package or a test may import from here.
__all__ = [
    "adaptive",
    "collect",
    "folder",
    "inputs",
    "inventory",
    "measure",
    "playbook",
    "progress",
    "runner",
    "schedule",
    "verify",
]
