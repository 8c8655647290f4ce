"""The command line: a thin, lazily loaded layer over plain functions.

Each command lives in its own module under benchctl/commands/ and is imported
only when it runs, so `benchctl --help` never pays for pandas, scipy or
matplotlib (tests/perf/startup.py measures it).
"""

from __future__ import annotations

import importlib
import sys

import click

from benchctl import __version__
from benchctl.errors import EXIT_INTERRUPTED, BenchctlError

# name -> (module, attribute, one-line help shown by `benchctl --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "env": ("benchctl.commands.env", "command", "Fingerprint this host and kernel; which arm is this boot?"),
    "workloads": ("benchctl.commands.workloads", "command", "List workloads, their presets and what each needs."),
    "run": ("benchctl.commands.run", "command", "Run a workload or suite for N iterations on this boot."),
    "export": ("benchctl.commands.export", "command", "Write run folders as a tidy CSV or JSON table."),
    "import": ("benchctl.commands.import_", "command", "Turn outputs of runs made by hand into a run folder."),
    "cleanup": ("benchctl.commands.cleanup", "command", "Remove what a killed run left behind (and only that)."),
    "analyze": ("benchctl.commands.analyze", "command", "Judge claims: boot-aware intervals, verdicts, report, plots."),
    "plan": ("benchctl.commands.plan", "command", "How many boots and iterations resolve each claim."),
    "model": ("benchctl.commands.model", "group", "Cost model: predict what the change should do (simulated)."),
    "campaign": ("benchctl.commands.campaign", "group", "Kernels x N boots per host, interleaved, via Ansible."),
    "bisect": ("benchctl.commands.bisect", "group", "The first kernel of a list whose boots meet a criterion."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def __init__(self, *args, lazy: dict[str, tuple[str, str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self._lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._lazy))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self._lazy:
            module, attr, _ = self._lazy[name]
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help from the table, so --help imports no command module.
        rows = [(name, self._lazy[name][2]) for name in self.list_commands(ctx) if name in self._lazy]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 72, "terminal_width": 72},
)
@click.version_option(__version__, prog_name="benchctl")
def cli() -> None:
    """benchctl: check a kernel change's performance claims with real
    measurements and honest statistics.

    Run `benchctl run` once per booted kernel (arm), then `benchctl analyze`
    over the runs of both arms. `benchctl model` predicts without hardware.
    """


def usage_line(e: click.UsageError) -> str:
    """A command-line mistake as one line, like every other benchctl error: the option, what was
    wrong, and where the help is (click prints three lines with a Usage: block)."""
    msg = e.format_message().strip().rstrip(".")
    if isinstance(e, click.BadParameter) and not isinstance(e, click.MissingParameter) and e.message:
        hint = e.param_hint if isinstance(e.param_hint, str) else None
        if hint is None and e.param is not None:
            hint = " / ".join(getattr(e.param, "opts", None) or [str(e.param.name)])
        msg = f"{hint.strip(chr(39))}: {e.message.strip().rstrip('.')}" if hint else msg
    where = e.ctx.command_path if e.ctx is not None else "benchctl"
    return f"{msg} (see `{where} --help`)"


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and an exit code."""
    try:
        cli.main(args=argv, prog_name="benchctl", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.UsageError as e:
        click.echo(f"benchctl: error: {usage_line(e)}", err=True)
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("benchctl: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except BenchctlError as e:
        click.echo(f"benchctl: error: {e}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("benchctl: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except BrokenPipeError:
        sys.exit(0)
    sys.exit(0)
