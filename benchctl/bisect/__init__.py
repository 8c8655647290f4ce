"""`benchctl bisect`: the first kernel of an ordered list whose boots meet a criterion, by real reboots.

criteria (what makes a boot bad) -> search (which kernel next, the answer) -> driver (a campaign
folder per step, the decision and its evidence appended to the log) -> commands/bisect.py.
"""
