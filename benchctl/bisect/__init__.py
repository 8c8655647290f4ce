"""`benchctl bisect`: the first kernel of an ordered list whose boots meet a criterion, by real reboots.

criteria (what makes a boot bad) -> search (which kernel next, the answer) -> driver (a campaign
folder per step, the decision and its evidence appended to the log) -> commands/bisect.py.
"""

# The public entry points: what a command, another package or a test may import from here.
__all__ = ["claim", "criteria", "driver", "gitrange", "search"]
