"""Shared test helpers: fixture locations and skip reasons for what this machine lacks."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
TOOLS = FIXTURES / "tools"
ARM64 = FIXTURES / "arm64"


@pytest.fixture
def tools_dir() -> Path:
    return TOOLS


@pytest.fixture
def arm64_dir() -> Path:
    return ARM64


@pytest.fixture
def cli_runner():
    """A click CliRunner whose result has stdout and stderr apart, on every click the floor allows.

    click 8.1 mixes them unless told mix_stderr=False; 8.2 keeps them apart and dropped the argument.
    """
    from click.testing import CliRunner

    try:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    except TypeError:
        return CliRunner()
