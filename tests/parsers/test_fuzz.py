"""Fuzzing: every parser, on random text and on mutated real outputs, returns a result or raises
ParseError, never another exception (issue 7). A few hundred examples per parser keep it fast."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchctl.parsers import PARSERS, ParseError, ParseResult, detect
from benchctl.parsers.versions import VERSION_COMMANDS

FIXTURES = Path(__file__).parents[1] / "fixtures"
SAMPLES: dict[str, list[str]] = {}
for f in sorted((FIXTURES / "tools").rglob("*")) + sorted((FIXTURES / "parsers").glob("*")):
    if f.is_file() and f.name != "README.md":
        text = f.read_text(errors="replace")
        fmt = detect(text)
        if fmt:
            SAMPLES.setdefault(fmt, []).append(text)

# BENCHCTL_FUZZ_EXAMPLES=5000 for a long hunt; the default keeps the suite fast.
EXAMPLES = int(os.environ.get("BENCHCTL_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
ODD = [
    "nan",
    "inf",
    "-inf",
    "1e999",
    "-1",
    "0",
    "99999999999999999999999",
    "<not counted>",
    "<not supported>",
    "---",
    "",
    "\x00",
    "{",
    "}",
    "[",
    "]",
    ",",
    ";",
    "\r",
    "\u00b2",
    "\u0663",
    "null",
    "true",
    '"x"',
]


def _check(fmt: str, text: str) -> None:
    try:
        out = PARSERS[fmt](text)
    except ParseError:
        return
    assert isinstance(out, ParseResult)
    for m in out.measurements:
        assert isinstance(m.value, float) and m.value == m.value and abs(m.value) != float("inf"), m


@st.composite
def mutated(draw, fmt: str):
    text = draw(st.sampled_from(SAMPLES[fmt]))
    data = bytearray(text.encode("utf-8", "replace"))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "delete_line", "dup_line", "token", "insert"]))
        if not data:
            break
        if kind == "truncate":
            data = data[: draw(st.integers(0, len(data)))]
        elif kind == "flip":
            for _ in range(draw(st.integers(1, 8))):
                i = draw(st.integers(0, len(data) - 1))
                data[i] = draw(st.integers(0, 255))
        elif kind in ("delete_line", "dup_line"):
            lines = bytes(data).split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            if kind == "delete_line":
                del lines[i]
            else:
                lines.insert(i, lines[i])
            data = bytearray(b"\n".join(lines))
        elif kind == "token":
            s = bytes(data).decode("utf-8", "replace")
            nums = list(re.finditer(r"\d+(\.\d+)?", s))
            if nums:
                m = nums[draw(st.integers(0, len(nums) - 1))]
                s = s[: m.start()] + draw(st.sampled_from(ODD)) + s[m.end() :]
            data = bytearray(s.encode("utf-8", "replace"))
        else:
            i = draw(st.integers(0, len(data)))
            data[i:i] = draw(st.text(max_size=20)).encode("utf-8", "replace")
    return bytes(data).decode("utf-8", "replace")


@pytest.mark.parametrize("fmt", sorted(PARSERS))
@FUZZ
@given(data=st.data())
def test_random_text(fmt, data):
    text = data.draw(
        st.one_of(
            st.text(max_size=400),
            st.lists(
                st.sampled_from(
                    ODD
                    + [
                        "read",
                        "Totals",
                        "ALL STATS",
                        "Run time:",
                        "TPS:",
                        "Total QPS =",
                        "#type",
                        "msec",
                        "task-clock",
                        "\n",
                        " ",
                        "HISTFAAA",
                    ]
                ),
                max_size=60,
            ).map(" ".join),
        )
    )
    _check(fmt, text)


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
@FUZZ
@given(data=st.data())
def test_mutated_fixtures(fmt, data):
    _check(fmt, data.draw(mutated(fmt)))


@FUZZ
@given(text=st.text(max_size=300))
def test_detect_never_raises(text):
    assert detect(text) is None or detect(text) in PARSERS


@pytest.mark.parametrize("tool", sorted(VERSION_COMMANDS))
@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=100))
def test_version_parsers(tool, text):
    try:
        assert isinstance(VERSION_COMMANDS[tool][1](text), str)
    except ParseError:
        pass


def test_every_format_has_real_samples():
    assert set(SAMPLES) == set(PARSERS)


@pytest.mark.parametrize("fmt", sorted(PARSERS))
def test_numbers_thousands_of_digits_long(fmt):
    huge = "9" * 5000
    for text in (
        SAMPLES[fmt][0].replace("1", huge, 3),
        f"{huge} {huge}\n",
        f'{{"fio version": "fio-3.33", "jobs": [{huge}]}}',
    ):
        _check(fmt, text)
