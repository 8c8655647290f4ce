"""benchctl model on the command line: JSON keys, labels, one-line errors with documented exit codes."""

from __future__ import annotations

import json
import sys

import pytest

from benchctl.errors import EXIT_INPUT, EXIT_USAGE
import deadline  # tests/deadline.py: waits with a deadline


def run(*args, cwd=None):
    return deadline.run([sys.executable, "-m", "benchctl", "model", *args], timeout=300, phase=f"benchctl model {args[:1]}",
                        text=True, cwd=cwd)


def one_line_error(r, code):
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_model_help_imports_nothing_heavy():
    code = ("import sys; from benchctl.cli import main\n"
            "try:\n    main(['model', '--help'])\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
            "heavy = [m for m in ('pandas', 'scipy', 'matplotlib', 'numpy') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    r = deadline.run([sys.executable, "-c", code], timeout=120, phase="benchctl model --help", text=True)
    assert r.returncode == 0, r.stderr
    for sub in ("pagetables", "predict", "sensitivity", "calibrate", "simulate"):
        assert sub in r.stdout


def test_pagetables_json():
    r = run("pagetables", "--ram", "256GiB", "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["pte_arm_bytes"] == (1 + 256 + 131072) * 4096 and j["block_arm_bytes"] == 4096
    assert j["saving_bytes"] == j["pte_arm_bytes"] - j["block_arm_bytes"]
    assert [lv["level"] for lv in j["levels"]] == ["PUD", "PMD", "PTE"] and j["simulated"] is True


def test_pagetables_text_is_labelled_and_splits_degrade():
    r = run("pagetables", "--ram", "1T", "--granule", "16k", "--perm-changes", "100", "--kfence", "2M")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("SIMULATED") and "16 KiB" in r.stdout and "PTE" in r.stdout


def test_pagetables_from_env(tmp_path):
    f = tmp_path / "env.json"
    f.write_text(json.dumps({"format": "benchctl-env/1", "memory": {"total_kb": 16 * 1024 * 1024},
                             "kernel": {"page_size": 65536}}))
    j = json.loads(run("pagetables", "--from-env", str(f), "--json").stdout)
    assert j["ram_bytes"] == 16 << 30 and j["granule_bytes"] == 65536
    assert j["pte_arm_bytes"] == (1 + 32) * 65536  # one PMD table, 16 GiB / 512 MiB PTE tables


@pytest.mark.parametrize("args", [("pagetables", "--ram", "-5G"), ("pagetables", "--ram", "many"),
                                  ("pagetables",), ("pagetables", "--ram", "1G", "--granule", "8k"),
                                  ("predict", "--cpu", "ampereone", "--ram", "0"),
                                  ("predict", "--cpu", "ampereone", "--set", "bogus=1")])
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
    r = run("predict", "--cpu", "neoverse-n1", "--workload", "memcached", "--set", "model.ops=1500", "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["simulated"] is True and j["predictions"]
    assert all(p["change_pct"] == 0.0 for p in j["predictions"])


def test_predict_text_table():
    r = run("predict", "--cpu", "ampereone", "--workload", "seqread", "--set", "model.ops=1500")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("SIMULATED") and "seqread-bw" in r.stdout and "Assumptions" in r.stdout


def test_sensitivity_plot(tmp_path):
    r = run("sensitivity", "--cpu", "ampereone", "--set", "model.ops=1500", "--plots", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("SIMULATED")
    png = tmp_path / "tornado-ampereone.png"
    assert png.stat().st_size > 10000 and png.read_bytes()[:4] == b"\x89PNG"


def test_simulate_cli(tmp_path):
    r = run("simulate", "--cpu", "ampereone", "--boots", "1", "--iterations", "1", "--workload", "seqread",
            "--set", "model.ops=1500", "-o", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "SIMULATED" in r.stdout
    assert len(list(tmp_path.glob("*/*/run.json"))) == 2
