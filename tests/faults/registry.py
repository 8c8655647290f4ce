"""The scenario registry: name -> function, shared by pytest and tests/faults/run_faults.py.

A scenario is a plain function taking nothing and returning an Outcome;
it raises ScenarioFailed (an AssertionError) when a property does not hold
and pytest.skip-style Skip when the machine cannot run it (with the reason).
`fast` scenarios run in CI (plain pytest); the rest need `--full`
(BENCHCTL_FAULTS_FULL=1 for pytest).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tests.faults.common import Outcome


class Skip(Exception):
    """This machine cannot run the scenario; the message says why."""


@dataclass(frozen=True)
class Scenario:
    name: str
    group: str
    fn: Callable[[], Outcome]
    fast: bool = False


SCENARIOS: list[Scenario] = []


def scenario(name: str, group: str, fast: bool = False):
    def deco(fn: Callable[[], Outcome]) -> Callable[[], Outcome]:
        SCENARIOS.append(Scenario(name, group, fn, fast))
        return fn

    return deco


def add(name: str, group: str, fn: Callable[[], Outcome], fast: bool = False) -> None:
    SCENARIOS.append(Scenario(name, group, fn, fast))


def all_scenarios() -> list[Scenario]:
    if not SCENARIOS:
        from tests.faults import (
            sc_badinput,  # noqa: F401  (register)
        )
    return SCENARIOS
