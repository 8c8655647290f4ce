"""The claim criterion of benchctl bisect on simulated kernels (reduced; tests/perf/bisect_claim_aa.py
runs 100 seeded trials of each)."""

from __future__ import annotations

from bisect_sim import trial


def test_finds_the_kernel_where_the_change_turns_on_and_steps_stop_when_decided():
    for seed in range(3):
        t = trial(6, 3, seed)
        a = t.answer
        assert (a.kind, a.first_bad, a.last_good) == ("culprit", 3, 2), (seed, a)
        # 8 reference boots plus at most 8 per step; the model's change decides steps early
        assert t.boots < 8 + 8 * t.steps, (seed, t.boots, t.steps)


def test_an_aa_list_reports_no_change_not_a_culprit():
    kinds = [trial(6, None, seed).answer.kind for seed in range(6)]
    assert "culprit" not in kinds and kinds.count("no-change") >= 5, kinds


def test_an_exact_claim_needs_two_boots():
    t = trial(5, 2, 0, claim_id="boot-memory-total", boots=2)
    assert (t.answer.kind, t.answer.first_bad) == ("culprit", 2)
