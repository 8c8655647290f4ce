"""The shape of the analysis result, as types mypy checks (docs/result-format.md "Analysis").

analyze() builds these and every report, command and the JSON writer
(report/jsonout.py) reads them. They are TypedDicts, not dataclasses: the
result is the `benchctl-analysis/2` document itself, so the JSON keys and
their order stay exactly what they were, while a misspelt or renamed key
(`row["ci_pct"]`) is a mypy error at its reader instead of a KeyError in a
report. Keys written only in some results (a claim's `equivalence`,
`scaling`, `prediction`, `sequential`; a comparison's `emulated`) are
`NotRequired`. (No `from __future__ import annotations` here: Python 3.11
reads NotRequired from evaluated annotations only, and tests/analyze/test_result_types.py
checks the real documents against __required_keys__.)
"""

from typing import TYPE_CHECKING, NotRequired, TypedDict, final

from benchctl.claims import Claimed

if TYPE_CHECKING:
    from typing_extensions import TypeIs


class ArmSummary(TypedDict):
    """One side of a comparison: per-boot statistics of one arm."""

    n_boots: int
    n_samples: int
    mean: float
    median: float
    boot_sd_pct: float | None
    boot_means: list[float]
    boots: list[str]
    samples_per_boot: list[int]


class TestOutcome(TypedDict):
    """One classical test on per-boot means (stats/classical.TestResult)."""

    test: str
    p_value: float | None
    statistic: float | None
    note: str | None


class Tests(TypedDict):
    welch: TestOutcome
    mann_whitney: TestOutcome


class VarianceComponents(TypedDict):
    """Within- and between-boot variance of one arm (stats/components.TwoLevel)."""

    within_boot_var: float
    between_boot_var: float
    between_boot_var_raw: float
    S1_sq: float
    S2_sq: float
    n_boots: int
    iterations_per_boot: float


class Resolution(TypedDict):
    latency_resolution: str | None
    resolution_pct: float


class Exact(TypedDict):
    """An exact metric with one value on every boot of each arm (sameness.py)."""

    baseline: float
    candidate: float
    reason: str


@final
class Comparison(TypedDict):
    """One (workload, metric) between the two arms (compare.py)."""

    workload: str
    metric: str
    unit: str
    baseline: ArmSummary
    candidate: ArmSummary
    change_pct: float
    ci_pct: list[float]
    bootstrap_ci_pct: list[float]
    p_value: float | None
    method: str
    variance_components: dict[str, VarianceComponents]
    warnings: list[str]
    ci_level_used: float
    tests: Tests
    resolution: Resolution | None
    setup: dict[str, list[str]]
    comparable: bool
    not_judged: list[str]
    exact: Exact | None
    emulated: NotRequired[bool]


class Decide(TypedDict, total=False):
    """Boots x iterations per arm that would decide an inconclusive claim (stats/power.Design), or only
    a note saying why none can."""

    boots_per_arm: int | None
    iterations_per_boot: int | None
    power: float | None
    cost_s: float | None
    kj_optimal_iterations: float | None
    note: str | None


class Equivalence(TypedDict):
    """TOST of an equivalence claim (kinds.equivalence_row, stats/equivalence.Tost)."""

    change_pct: float
    ci_pct: list[float]
    outer_pct: list[float]
    p_value: float | None
    verdict: str
    df: float | None
    margin_pct: float
    level: float


class ScalingPoint(TypedDict):
    ram_kb: int
    ram_gib: float
    baseline: float
    candidate: float
    change: float
    boots: list[int]
    exact: bool


class SlopeFit(TypedDict):
    slope: float
    intercept: float
    ci: list[float]
    se: float
    n: int
    residual_sd: float


class Scaling(TypedDict):
    """A scaling claim's change per machine size and the line through them (kinds.scaling_row)."""

    points: list[ScalingPoint]
    fit: SlopeFit | None
    per: str


class Sequential(TypedDict):
    """A claim judged on an anytime-valid confidence sequence (adaptive.judge_one)."""

    id: str
    verdict: str
    ci_pct: list[float] | None
    n_pairs: int
    decided: bool
    p_value: float | None  # anytime-valid p* for a zero change (stats/sequential); None: exact or not judged
    p_adjusted: NotRequired[float | None]  # Holm over the claims' p* (adaptive.holm_gate)
    note: NotRequired[str | None]
    method: NotRequired[str]
    expect_more: NotRequired[float | None]  # campaign/adaptive: pairs of boots still expected
    left_out: NotRequired[bool]  # campaign/adaptive: a workload the campaign does not measure


class ModelPoint(TypedDict):
    ram_gib: float
    change: float


class Prediction(TypedDict, total=False):
    """The model's figure beside a measured claim (predictions.attach), or why there is none."""

    model: str
    unavailable: str
    simulated: bool
    basis: str | None
    ram_bytes: int
    ram_from: str
    granule_bytes: int
    saving_bytes: int
    release: str
    saving_kb: float
    orientation: str
    change_pct: float | None
    scaling: bool
    points: list[ModelPoint]
    slope: float


@final
class ClaimResult(TypedDict):
    """One claim's verdict (judge.py); for not-judged the first warning says why."""

    id: str
    workload: str
    metric: str
    claimed: Claimed
    claimed_text: str
    tolerance: float
    verdict: str
    change_pct: float | None
    ci_pct: list[float] | None
    p_value: float | None
    p_adjusted: float | None
    warnings: list[str]
    decide: Decide | None
    exact: Exact | None
    line: int | None
    equivalence: NotRequired[Equivalence]
    scaling: NotRequired[Scaling]
    prediction: NotRequired[Prediction]
    sequential: NotRequired[Sequential]


class Emulated(TypedDict):
    """How many boots ran on an emulated CPU, how, and why (emulation.summary)."""

    boots: int
    of: int
    unknown: int
    how: str
    reason: str | None
    not_judged: list[str]


class Costs(TypedDict):
    reboot_s: float
    iteration_s: float
    note: str | None
    iteration_from: str


class ArmDesign(TypedDict):
    """Each arm's hosts, kernels, boots x iterations and setup (result._design)."""

    hosts: list[str]
    kernels: list[str]
    boots: int
    iterations_per_boot: int
    linear_map: list[str]
    linear_map_source: list[str]
    cpus: list[str]
    emulated: list[str]
    boot_methods: list[str]
    cmdlines: list[str]
    imported: int
    unknown_host: bool


class SkippedItem(TypedDict):
    file: str
    line: int | None
    reason: str


class Analysis(TypedDict):
    """The whole result of two arms (result.analyze)."""

    format: str
    simulated: bool
    emulated: Emulated | None
    baseline: str
    candidate: str
    confidence: float
    seed: int
    resamples: int
    costs: Costs
    design: dict[str, ArmDesign]
    checks: list[str]
    notes: list[str]
    skipped: list[str]
    skipped_items: list[SkippedItem]
    comparisons: list[Comparison]
    claims: list[ClaimResult]


# what the report helpers shared by both read: change_pct, ci_pct, exact, warnings, workload, metric
Row = Comparison | ClaimResult


class MultiAnalysis(TypedDict):
    """A baseline and several candidates, every pair an Analysis (arms.analyze_arms)."""

    format: str
    multi: bool
    baseline: str
    candidates: list[str]
    arms: list[str]
    confidence: float
    pair_confidence: float
    correction: str
    simulated: bool
    emulated: Emulated | None
    pairs: list[Analysis]


def sides(comp: Comparison) -> tuple[tuple[str, ArmSummary], tuple[str, ArmSummary]]:
    """The comparison's two arms as (role, summary), baseline first, for code that treats both alike."""
    return ("baseline", comp["baseline"]), ("candidate", comp["candidate"])


def fitted(row: ClaimResult) -> tuple[Scaling, SlopeFit] | None:
    """A scaling claim's points and fitted line, or None (not a scaling claim, or < 3 sizes)."""
    sc = row.get("scaling")
    return (sc, sc["fit"]) if sc is not None and sc["fit"] is not None else None


def is_multi(result: Analysis | MultiAnalysis) -> "TypeIs[MultiAnalysis]":
    """Whether analyze_arms compared several candidates (then every pair is an Analysis)."""
    return "multi" in result
