"""benchctl model on the command line: JSON keys, labels, one-line errors with documented exit codes."""

from __future__ import annotations

import json
import sys

import deadline  # tests/support/deadline.py: waits with a deadline
import pytest

from benchctl.errors import EXIT_INPUT, EXIT_USAGE


def run(*args, cwd=None):
    return deadline.run(
        [sys.executable, "-m", "benchctl", "model", *args],
        timeout=300,
        phase=f"benchctl model {args[:1]}",
        text=True,
        cwd=cwd,
    )


def one_line_error(r, code):
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_model_help_imports_nothing_heavy():
    code = (
        "import sys; from benchctl.cli import main\n"
        "try:\n    main(['model', '--help'])\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
        "heavy = [m for m in ('pandas', 'scipy', 'matplotlib', 'numpy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    r = deadline.run([sys.executable, "-c", code], timeout=120, phase="benchctl model --help", text=True)
    assert r.returncode == 0, r.stderr
    for sub in ("pagetables", "predict", "sensitivity", "calibrate", "simulate"):
        assert sub in r.stdout


def test_pagetables_json():
    r = run("pagetables", "--ram", "256GiB", "--unmapped", "0", "--format", "json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["pte_arm_bytes"] == (1 + 256 + 131072) * 4096 and j["block_arm_bytes"] == 4096
    assert j["saving_bytes"] == j["pte_arm_bytes"] - j["block_arm_bytes"]
    assert [lv["level"] for lv in j["levels"]] == ["PUD", "PMD", "PTE"] and j["simulated"] is True
    assert j["boot_memory"]["mem_total_change"] == j["saving_bytes"]


def test_pagetables_256g_is_within_1pct_of_the_published_memtotal_change():
    """Done-when of issue 14: 259505132 - 258988984 = 516,148 kB published."""
    j = json.loads(run("pagetables", "--ram", "256G", "--format", "json").stdout)
    kb = j["boot_memory"]["mem_total_change"] / 1024
    assert abs(kb / 516148 - 1) < 0.01
    lo, hi = j["mem_total_change_range_bytes"]
    assert lo / 1024 <= 516148 <= hi / 1024 * 1.001


def test_pagetables_text_is_labelled_and_splits_degrade():
    r = run("pagetables", "--ram", "1T", "--granule", "16k", "--perm-changes", "100", "--kfence", "2M")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("SIMULATED") and "16 KiB" in r.stdout and "PTE" in r.stdout
    assert "MemTotal change" in r.stdout and "MemFree change" in r.stdout


def test_pagetables_from_env(tmp_path):
    f = tmp_path / "env.json"
    f.write_text(
        json.dumps(
            {
                "format": "benchctl-env/1",
                "memory": {"total_kb": 16 * 1024 * 1024 * 1023 // 1024},
                "kernel": {"page_size": 65536},
            }
        )
    )
    j = json.loads(run("pagetables", "--from-env", str(f), "--format", "json").stdout)
    assert j["granule_bytes"] == 65536 and abs(j["ram_bytes"] - (16 << 30)) < (64 << 20)


@pytest.mark.parametrize(
    "args",
    [
        ("pagetables", "--ram", "-5G"),
        ("pagetables", "--ram", "many"),
        ("pagetables",),
        ("pagetables", "--ram", "1G", "--granule", "8k"),
        ("predict", "--cpu", "ampereone", "--ram", "0"),
        ("predict", "--cpu", "ampereone", "--set", "bogus=1"),
    ],
)
def test_usage_errors(args):
    one_line_error(run(*args), EXIT_USAGE)


def test_input_errors(tmp_path):
    one_line_error(run("predict", "--cpu", "apple-m1"), EXIT_INPUT)
    bad = tmp_path / "cpus.toml"
    bad.write_text('[x]\nname = "x"\n')
    r = run("predict", "--cpu", "x", "--cpu-file", str(bad))
    one_line_error(r, EXIT_INPUT)
    assert "missing field" in r.stderr and str(bad) in r.stderr
    env = tmp_path / "env.json"
    env.write_text('{"format": "benchctl-env/1", "memory": {}, "kernel": {"page_size": 4096}}')
    one_line_error(run("pagetables", "--from-env", str(env)), EXIT_INPUT)
    one_line_error(run("calibrate", str(tmp_path)), EXIT_INPUT)


def test_predict_json_negative_control():
    r = run("predict", "--cpu", "neoverse-n1", "--workload", "memcached", "--draws", "200", "--format", "json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["simulated"] is True and j["predictions"]
    assert all(p["median_pct"] == 0.0 for p in j["predictions"])


def test_every_text_output_fits_72_columns(tmp_path):
    outs = [
        run("predict", "--cpu", "ampereone", "--draws", "300").stdout,
        run("predict", "--cpu", "neoverse-n1", "--draws", "200").stdout,
        run("pagetables", "--ram", "256G").stdout,
        run("pagetables", "--ram", "1T", "--granule", "64k", "--kfence", "2M", "--perm-changes", "300").stdout,
        run("sensitivity", "--cpu", "ampereone", "--draws", "300").stdout,
        run(
            "simulate",
            "--cpu",
            "ampereone",
            "--boots",
            "1",
            "--iterations",
            "1",
            "--workload",
            "seqread",
            "-o",
            str(tmp_path / "sim-out-with-a-rather-long-directory-name-to-wrap"),
        ).stdout,
    ]
    for text in outs:
        assert text.startswith("SIMULATED")
        # a single word longer than a line (a long path the user chose) cannot be broken and stay pasteable
        wide = [line for line in text.splitlines() if len(line) > 72 and len(line.strip(" \\").split()) > 1]
        assert not wide, wide


def test_simulate_ends_with_the_next_command_including_claims(tmp_path):
    # --output: the old spelling of -o/--out, hidden but kept for scripts
    r = run(
        "simulate",
        "--cpu",
        "ampereone",
        "--boots",
        "1",
        "--iterations",
        "1",
        "--workload",
        "seqread",
        "--output",
        str(tmp_path),
    )
    assert r.returncode == 0, r.stderr
    assert len(list(tmp_path.glob("*/*/run.json"))) == 2
    tail = r.stdout[r.stdout.index("next:") :]
    cmd = " ".join(line.strip().rstrip("\\").strip() for line in tail.splitlines()[1:])
    assert cmd.startswith("benchctl analyze") and "--claims bbml2" in cmd


def test_help_lists_cpus_and_documents_options():
    r = run("simulate", "--help")
    for cpu in ("ampereone", "neoverse-n1", "neoverse-v2", "cortex-x4"):
        assert cpu in r.stdout
    h = run("calibrate", "--help").stdout
    for opt in ("--baseline", "--candidate", "--format"):
        line = next(line for line in h.splitlines() if opt in line)
        assert len(line.split(opt, 1)[1].strip()) > 10, line  # each option says what it does


def test_sensitivity_plot(tmp_path):
    r = run("sensitivity", "--cpu", "ampereone", "--draws", "300", "--workload", "seqread", "--plots", str(tmp_path))
    assert r.returncode == 0, r.stderr
    png = tmp_path / "sensitivity-ampereone.png"
    assert png.stat().st_size > 10000 and png.read_bytes()[:4] == b"\x89PNG"
