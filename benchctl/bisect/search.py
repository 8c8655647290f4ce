"""Which kernel next, and the answer: binary search over an ordered list with skips.

The list runs from a kernel assumed good (first) to one assumed bad (last); both ends are tested
first, as a bisection whose ends do not hold proves nothing: a good last kernel or a bad first one
is "no change found" (or "bad from the start"), never a culprit, and an end that cannot be judged
(skipped) stops the bisection. Between them, the next kernel is
the untested, unskipped one nearest the middle of (last good, first bad); when only skipped
kernels remain between the two, the answer is a range, as `git bisect` gives it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    kind: str  # culprit | range | no-change | bad-from-start | ends-skipped | pending
    first_bad: int | None = None
    last_good: int | None = None
    candidates: tuple[int, ...] = ()  # a range: the kernels any of which may be the first bad


def next_index(n: int, states: dict[int, str]) -> int | None:
    """The kernel to test next (states: index -> good/bad/skip), None when the answer is known."""
    for end in (0, n - 1):
        if end not in states:
            return end
    a = answer(n, states)
    if a.kind != "pending":
        return None
    lo, hi = a.last_good, a.first_bad
    assert lo is not None and hi is not None
    open_ = [i for i in range(lo + 1, hi) if i not in states]
    mid = (lo + hi) / 2
    return min(open_, key=lambda i: (abs(i - mid), i))


def answer(n: int, states: dict[int, str]) -> Answer:
    """What the decisions so far establish."""
    if "skip" in (states.get(0), states.get(n - 1)):
        return Answer("ends-skipped")
    if states.get(0) == "bad":
        return Answer("bad-from-start", first_bad=0)
    if states.get(n - 1) == "good":
        return Answer("no-change", last_good=n - 1)
    goods = [i for i, s in states.items() if s == "good"]
    bads = [i for i, s in states.items() if s == "bad"]
    if not goods or not bads:
        return Answer("pending")
    lo = max(i for i in goods if i < min(bads)) if any(i < min(bads) for i in goods) else None
    hi = min(bads)
    if lo is None:
        return Answer("bad-from-start", first_bad=hi)
    between = [i for i in range(lo + 1, hi)]
    if not between:
        return Answer("culprit", first_bad=hi, last_good=lo)
    if all(states.get(i) == "skip" for i in between):
        return Answer("range", first_bad=hi, last_good=lo, candidates=tuple(between) + (hi,))
    return Answer("pending", first_bad=hi, last_good=lo)
