"""Report formats: text for mail (ASCII, <= 72 columns), markdown, stable JSON."""

import json

import numpy as np
import pytest

import analysis_data as ad
from benchctl.analyze.result import analyze
from benchctl.analyze.claims import Claim
from benchctl.analyze.report import render
from benchctl.analyze.report.text import chart
from benchctl.results.loader import load_runs

CLAIMS = [Claim("memcached-ops", "memcached", "ops_per_sec", "increase", 3.5, 3.5, 0.9),
          Claim("memcached-p99", "memcached", "p99_latency_us", "decrease", -9.6, -9.6, 2.4),
          Claim("seqread-bw", "seqread-xfs", "bandwidth_bytes_s", "increase", 150, 150, 37.5)]


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    rng = np.random.default_rng(3)
    recs = ad.rows(rng) + ad.rows(rng, metric="p99_latency_us", unit="us", arms=(("pte", 200.0), ("block", 181.0)))
    root = tmp_path_factory.mktemp("runs")
    by_arm = {"pte": [r for r in recs if r["arm"] == "pte"], "block": [r for r in recs if r["arm"] == "block"]}
    ad.write_runs(root, by_arm["pte"], state="pte")
    ad.write_runs(root, by_arm["block"], state="pte", tainted=True)   # both pte: the check must fire
    return analyze(load_runs([root]), "pte", "block", CLAIMS, seed=1, resamples=2000)


def test_text_is_ascii_72_columns_no_tabs(result):
    text = render(result, "text")
    assert text.isascii() and "\t" not in text
    assert max(len(line) for line in text.splitlines()) <= 72
    assert "h1" in text and "6.18.0-rc6" in text and "5 boots x 10 iterations" in text


def test_text_checks_before_numbers_and_warnings_last(result):
    text = render(result, "text")
    i_checks = text.index("Checks")
    i_both = text.index("both arms have the linear map in state 'pte'")
    i_claims = text.index("Claims")
    i_warn = text.index("\nWarnings")
    assert i_checks < i_both < i_claims < i_warn
    assert "tainted" in text[i_checks:i_claims]
    assert "not judged: no bandwidth_bytes_s data" in text[i_warn:]
    for cl in result["claims"]:
        assert cl["id"] in text[i_claims:i_warn]
        assert cl["verdict"].upper() in text[i_claims:i_warn]


def test_chart_marks_interval_band_and_zero():
    rows = chart(-1.0, 6.0, 2.5, (2.6, 4.4))
    assert len(rows) == 3 and all(len(r) <= 72 for r in rows)
    claim_row, data_row = rows[0], rows[1]
    assert "=" in claim_row and "[" in data_row and "]" in data_row and "*" in data_row
    assert data_row.index("[") < data_row.index("*") < data_row.index("]")
    assert claim_row.index("=") > data_row.index("[")
    assert "|" in claim_row or "+" in data_row


def test_json_fields_exactly_as_issue(result):
    j = json.loads(render(result, "json"))
    assert {"comparisons", "claims"} <= set(j)
    comp = j["comparisons"][0]
    for k in ("workload", "metric", "unit", "baseline", "candidate", "change_pct", "ci_pct", "p_value",
              "method", "variance_components", "warnings"):
        assert k in comp, k
    for k in ("n_boots", "n_samples", "mean", "median"):
        assert k in comp["baseline"] and k in comp["candidate"]
    assert len(comp["ci_pct"]) == 2
    for cl in j["claims"]:
        for k in ("id", "workload", "metric", "claimed", "tolerance", "verdict", "change_pct", "ci_pct",
                  "p_value", "p_adjusted", "warnings"):
            assert k in cl, k


def test_same_seed_same_numbers(tmp_path):
    recs = ad.rows(np.random.default_rng(9))
    ad.write_runs(tmp_path, recs)
    a = render(analyze(load_runs([tmp_path]), "pte", "block", CLAIMS, seed=4, resamples=1000), "json")
    b = render(analyze(load_runs([tmp_path]), "pte", "block", CLAIMS, seed=4, resamples=1000), "json")
    c = render(analyze(load_runs([tmp_path]), "pte", "block", CLAIMS, seed=5, resamples=1000), "json")
    assert a == b and a != c


def test_simulated_banner_in_every_format(tmp_path):
    recs = ad.rows(np.random.default_rng(9), boots=3, iters=4)
    ad.write_runs(tmp_path, recs, simulated=True)
    res = analyze(load_runs([tmp_path]), "pte", "block", CLAIMS, resamples=500)
    assert res["simulated"]
    text = render(res, "text")
    assert text.splitlines()[1].strip().startswith("*** SIMULATED DATA")
    assert render(res, "markdown").startswith("> **SIMULATED DATA")
    j = json.loads(render(res, "json"))
    assert j["simulated"] is True and j["banner"].startswith("SIMULATED")


def test_markdown_has_tables(result):
    md = render(result, "markdown")
    assert "| claim | metric | measured |" in md and "### Warnings" in md
    assert md.index("### Checks") < md.index("### Claims")


def test_one_boot_verdict_is_flagged_next_to_the_verdict(tmp_path):
    recs = ad.rows(np.random.default_rng(3), boots=1, iters=20, arms=(("pte", 100.0), ("block", 110.0)))
    ad.write_runs(tmp_path, recs)
    claim = [Claim("x", "memcached", "ops_per_sec", "increase", 10, 10, 3)]
    res = analyze(load_runs([tmp_path]), "pte", "block", claim, resamples=500)
    text = render(res, "text")
    assert "verdict: CONFIRMED (ONE BOOT ONLY)" in text
    assert "fewer than 2 boots" in text[text.index("Checks"):text.index("Claims")]
    assert "(one boot only)" in render(res, "markdown")


def test_design_checks_attached_to_every_json_result_but_printed_once(result):
    j = json.loads(render(result, "json"))
    both = next(c for c in j["checks"] if "both arms have the linear map" in c)
    assert all(both in c["warnings"] for c in j["claims"] + j["comparisons"])
    assert render(result, "text").count("both arms have the linear map") == 1
