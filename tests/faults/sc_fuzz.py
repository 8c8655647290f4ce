"""Every parser of tool or kernel output raises only its own error on garbage.

benchctl/parsers/* are fuzzed by tests/parsers/test_fuzz.py; this checks
that it covers every registered format (random text AND mutated real
samples), and fuzzes the parsers that live outside benchctl/parsers --
dm-crypt table/status, meminfo, uptime, mountinfo, MIDR, ptdump, DirectMap,
kernel config, CPU lists, sizes, HDR text, perf output files -- with
hypothesis: each must return or raise a benchctl error (InputError /
ParseError / BenchctlError), never IndexError, ValueError and the like
(except the few whose callers catch ValueError by contract, listed below).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.faults.common import ROOT, Outcome, check
from tests.faults.registry import add

EXAMPLES = int(os.environ.get("BENCHCTL_FUZZ_EXAMPLES", "300"))
# swapped for the numbers of real samples, deterministically, before the random search
ODD = ["", "-1", "1e999", "nan", "inf", "0x", "\u00b2", "\u0663", "99999999999999999999999999", ":", "-", "--", "\x00"]


def _targets() -> dict[str, tuple[Callable[[str], Any], list[Path]]]:
    from benchctl.env import mounts
    from benchctl.env.arm64 import directmap, expected, midr, ptdump
    from benchctl.env.probes import cpu, kernel, memory
    from benchctl.parsers import hdr
    from benchctl.run import counters, specs
    from benchctl.run.drivers import boot_memory
    from benchctl.run.storage import blockstack, dmcrypt

    fx = ROOT / "tests" / "fixtures"

    def perf_file(text: str):
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
            f.write(text)
        try:
            return counters.read(Path(f.name))
        finally:
            os.unlink(f.name)

    return {
        "dmcrypt.parse_table": (dmcrypt.parse_table, [fx / "dmcrypt" / "dmsetup-table.txt"]),
        "dmcrypt.parse_status": (dmcrypt.parse_status, [fx / "dmcrypt" / "cryptsetup-status.txt"]),
        "boot_memory.parse_meminfo": (boot_memory.parse_meminfo, [Path("/proc/meminfo")]),
        "boot_memory.parse_uptime": (boot_memory.parse_uptime, [Path("/proc/uptime")]),
        "probes.memory.parse_meminfo": (memory.parse_meminfo, [Path("/proc/meminfo")]),
        "mounts.parse_mountinfo": (mounts.parse_mountinfo, [Path("/proc/self/mountinfo")]),
        "directmap.parse_directmap": (directmap.parse_directmap, [Path("/proc/meminfo")]),
        "midr.parse_midr": (midr.parse_midr, sorted(fx.glob("arm64/**/midr_el1"))[:3]),
        "ptdump.parse_linear_map": (ptdump.parse_linear_map, sorted(fx.glob("arm64/**/kernel_page_tables"))[:2]),
        "probes.kernel.parse_config": (kernel.parse_config, sorted(fx.glob("arm64/**/config*"))[:1]),
        "probes.cpu.parse_cpu_list": (cpu.parse_cpu_list, [Path("/sys/devices/system/cpu/online")]),
        "expected.parse_release": (expected.parse_release, []),
        "expected.parse_cmdline": (expected.parse_cmdline, [Path("/proc/cmdline")]),
        "specs.parse_size": (specs.parse_size, []),
        "specs.parse_cpus": (specs.parse_cpus, []),
        "blockstack.parse_size": (blockstack.parse_size, []),
        "parsers.hdr.parse_percentile_text": (
            hdr.parse_percentile_text,
            [fx / "tools/memtier-hdr/mt_FULL_RUN_1.txt", fx / "parsers/memtier-driven/memtier_FULL_RUN_1.txt"],
        ),
        "counters.read (perf stat -x, file)": (perf_file, sorted(fx.glob("tools/**/perf*csv*"))[:2]),
    }


# These raise ValueError by contract: every caller catches it (probes/cpu.py, specs.Param.check)
# and turns it into a "missing" entry or an InputError; checked by reading the callers.
VALUE_ERROR_CONTRACT = {"midr.parse_midr", "probes.cpu.parse_cpu_list", "specs.parse_size", "specs.parse_cpus"}


def _allowed(e: BaseException, name: str) -> bool:
    from benchctl.errors import BenchctlError
    from benchctl.parsers import ParseError

    if name in VALUE_ERROR_CONTRACT and type(e) is ValueError:
        return True
    return isinstance(e, (BenchctlError, ParseError))


def fuzz_outside_parsers() -> Outcome:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    failures: dict[str, str] = {}
    targets = _targets()
    for name, (fn, samples) in targets.items():
        texts = []
        for p in samples:
            try:
                texts.append(p.read_text(errors="replace"))
            except OSError:
                pass

        def one(text: str, fn=fn, name=name) -> None:
            try:
                fn(text)
            except Exception as e:  # noqa: BLE001 -- the point is to see which
                if not _allowed(e, name):
                    raise

        strat = st.text(max_size=400)
        if texts:

            def mutate(t: str, data: Any) -> str:
                i = data.draw(st.integers(0, len(t)))
                j = data.draw(st.integers(i, min(len(t), i + 40)))
                return t[:i] + data.draw(st.text(max_size=20)) + t[j:]

            strat = st.one_of(
                strat,
                st.builds(lambda d, k, texts=texts: mutate(texts[k % len(texts)], d), st.data(), st.integers(0, 10)),
            )

        def make(one: Callable[[str], None], strat: Any) -> Callable[[], None]:
            @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            @given(strat)
            def prop(text: str) -> None:
                one(text)

            return prop

        import re

        try:
            for t in texts:
                runs = list(re.finditer(r"\d+", t))[:40]
                for m in runs:
                    for tok in ODD:
                        one(t[: m.start()] + tok + t[m.end() :])
            make(one, strat)()
        except Exception as e:  # noqa: BLE001
            failures[name] = f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"
    check(not failures, "parsers raising foreign exceptions:\n" + "\n".join(f"  {k}: {v}" for k, v in failures.items()))
    return Outcome(detail=f"{len(targets)} parsers x {EXAMPLES} random/mutated inputs: only benchctl errors")


def parsers_fuzz_coverage() -> Outcome:
    import importlib.util

    from benchctl.parsers import PARSERS

    spec = importlib.util.spec_from_file_location("_fuzz", ROOT / "tests" / "test_parsers_fuzz.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    check(
        set(mod.SAMPLES) == set(PARSERS),
        f"formats without mutated real samples: {sorted(set(PARSERS) - set(mod.SAMPLES))}",
    )
    marks = getattr(mod.test_random_text, "pytestmark", [])
    params = {v for m in marks if m.name == "parametrize" for v in m.args[1]}
    check(params == set(PARSERS), f"formats not fuzzed with random text: {sorted(set(PARSERS) - params)}")
    return Outcome(detail=f"all {len(PARSERS)} formats in benchctl/parsers fuzzed (random + mutated real samples)")


add("every benchctl/parsers format is fuzzed", "bad input", parsers_fuzz_coverage, fast=True)
add("parsers outside benchctl/parsers: fuzzed", "bad input", fuzz_outside_parsers, fast=True)
