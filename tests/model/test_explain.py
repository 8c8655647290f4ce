"""model explain: what the published values would need, by inverting the model (never changing it)."""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import deadline  # tests/support/deadline.py: waits with a deadline
import numpy as np
import pytest
from scipy import stats

from benchctl.model.explain import explain, min_norm_point
from benchctl.model.predict import claim_change, predict, prepare, stated_range
from benchctl.model.profiles import Figure
from benchctl.model.render import decimals, markdown_explain, render_explain, render_predictions

DOCS = Path(__file__).resolve().parents[2] / "docs" / "model.md"
# The published machine (commit a166563e7ec3): MemTotal 258988984 -> 259505132 kB.
PUBLISHED_MEMTOTAL_CHANGE_KB = 259_505_132 - 258_988_984


@pytest.fixture(scope="module")
def ampere(tmp_path_factory):
    return explain("ampereone", plots_dir=tmp_path_factory.mktemp("explain"))


@pytest.fixture(scope="module")
def prepared():
    return prepare("ampereone")


def _at(prepared, claim_id: str, values: dict[str, float]) -> float:
    """The model's change for one claim with every figure at its median except `values`."""
    model = prepared.model
    v = {k: np.array([model.figures[k].quantile(0.5)]) for k in prepared.v}
    v.update({k: np.array([x]) for k, x in values.items()})
    claim = next(c for c in prepared.claims if c.id == claim_id)
    return float(claim_change(model, claim, v)[0][0])


def test_min_norm_point_matches_the_closed_form_of_a_linear_model():
    # y = a . z: the nearest point of the plane a . z = t is z* = t a / |a|^2, at distance |t| / |a|
    a, t = np.array([3.0, -1.0, 2.0]), 2.5
    z, reached = min_norm_point(lambda zz: np.atleast_2d(zz) @ a, 3, t)
    assert z is not None and reached == pytest.approx(t, abs=1e-6)
    np.testing.assert_allclose(z, t * a / (a @ a), atol=1e-4)
    # out of reach inside |z| <= 4: no point, and the nearest value the box allows (4 |a|_1 = 24)
    z, reached = min_norm_point(lambda zz: np.atleast_2d(zz) @ a, 3, 100.0)
    assert z is None and reached == pytest.approx(24.0, rel=1e-3)


@pytest.mark.parametrize(
    "fig, dist",
    [
        (Figure(5.0, "assumed", "t", 2.0, 10.0, "uniform"), stats.uniform(2.0, 8.0)),
        (Figure(5.0, "assumed", "t", 2.0, 10.0, "loguniform"), stats.loguniform(2.0, 10.0)),
        (Figure(4.0, "assumed", "t", 2.0, 10.0, "triangular"), stats.triang(0.25, 2.0, 8.0)),
        (Figure(3.0, "assumed", "t", None, None, "normal", 0.5), stats.norm(3.0, 0.5)),
    ],
)
def test_figure_cdf_is_scipys_and_inverts_quantile(fig, dist):
    for x in (2.5, 3.1, 4.0, 7.9):
        assert fig.cdf(x) == pytest.approx(dist.cdf(x), abs=1e-12)
    for q in (0.01, 0.3, 0.5, 0.95):
        assert fig.cdf(fig.quantile(q)) == pytest.approx(q, abs=1e-9)


def test_stated_range_is_the_rounding_of_the_published_number():
    assert stated_range((0.199, 0.199)) == pytest.approx((0.1985, 0.1995))
    assert stated_range((90.0, 150.0)) == pytest.approx((89.5, 150.5))


def test_tables_show_enough_decimals_to_say_why():
    assert decimals(5.70, 26.97) == 2 and decimals(0.169, 0.239) == 3 and decimals(0.19922, 0.19986) == 5
    text = render_predictions(predict("ampereone", workloads=["boot-memory"]))
    row = next(line for line in text.splitlines() if line.startswith("boot-memory-to"))
    assert re.search(r"\[\+0\.199\d\d, \+0\.199\d\d\]\s+yes$", row), row


def test_every_claim_outside_its_interval_is_explained(ampere):
    pred = predict("ampereone")
    outside = {p["claim"] for p in pred["predictions"] if p["published_inside_interval"] is False}
    explained = {c["claim"] for c in ampere["claims"] if c["inside"] is False}
    assert outside == explained and {"memcached-ops", "dmcrypt-iops", "seqread-bw"} <= explained
    for c in ampere["claims"]:
        if c["inside"] is not False:
            continue
        # explain changes nothing: its model is predict's
        assert c["median_pct"] == next(p for p in pred["predictions"] if p["claim"] == c["claim"])["median_pct"]
        assert c["assumptions"] and c["reading"]
        assert 0.0 <= c["share_of_draws_reaching"] < 0.05


def test_needed_values_reproduce_the_published_value(ampere, prepared):
    checked = 0
    for c in ampere["claims"]:
        if c["inside"] is not False:
            continue
        for a in c["assumptions"]:
            lo, hi = a["reach_pct"]
            if a["needed"] is None:
                assert not lo <= c["target_pct"] <= hi or lo == hi  # the scan never crosses it
                continue
            got = _at(prepared, c["claim"], {a["name"]: a["needed"]})
            assert got == pytest.approx(c["target_pct"], rel=0.01, abs=0.05), (c["claim"], a["name"])
            assert a["needed_quantile"] == pytest.approx(prepared.model.figures[a["name"]].cdf(a["needed"]))
            checked += 1
        j = c["joint"]
        if j["reached"]:
            assert _at(prepared, c["claim"], j["values"]) == pytest.approx(c["target_pct"], rel=0.01)
            d = math.sqrt(sum(z * z for z in j["z"].values()))
            assert j["distance_sd"] == pytest.approx(d)
            # worked form of the chi-square tail for an even number of degrees of freedom (k = 4):
            # P(chi2_4 >= x) = exp(-x/2) (1 + x/2)
            assert j["dof"] == 4 and j["p_chi2"] == pytest.approx(math.exp(-d * d / 2) * (1 + d * d / 2), rel=1e-9)
            # the joint point is no farther than the best single assumption inside its range
            singles = [abs(a["needed_z"]) for a in c["assumptions"] if a["needed_z"] is not None]
            assert all(j["distance_sd"] <= s + 1e-6 for s in singles)
    assert checked >= 2


def test_memcached_ops_needs_kernel_cycles_beyond_their_stated_range(ampere):
    c = next(c for c in ampere["claims"] if c["claim"] == "memcached-ops")
    a = next(a for a in c["assumptions"] if a["name"].endswith("server.cycles_per_op"))
    assert a["needed"] > 60000 and a["needed_quantile"] == 1.0
    assert "outside the stated range" in c["reading"]


def test_dmcrypt_is_out_of_the_models_reach(ampere):
    c = next(c for c in ampere["claims"] if c["claim"] == "dmcrypt-iops")
    assert c["target_pct"] == 90.0  # the end of +90..150 % nearest the model
    assert not c["joint"]["reached"] and c["joint"]["value_pct"] < 90.0


def test_text_json_and_figure(ampere):
    text = render_explain(ampere)
    assert text.startswith("SIMULATED")
    assert all(len(line) <= 72 for line in text.splitlines()), [x for x in text.splitlines() if len(x) > 72]
    assert ampere["simulated"] is True and ampere["format"] == "benchctl-model-explain/1"
    json.dumps(ampere)
    assert Path(ampere["plot"]).stat().st_size > 0 and Path(ampere["plot"]).with_suffix(".svg").exists()


def test_docs_table_is_current(ampere):
    assert markdown_explain(ampere) in DOCS.read_text(), "regenerate the explain table in docs/model.md"


def test_published_memtotal_change_is_inside_its_interval():
    p = next(p for p in predict("ampereone", workloads=["boot-memory"])["predictions"] if p["claim"] == "boot-memory")
    lo, hi = p["mem_total"]["interval_kb"]
    assert lo <= PUBLISHED_MEMTOTAL_CHANGE_KB <= hi
    total = next(
        p for p in predict("ampereone", workloads=["boot-memory"])["predictions"] if p["claim"] == "boot-memory-total"
    )
    assert total["published_inside_interval"] is True
    # the exact published percentage, not only its rounding, lies inside too
    lo_pct, hi_pct = total["interval_pct"]
    assert lo_pct <= 100 * PUBLISHED_MEMTOTAL_CHANGE_KB / 258_988_984 <= hi_pct


def test_cli_explain_one_claim_and_usage_error():
    args = [sys.executable, "-m", "benchctl", "model", "explain"]
    r = deadline.run([*args, "seqread-bw", "--draws", "300"], timeout=300, phase="model explain", text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("SIMULATED") and "seqread-bw: published +150 %" in r.stdout
    assert "memcached-ops" not in r.stdout
    assert all(len(line) <= 72 for line in r.stdout.splitlines())
    bad = deadline.run([*args, "no-such-claim", "--draws", "300"], timeout=300, phase="model explain", text=True)
    assert bad.returncode != 0 and "unknown claim" in bad.stderr and "Traceback" not in bad.stderr
