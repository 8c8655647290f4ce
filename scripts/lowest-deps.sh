#!/usr/bin/env bash
# The dependency floors of pyproject.toml, installed exactly (binary wheels only, as a fresh
# machine gets them), under the tests that need neither root nor a live tool: the statistics,
# parsers, specs, store, analysis and model, which is where an older numpy/pandas/scipy/
# matplotlib would behave differently. The Python floor is the interpreter itself (3.11, Debian 12).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${LOWEST_VENV:-.venv-lowest}
PY=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pins=$("$VENV/bin/python" - <<'PY'
import re, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
reqs = project["dependencies"] + [r for r in project["optional-dependencies"]["test"] if ">=" in r]
for r in reqs:
    m = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9][^,;\s]*)", r.strip())
    if not m:
        raise SystemExit(f"lowest-deps: cannot read a floor from {r!r}")
    print(f"{m.group(1)}=={m.group(2)}")
PY
)
echo "lowest-deps: $(echo $pins | tr '\n' ' ')"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --only-binary=:all: $pins
PYTHONPATH="$PWD" BENCHCTL_VM=0 "$VENV/bin/python" -m pytest -q -p no:cacheprovider -m "not live and not vm" \
    --ignore=tests/faults --ignore=tests/vm tests
