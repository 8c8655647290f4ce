"""`benchctl plan --adaptive` (issue 20, item 3): boots until every claim is decided, by simulation."""

from __future__ import annotations

import json
import sys

import deadline  # tests/support/deadline.py: waits with a deadline
import pytest

from benchctl.analyze.adaptive_design import claim_noises
from benchctl.analyze.design import cheapest_designs, stated_pilot
from benchctl.claims import load_claims
from benchctl.cli import cli
from benchctl.model.simulate import simulate

ARGS = ["plan", "--baseline", "pte", "--candidate", "block", "--claims", "bbml2", "--adaptive"]


@pytest.fixture(scope="module")
def pilot(tmp_path_factory):
    out = tmp_path_factory.mktemp("pilot")
    simulate("ampereone", out, arms=["pte", "block"], boots=3, iterations=3, seed=4)
    return out


def test_from_a_pilot(cli_runner, pilot):
    r = cli_runner.invoke(cli, [*ARGS, str(pilot), "--iteration-cost", "10", "--campaigns", "300", "--format", "json"])
    assert r.exit_code == 0, r.output
    a = json.loads(r.stdout)["adaptive"]
    per = {c["id"]: c for c in a["claims"]}
    assert per["boot-memory-total"]["exact"] and per["boot-memory-total"]["true"]["mean"] == 2.0
    assert not per["memcached-ops"]["exact"]
    # the campaign waits for its slowest claim, in every simulated campaign
    assert a["true"]["mean"] >= max(c["true"]["mean"] for c in a["claims"]) - 1e-9
    assert a["true"]["p90"] >= a["true"]["mean"] >= 2 and a["campaigns"] == 300


def test_noise_is_the_pilots():
    claims = [c for c in load_claims("bbml2") if c.metric in ("ops_per_sec", "mem_total_kb") and c.kind == "change"]
    result = stated_pilot(
        claims, 2.0, 1.0, baseline="pte", candidate="block", confidence=0.95, reboot_s=300.0, iteration_s=10.0
    )
    rows = cheapest_designs(result, claims, None)
    noises, left = claim_noises(result, claims, rows)
    assert not left
    by_id = {n.claim.id: n for n in noises}
    ops = by_id["memcached-ops"]
    assert ops.between_cv == pytest.approx(0.02) and ops.within_cv == pytest.approx(0.01)
    assert ops.iterations == rows[[c.id for c in claims].index("memcached-ops")]["plan"]["iterations_per_boot"]
    assert by_id["boot-memory-total"].exact  # MemTotal has no boot noise whatever noise is stated


def test_from_stated_noise_text(cli_runner):
    r = cli_runner.invoke(
        cli, [*ARGS, "--noise-boot", "1", "--noise-iter", "0.5", "--iteration-cost", "10", "--campaigns", "200"]
    )
    assert r.exit_code == 0, r.output
    assert "adaptive (--until-decided)" in r.stdout and "exact rule" in r.stdout
    assert "no fixed plan reaches the power for boot-memory" in r.stdout
    assert all(len(line) <= 72 for line in r.stdout.splitlines())


def test_adaptive_needs_claims():
    r = deadline.run(
        [sys.executable, "-m", "benchctl", "plan", "--baseline", "a", "--candidate", "b", "--effect", "2"]
        + ["--adaptive"],
        timeout=120,
        phase="benchctl plan --adaptive without claims",
        text=True,
    )
    assert r.returncode == 2 and "--claims" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
