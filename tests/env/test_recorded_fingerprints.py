"""The arm64 fingerprints recorded in qemu (tests/fixtures/arm64-env) stay readable and say what they saw."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIX = Path(__file__).parents[1] / "fixtures" / "arm64-env"


@pytest.mark.parametrize(
    "cpu,midr,name", [("neoverse-n1", "0x414fd0c1", "Neoverse N1 r4p1"), ("max", "0x000f0510", None)]
)
def test_recorded_arm64_fingerprint(cpu: str, midr: str, name: str | None) -> None:
    fp = json.loads((FIX / f"qemu-{cpu}.json").read_text())
    assert fp["format"] == "benchctl-env/1" and fp["simulated"] is False
    assert fp["host"]["arch"] == "aarch64"
    assert fp["kernel"]["release"].endswith("-arm64")
    assert [m["value"] for m in fp["cpu"]["midr"]] == [midr] and fp["cpu"]["midr"][0]["cpus"] == [0, 1]
    if name:
        assert fp["cpu"]["model"] == name
    assert fp["cpu"]["bbml2_noabort"] is False
    assert "BBM Level 2" not in (FIX / f"qemu-{cpu}.dmesg.txt").read_text()
    boot = json.loads((FIX / f"qemu-{cpu}.boot.json").read_text())
    assert boot["kernel"] == fp["kernel"]["release"] and "qemu-system-aarch64" in boot["qemu_argv"][0]
