"""Where the time of a CI run went: setup, unit tests, fault subset, VM tests (issue 10's budget).

    python3 .ci/breakdown.py JUNIT_XML --total SECONDS

JUNIT_XML is pytest's --junitxml output; each test case's time there counts
its setup, call and teardown (so the VM tests' boot, done in a module
fixture, is in them). Setup is the part of the wall time before and after
pytest: the total minus pytest's own session time. Standard library only.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET

GROUPS = (("VM tests (tests/vm)", "tests.vm."), ("fault subset (tests/faults)", "tests.faults."))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("junit")
    ap.add_argument("--total", type=float, required=True, help="wall seconds of the whole `make test`")
    a = ap.parse_args()
    root = ET.parse(a.junit).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None, "no testsuite in the junit file"
    session = float(suite.get("time", 0))
    sums = {name: 0.0 for name, _ in GROUPS}
    counts = {name: 0 for name, _ in GROUPS}
    unit, n_unit = 0.0, 0
    for case in suite.iter("testcase"):
        cls, t = case.get("classname", ""), float(case.get("time", 0))
        for name, prefix in GROUPS:
            if cls.startswith(prefix) or cls.startswith(prefix.removeprefix("tests.")):
                sums[name] += t
                counts[name] += 1
                break
        else:
            unit += t
            n_unit += 1
    other = session - unit - sum(sums.values())
    rows = [("setup (apt, venv, builds)", a.total - session, None), ("unit tests", unit, n_unit)]
    rows += [(name, sums[name], counts[name]) for name, _ in GROUPS]
    rows += [("pytest collection and overhead", other, None), ("total", a.total, None)]
    print("CI time breakdown:")
    for name, t, n in rows:
        print(f"  {name:<32} {t:7.0f} s  {t / 60:5.1f} min" + (f"  ({n} tests)" if n is not None else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
