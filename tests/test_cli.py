"""The CLI shell: help, version, lazy loading and one-line user errors."""

import sys

import deadline  # tests/deadline.py: waits with a deadline

from benchctl import __version__


def run(*args):
    return deadline.run([sys.executable, "-m", "benchctl", *args], timeout=120, phase=f"benchctl {args[:1]}", text=True)


def test_help_lists_commands_without_heavy_imports():
    code = (
        "import sys; from benchctl.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
        "heavy = [m for m in ('pandas', 'scipy', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    r = deadline.run([sys.executable, "-c", code], timeout=120, phase="benchctl --help", text=True)
    assert r.returncode == 0, r.stderr
    for name in ("env", "run", "analyze", "model", "export", "import", "plan", "cleanup", "workloads"):
        assert f"  {name} " in r.stdout


def test_version():
    r = run("--version")
    assert r.returncode == 0
    assert __version__ in r.stdout


def test_unknown_command_is_usage_error():
    r = run("frobnicate")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
