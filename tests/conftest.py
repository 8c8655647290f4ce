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
