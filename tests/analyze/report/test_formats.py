"""Report formats: text for mail (ASCII, <= 72 columns), markdown, stable JSON."""

import json

import analysis_data as ad
import numpy as np
import pytest

from benchctl.analyze.report import render
from benchctl.analyze.report.text import chart
from benchctl.analyze.result import analyze
from benchctl.claims import Claim
from benchctl.results.loader import load_runs

CLAIMS = [
    Claim("memcached-ops", "memcached", "ops_per_sec", "increase", 3.5, 3.5, 0.9),
    Claim("memcached-p99", "memcached", "p99_latency_us", "decrease", -9.6, -9.6, 2.4),
    Claim("seqread-bw", "seqread-xfs", "bandwidth_bytes_s", "increase", 150, 150, 37.5),
]


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    rng = np.random.default_rng(3)
    recs = ad.rows(rng) + ad.rows(rng, metric="p99_latency_us", unit="us", arms=(("pte", 200.0), ("block", 181.0)))
    root = tmp_path_factory.mktemp("runs")
    by_arm = {"pte": [r for r in recs if r["arm"] == "pte"], "block": [r for r in recs if r["arm"] == "block"]}
    ad.write_runs(root, by_arm["pte"], state="pte")
    ad.write_runs(root, by_arm["block"], state="pte", tainted=True)  # both pte: the check must fire
    return analyze(load_runs([root]), "pte", "block", CLAIMS, seed=1, resamples=2000)


def test_text_is_ascii_72_columns_no_tabs(result):
    text = render(result, "text")
    assert text.isascii() and "\t" not in text
    assert max(len(line) for line in text.splitlines()) <= 72
    assert "h1" in text and "6.18.0-rc6" in text and "pte 5x10, block 5x10 (boots x iterations)" in text


def test_text_checks_before_numbers_and_warnings_last(result):
    text = render(result, "text")
    i_checks = text.index("Checks")
    i_both = text.index("both arms have the linear map in state 'pte'")
    i_claims = text.index("Claims")
    i_warn = text.index("\nWarnings")
    assert i_checks < i_both < i_claims < i_warn
    assert "tainted" in text[i_checks:i_claims]
    assert "why: no bandwidth_bytes_s data" in text[i_claims:i_warn]
    for cl in result["claims"]:
        assert cl["id"] in text[i_claims:i_warn]
        assert cl["verdict"].upper().replace("NOT-JUDGED", "NOT JUDGED") in text[i_claims:i_warn]


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
    for k in (
        "workload",
        "metric",
        "unit",
        "baseline",
        "candidate",
        "change_pct",
        "ci_pct",
        "p_value",
        "method",
        "variance_components",
        "warnings",
    ):
        assert k in comp, k
    for k in ("n_boots", "n_samples", "mean", "median"):
        assert k in comp["baseline"] and k in comp["candidate"]
    assert len(comp["ci_pct"]) == 2
    for cl in j["claims"]:
        for k in (
            "id",
            "workload",
            "metric",
            "claimed",
            "tolerance",
            "verdict",
            "change_pct",
            "ci_pct",
            "p_value",
            "p_adjusted",
            "warnings",
        ):
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


def test_one_boot_gets_not_judged_and_why_next_to_the_verdict(tmp_path):
    recs = ad.rows(np.random.default_rng(3), boots=1, iters=20, arms=(("pte", 100.0), ("block", 110.0)))
    ad.write_runs(tmp_path, recs)
    claim = [Claim("x", "memcached", "ops_per_sec", "increase", 10, 10, 3)]
    res = analyze(load_runs([tmp_path]), "pte", "block", claim, resamples=500)
    text = render(res, "text")
    i = text.index("verdict: NOT JUDGED")
    assert text[i:].split("\n")[1].strip().startswith("why: one boot per arm")
    assert "fewer than 2 boots" in text[text.index("Checks") : text.index("Claims")]
    assert "**not judged**" in render(res, "markdown")


def test_design_checks_attached_to_every_json_result_but_printed_once(result):
    j = json.loads(render(result, "json"))
    both = next(c for c in j["checks"] if "both arms have the linear map" in c)
    assert all(both in c["warnings"] for c in j["claims"] + j["comparisons"])
    assert render(result, "text").count("both arms have the linear map") == 1


def test_brief_fits_a_mail_with_human_units(result):
    text = render(result, "text", brief=True)
    lines = text.splitlines()
    assert len(lines) <= 40 and max(len(x) for x in lines) <= 72 and text.isascii()
    assert "pte 5x10, block 5x10 (boots x iterations)" in lines[1]
    assert "e+0" not in text and "sd between boots" in text and " %" in text
    for cl in result["claims"]:
        assert cl["id"] in text


def test_brief_of_many_claims_stays_within_40_lines(tmp_path):
    recs = []
    rng = np.random.default_rng(7)
    metrics = [f"m{i}" for i in range(12)]
    for m in metrics:
        recs += ad.rows(rng, metric=m, boots=3, iters=3)
    ad.write_runs(tmp_path, recs)
    claims = [Claim(f"c-{m}", "memcached", m, "increase", 3.5, 3.5, 0.9) for m in metrics]
    res = analyze(load_runs([tmp_path]), "pte", "block", claims, resamples=300)
    lines = render(res, "text", brief=True).splitlines()
    assert len(lines) <= 40 and max(len(x) for x in lines) <= 72
    assert any("more lines in the full report" in x for x in lines)


@pytest.mark.parametrize(
    "x, unit, text",
    [
        (254906941.6, "kB", "243.1 GiB"),
        (6.931e9, "B/s", "6.455 GiB/s"),
        (278784.1, "KiB/s", "272.3 MiB/s"),
        (287280.2, "ops/s", "287.3k ops/s"),
        (214.1, "us", "214.1 us"),
        (1551.0, "us", "1.551 ms"),
        (0.7953, "MPKI", "0.7953 MPKI"),
        (2.942e10, "count", "29.42G count"),
        (None, "us", "n/a"),
    ],
)
def test_human_units(x, unit, text):
    from benchctl.analyze.report.units import human

    assert human(x, unit) == text


def test_one_design_notation():
    from benchctl.analyze.report.units import design

    assert design(4, [5, 5, 5, 5]) == "4x5" and design(3, [1, 3, 2]) == "3x1-3" and design(2, iterations=7) == "2x7"


def test_forest_draws_every_claim_on_its_own_scale_with_its_verdict(result, tmp_path):
    from benchctl.analyze.report.plots import write_plots
    from benchctl.results.loader import load_csv

    tidy = load_csv([ad.write_csv(tmp_path / "t.csv", ad.rows(np.random.default_rng(3)))])
    written = write_plots(result, tidy, tmp_path / "p", ["t.csv"])
    svg = (tmp_path / "p" / "claims-forest.svg").read_text()
    for cl in result["claims"]:
        if cl["ci_pct"]:
            assert cl["id"] + ":" in svg and cl["verdict"].upper().replace("-", "") in svg.replace("-", "")
    assert "no data (not drawn): seqread-bw" in svg
    assert {p.name for p in written} >= {"claims-forest.png", "contact-sheet.png", "index.md"}


def test_titles_are_wrapped_to_the_figure():
    from benchctl.analyze.report.forest import fit_title

    lines = fit_title("x " * 200, 7.5).splitlines()
    assert len(lines) > 1 and max(len(x) for x in lines) <= int(0.85 * 7.5 * 72 / (0.62 * 11))
