"""The bisection's search and its criteria, over decisions and recorded boots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchctl.bisect import criteria, search
from benchctl.errors import UsageError

REPO = Path(__file__).resolve().parents[2]
SAME = REPO / "tests" / "fixtures" / "arm64-trixie-campaign" / "same-kernel"


def bisect(truth: list[str], skips: set[int] = frozenset()) -> tuple[search.Answer, list[int]]:
    """Run the search against a known list; returns the answer and the order kernels were tested."""
    states: dict[int, str] = {}
    order = []
    while (i := search.next_index(len(truth), states)) is not None:
        order.append(i)
        states[i] = "skip" if i in skips else truth[i]
    return search.answer(len(truth), states), order


@pytest.mark.parametrize("n", [2, 3, 5, 7, 16])
def test_finds_the_first_bad_of_every_list_in_log2_steps(n):
    import math

    for first_bad in range(1, n):
        truth = ["good"] * first_bad + ["bad"] * (n - first_bad)
        a, order = bisect(truth)
        assert (a.kind, a.first_bad, a.last_good) == ("culprit", first_bad, first_bad - 1)
        assert len(order) <= 2 + math.ceil(math.log2(max(n - 2, 1))) + 1


def test_ends_that_do_not_hold():
    assert bisect(["good"] * 5)[0].kind == "no-change"
    assert bisect(["bad"] * 5)[0].kind == "bad-from-start"
    assert bisect(["good", "good", "bad"], skips={0})[0].kind == "ends-skipped"


def test_skipped_kernels_give_a_range():
    truth = ["good", "good", "good", "bad", "bad", "bad", "bad"]
    a, _ = bisect(truth, skips={3})
    assert (a.kind, a.last_good, a.first_bad, a.candidates) == ("range", 2, 4, (3, 4))
    a, _ = bisect(["good", "good", "bad", "bad"], skips={1, 2})
    assert (a.kind, a.last_good, a.first_bad, a.candidates) == ("range", 0, 3, (1, 2, 3))


def test_criteria_parse_and_refuse():
    c = criteria.parse("fact:linear_map.state=block")
    assert (c.kind, c.key, c.value) == ("fact", "linear_map.state", "block")
    assert criteria.parse("log:BUG: sleeping function").pattern == "BUG: sleeping function"
    for bad in ("linear_map.state=block", "fact:state=block", "fact:linear_map.state", "log:(", "what:x"):
        with pytest.raises(UsageError):
            criteria.parse(bad)


def test_a_fact_criterion_on_recorded_boots():
    c = criteria.parse("fact:linear_map.state=block")
    ev = {}
    for rec in sorted(SAME.glob("boots/*/*/boot.json")):
        b = json.loads(rec.read_text())
        ev[b["arm"]] = ev.get(b["arm"], []) + [criteria.judge_boot(c, rec.parent, b["boot_id"])]
    assert criteria.decide(ev["block"]) == "bad" and criteria.decide(ev["pte"]) == "good"
    assert ev["block"][0].line.endswith("state=block (kcore)")
    assert criteria.decide(ev["block"] + ev["pte"]) == "skip"  # boots that disagree decide nothing
    missing = criteria.judge_boot(criteria.parse("fact:linear_map.nosuch=1"), rec.parent, "x")
    assert missing.bad is None and criteria.decide([missing]) == "skip"


def test_a_log_criterion(tmp_path):
    boot = tmp_path / "000-k1"
    boot.mkdir()
    c = criteria.parse(r"log:BUG: sleeping function called from invalid context")
    assert criteria.judge_boot(c, boot, "abc").bad is None  # no log saved: no evidence
    (boot / criteria.BOOT_LOG).write_text(
        "[    0.0] Booting Linux\n[   12.3] BUG: sleeping function called from invalid context at "
        "kernel/locking/mutex.c:580\n"
    )
    e = criteria.judge_boot(c, boot, "abcdef0123")
    assert e.bad is True and e.line.startswith("abcdef01: [   12.3] BUG: sleeping")


BISECTS = REPO / "tests" / "fixtures" / "arm64-bisect"


@pytest.mark.parametrize("name", ["linear-map", "bbml2-line"])
def test_recorded_bisections_name_the_first_618_and_their_boots(name):
    """`make bisect-demo`'s folders: the log names 6.18.5 with every step's boot, and the recorded
    boots judged again by the criterion give the same decisions."""
    from benchctl.bisect import driver

    folder = BISECTS / name
    doc = driver.result_doc(folder)
    assert doc["answer"] == {"kind": "culprit", "first_bad": "6.18.5", "last_good": "6.17.13", "candidates": []}
    text = driver.log_text(folder)
    assert max(map(len, text.splitlines())) <= 72
    for step in doc["steps"]:
        assert step["boots"][0][:8] in text
    crit = criteria.from_dict(json.loads((folder / "bisect.json").read_text())["criterion"])
    for step in doc["steps"]:
        boots = list((folder / step["step"]).glob("boots/*/*/boot.json"))
        ev = [criteria.judge_boot(crit, b.parent, json.loads(b.read_text())["boot_id"]) for b in boots]
        assert criteria.decide(ev) == step["decision"], step
