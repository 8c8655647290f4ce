"""The CLI shell: help, version, lazy loading and one-line user errors."""

import sys

import deadline  # tests/support/deadline.py: waits with a deadline
import pytest

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


def _all_commands():
    """(name, click command) for every command and subcommand, importing each command module."""
    import importlib

    import click

    from benchctl.cli import COMMANDS

    for name, (module, attr, _) in COMMANDS.items():
        cmd = getattr(importlib.import_module(module), attr)
        if isinstance(cmd, click.Group):
            yield from ((f"{name} {sub}", c) for sub, c in cmd.commands.items())
        else:
            yield name, cmd


def test_one_option_convention_for_output_formats_and_places():
    """Issue 13: machine output is --format, where output goes is -o/--out; --json and --output are
    kept only as hidden aliases (old scripts keep working, help shows one way)."""
    seen = set()
    for name, cmd in _all_commands():
        opts = {o: p for p in cmd.params for o in getattr(p, "opts", [])}
        for old, new in (("--json", "--format"), ("--output", "--out")):
            if old in opts:
                assert opts[old].hidden, f"{name}: {old} is shown in --help"
                assert new in opts and not opts[new].hidden, f"{name}: {old} without {new}"
                seen.add(old)
        if "--out" in opts:
            assert opts["--out"].opts == ["-o", "--out"], f"{name}: {opts['--out'].opts}"
        assert "-o" not in opts or "--out" in opts, f"{name}: -o is not --out"
    assert seen == {"--json", "--output"}


def test_the_hidden_aliases_still_work():
    from click.testing import CliRunner

    from benchctl.cli import cli

    runner = CliRunner()
    new = runner.invoke(cli, ["model", "pagetables", "--ram", "64G", "--format", "json"])
    old = runner.invoke(cli, ["model", "pagetables", "--ram", "64G", "--json"])
    assert new.exit_code == old.exit_code == 0, (new.output, old.output)
    assert new.stdout == old.stdout and new.stdout.startswith("{")
    text = runner.invoke(cli, ["model", "pagetables", "--ram", "64G"])
    assert text.stdout.startswith("SIMULATED") and "--json" not in runner.invoke(cli, ["env", "--help"]).stdout
    # a required -o/--out names the new spelling when missing (test_model_cli runs simulate --output)
    missing = run("campaign", "measure", "--arm", "pte", "--expect", "{}", "--suite", "bbml2")
    assert missing.returncode == 2 and "Missing option '-o' / '--out'" in missing.stderr, missing.stderr
    assert "Traceback" not in missing.stderr


def test_every_help_fits_72_columns():
    from click.testing import CliRunner

    from benchctl.cli import cli

    names = [""] + sorted({n.split()[0] for n, _ in _all_commands()}) + [n for n, _ in _all_commands() if " " in n]
    for name in names:
        r = CliRunner().invoke(cli, [*name.split(), "--help"])
        assert r.exit_code == 0, (name, r.output)
        wide = [line for line in r.output.splitlines() if len(line) > 72]
        assert not wide, (name, wide)


@pytest.mark.parametrize(
    "argv, words",
    [
        (
            ["analyze", "--format", "mardown", "x"],
            "--format: 'mardown' is not one of 'text', 'mail', 'markdown', 'json'",
        ),
        (["run", "--nosuch"], "No such option"),  # click 8.1 quotes the option, 8.3 does not
        (["model", "predict", "--draws", "abc"], "--draws: 'abc' is not a valid integer"),
    ],
)
def test_command_line_mistakes_are_one_line_exit_2(argv, words):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "benchctl", *argv], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("benchctl: error: ") and words in r.stderr
    assert "--help`" in r.stderr and "Usage:" not in r.stderr
