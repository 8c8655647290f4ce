"""The one writer of the analysis result as JSON: `benchctl analyze --format json`.

The document is the result itself (analyze/resulttypes.py names every key
and its type; docs/result-format.md "Analysis" describes them), with
`banner` after `simulated` when the data is simulated. Non-finite numbers
become null so any JSON reader accepts the file. A reader refuses a major
version newer than it knows; a new key keeps the version, a changed or
removed one bumps it (and adds a line here).

Format history (`format` key):
- benchctl-analysis/1: the first: comparisons and claims with the checks
  before them; no `not-judged` or `reversed` verdict (not-judged claims
  were `inconclusive`, reversed ones `not-reproduced`), no `setup`,
  `not_judged`, `boot_sd_pct`, `line`.
- benchctl-analysis/2: verdicts `not-judged` (the first warning says why)
  and `reversed`; a comparison's `setup`, `not_judged`,
  `boot_sd_pct`; a claim's `line`.
  Added later in /2 (new keys; older readers ignore them, `ci_pct` keeps
  its shape): `exact` on comparisons and claims; `emulated` (top level, and
  true on a timing comparison of an emulated boot); a claim's
  `equivalence`, `scaling`, `sequential`; `multi` with `pairs` for more
  than two arms (analyze/arms.py). A claim's `prediction` (the model's
  figure, when the claim asks for one) is optional in the same way.
  `sequential` gained `p_value` (the anytime-valid p* for a zero change)
  and `p_adjusted` (Holm over the claims' p*) when the adaptive rule
  became the horizon-spent sequence with Holm (issue 20).
"""

from __future__ import annotations

import json
import math

from benchctl.analyze.report.common import BANNER
from benchctl.analyze.resulttypes import Analysis, MultiAnalysis


def _clean(x: object) -> object:
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def to_dict(result: Analysis | MultiAnalysis) -> dict[str, object]:
    out = {"format": result["format"], "simulated": result["simulated"]}
    if result["simulated"]:
        out["banner"] = BANNER
    out.update({k: v for k, v in result.items() if k not in out})
    clean = _clean(out)
    assert isinstance(clean, dict)
    return clean


def render(result: Analysis | MultiAnalysis) -> str:
    return json.dumps(to_dict(result), indent=2, allow_nan=False) + "\n"
