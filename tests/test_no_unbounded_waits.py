"""Every wait in the tests on a child process has a deadline (issue 10): a static check of tests/.

A wait with no deadline hangs CI for good when the child goes silent. This
walks the syntax tree of every Python file under tests/ and names each call
that can block without a bound:

- subprocess.run / call / check_call / check_output without timeout=
- .communicate() and .wait() without a timeout (Popen, Event, Condition)
- os.waitpid(pid, 0) (blocking)
- reading a child's pipe directly: X.stdout.readline(), `for line in X.stdout`
  (blocks until the child writes: use deadline.Console, which reads in a thread)

tests/support/deadline.py itself is the one place allowed to read pipes. Sleep-polling
loops cannot be told apart statically; they use deadline.poll_until or a
`while time.monotonic() < end` condition (checked by review).
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
SUBPROCESS_BLOCKING = {"run", "call", "check_call", "check_output"}
PIPES = {"stdout", "stderr"}
ALLOWED = {TESTS / "support" / "deadline.py"}


def _has_kw(call: ast.Call, name: str) -> bool:
    return any(k.arg == name or k.arg is None for k in call.keywords)  # **kw may carry it: give it the benefit


def _unbounded(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.For) and isinstance(node.iter, ast.Attribute) and node.iter.attr in PIPES:
            found.append((node.lineno, f"for ... in {ast.unparse(node.iter)} (reads a pipe with no deadline)"))
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        f, attr = node.func, node.func.attr
        owner = ast.unparse(f.value)
        if owner == "deadline":  # tests/support/deadline.py: every wait there takes its deadline (positionally too)
            continue
        if owner == "subprocess" and attr in SUBPROCESS_BLOCKING and not _has_kw(node, "timeout"):
            found.append((node.lineno, f"subprocess.{attr}() without timeout="))
        elif attr == "communicate" and not _has_kw(node, "timeout"):
            found.append((node.lineno, f"{owner}.communicate() without timeout="))
        elif attr == "wait" and not node.args and not _has_kw(node, "timeout"):
            found.append((node.lineno, f"{owner}.wait() without a timeout"))
        elif owner == "os" and attr == "waitpid" and len(node.args) == 2 and ast.unparse(node.args[1]) == "0":
            found.append((node.lineno, "os.waitpid(pid, 0) blocks without a deadline"))
        elif attr in ("readline", "readlines", "read") and isinstance(f.value, ast.Attribute) and f.value.attr in PIPES:
            found.append((node.lineno, f"{owner}.{attr}() reads a pipe with no deadline"))
    return sorted(found)


def test_the_check_catches_what_it_should() -> None:
    bad = """
import os, subprocess
subprocess.run(["x"])
p = subprocess.Popen(["x"], stdout=subprocess.PIPE)
p.communicate()
p.wait()
os.waitpid(p.pid, 0)
p.stdout.readline()
for line in p.stdout:
    pass
"""
    assert [ln for ln, _ in _unbounded(ast.parse(bad))] == [3, 5, 6, 7, 8, 9]
    good = """
import subprocess
subprocess.run(["x"], timeout=5)
p = subprocess.Popen(["x"])
p.communicate(timeout=5)
p.wait(5)
p.wait(timeout=5)
open("f").readline()
"""
    assert _unbounded(ast.parse(good)) == []


def test_no_unbounded_wait_in_the_tests() -> None:
    problems = []
    for path in sorted(TESTS.rglob("*.py")):
        if path in ALLOWED or "fixtures" in path.relative_to(TESTS).parts:
            continue
        for line, what in _unbounded(ast.parse(path.read_text(), str(path))):
            problems.append(f"{path.relative_to(TESTS.parent)}:{line}: {what}")
    assert not problems, "waits without a deadline (use tests/support/deadline.py):\n" + "\n".join(problems)
