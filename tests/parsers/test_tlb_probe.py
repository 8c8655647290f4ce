"""tlb-probe: the parser on recorded outputs of this machine, and the probe measured for real here.

The live test runs the native probe through the run engine (compiled with the system cc), then
`model calibrate` and `model predict --calibration` on its run folder. This VM has no PMU: the probe
must say its counters are unsupported, not report zeros.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchctl.errors import InputError
from benchctl.model.calibrate import probe_summary
from benchctl.parsers import ParseError, detect
from benchctl.parsers.tlbprobe import paired_penalties, parse

FIXTURES = Path(__file__).parents[1] / "fixtures" / "parsers"
THP = FIXTURES / "tlb-probe-x86-kvm-512M-thp.txt"
HUGETLB = FIXTURES / "tlb-probe-x86-kvm-512M-hugetlb.txt"


def test_parse_recorded_output():
    text = THP.read_text()
    assert detect(text) == "tlb-probe"
    r = parse(text)
    names = {m.metric for m in r.measurements}
    assert {
        "probe_chase_ns_4k",
        "probe_chase_ns_thp",
        "probe_chase_penalty_ns_thp",
        "probe_seqcopy_penalty_ns_thp",
        "probe_randcopy_penalty_ns_thp",
    } <= names
    assert r.info["arms"]["hugetlb"]["status"] == "unavailable" and r.info["arms"]["thp"]["anon_huge_kb"] == 524288
    assert all(s.startswith("unsupported") for s in r.info["counters"].values())
    assert any("PMU counters not available" in w for w in r.warnings)
    pen = paired_penalties(r.info["samples"], "chase", "thp")
    assert len(pen) == r.info["config"]["reps"]
    m = next(m for m in r.measurements if m.metric == "probe_chase_penalty_ns_thp")
    assert m.value == pytest.approx(
        sorted(pen)[len(pen) // 2]
        if len(pen) % 2
        else (sorted(pen)[len(pen) // 2 - 1] + sorted(pen)[len(pen) // 2]) / 2
    )


def test_parse_hugetlb_arm():
    r = parse(HUGETLB.read_text())
    assert r.info["arms"]["hugetlb"]["kernel_page_kb"] == 2048
    assert "probe_chase_penalty_ns_hugetlb" in {m.metric for m in r.measurements}


@pytest.mark.parametrize(
    "text,match",
    [
        ("hello\n", "first line"),
        ("tlb-probe 1\nconfig size=1\n", "no samples"),
        (
            "tlb-probe 1\narm name=4k status=ok bytes=1 anon_huge_kb=0 kernel_page_kb=4\n"
            "sample rep=0 pos=0 arm=thp kernel=chase ops=1 ns=5 ns_per_op=5\n",
            "not set up",
        ),
        (
            "tlb-probe 1\narm name=4k status=ok bytes=1 anon_huge_kb=0 kernel_page_kb=4\n"
            "sample rep=0 pos=0 arm=4k kernel=chase ops=0 ns=5 ns_per_op=5\n",
            "positive",
        ),
        ("tlb-probe 1\nbogus x=1\n", "unknown record"),
    ],
)
def test_parse_errors(text, match):
    with pytest.raises(ParseError, match=match):
        parse(text)


def test_a_degraded_thp_arm_is_not_a_huge_page_arm():
    text = THP.read_text().replace("anon_huge_kb=524288", "anon_huge_kb=1024")
    r = parse(text)
    assert "probe_chase_penalty_ns_thp" not in {m.metric for m in r.measurements}
    assert any("only 0% of the buffer" in w for w in r.warnings)


def _fake_run(tmp_path: Path, texts: list[str]) -> Path:
    """A run folder holding recorded probe outputs (the engine's layout), for calibrate's refusal logic."""
    from benchctl.results.store import RunFolder

    f = RunFolder.create(tmp_path, host="vm", workload="tlb-probe", arm="probe", run_id="r")
    for i, t in enumerate(texts, 1):
        d = f.raw_dir(i)
        d.mkdir(parents=True, exist_ok=True)
        (d / "tlb-probe.txt").write_text(t)
    return f.path


def test_calibrate_refuses_when_the_arms_do_not_differ(tmp_path):
    # the recorded output with the 4 KiB samples' times replaced by the huge-page arm's: no contrast
    lines = THP.read_text().splitlines()
    thp = {(ln.split()[1], ln.split()[4]): ln.split()[6:8] for ln in lines if " arm=thp " in ln}
    same = []
    for ln in lines:
        w = ln.split()
        if ln.startswith("sample") and " arm=4k " in ln:
            w[6:8] = thp[(w[1], w[4])]
        same.append(" ".join(w))
    run = _fake_run(tmp_path, ["\n".join(same)] * 3)
    with pytest.raises(InputError, match="do not differ"):
        probe_summary([run])


def test_calibrate_refuses_without_a_huge_page_arm(tmp_path):
    text = THP.read_text().replace("anon_huge_kb=524288", "anon_huge_kb=0")
    with pytest.raises(InputError, match="no huge-page arm"):
        probe_summary([_fake_run(tmp_path, [text, text])])


def _thp_mode() -> str:
    try:
        text = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return "absent"
    return text.split("[")[1].split("]")[0]


def bench(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "benchctl", *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.live
@pytest.mark.skipif(_thp_mode() in ("never", "absent"), reason="transparent huge pages are disabled on this host")
def test_probe_measures_here_and_feeds_calibrate_and_predict(tmp_path):
    reserve = os.geteuid() == 0
    before = Path("/proc/sys/vm/nr_hugepages").read_text() if reserve else None
    # short samples, many alternating repetitions: a sample another process preempts is one outlier of many
    args = [
        "run",
        "tlb-probe",
        "--arm",
        "probe",
        "--preset",
        "quick",
        "-o",
        str(tmp_path),
        "--iterations",
        "3",
        "--set",
        "size=256M",
        "--set",
        "reps=12",
        "--set",
        "chase_steps=65536",
    ]
    if reserve:
        args += ["--set", "hugetlb=reserve"]
    r = bench(*args)
    assert r.returncode == 0, r.stderr[-2000:]
    if reserve:
        assert Path("/proc/sys/vm/nr_hugepages").read_text() == before  # the ledger restored the knob
    run = next(tmp_path.glob("*/*tlb-probe*"))
    manifest = json.loads((run / "run.json").read_text())
    probe = manifest["run_info"]["probe"]
    assert (run / probe["binary"]).is_file() and len(probe["source_sha256"]) == 64 and probe["compiler"]
    text = (run / "raw" / "iter-0001" / "tlb-probe.txt").read_text()
    assert parse(text).info["complete"]
    c = bench("model", "calibrate", str(run), "--format", "json")
    assert c.returncode == 0, c.stderr
    cal = json.loads(c.stdout)
    chase = cal["observations"]["chase_penalty_ns"]
    assert chase["n"] == 3 and math.isfinite(chase["se"]) and chase["ci95"][0] > 0
    for o in cal["observations"].values():
        assert math.isfinite(o["mean"]) and o["se"] >= 0
    text_out = bench("model", "calibrate", str(run)).stdout
    assert "walk on a dependent load" in text_out and all(
        len(ln) <= 72 or len(ln.split()) == 1 for ln in text_out.splitlines()
    )
    p = bench("model", "predict", "--cpu", "ampereone", "--draws", "500", "--calibration", str(run), "--format", "json")
    assert p.returncode == 0, p.stderr
    pred = json.loads(p.stdout)
    assert pred["calibration"]["used"] and pred["calibration"]["effective_draws"] > 0
    assert any("stand-in" in w for w in pred["warnings"])  # this x86 VM is not an AmpereOne
