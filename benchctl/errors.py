"""User-facing errors and the exit codes they map to.

Every error a user can cause (bad input, missing tool, too little memory) is
raised as a BenchctlError; the CLI prints its one-line message and exits with
its code, never a traceback. The codes are documented in the README.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # a workload or tool failed while running
EXIT_USAGE = 2  # bad command line (click uses 2 as well)
EXIT_INPUT = 3  # a file benchctl was given is malformed or unreadable
EXIT_MISSING_TOOL = 4  # a required program is not installed
EXIT_RESOURCE = 5  # too little memory/disk, a lock held by another run, device refused
EXIT_INTERRUPTED = 130  # SIGINT/SIGTERM: stopped cleanly, results kept


class BenchctlError(Exception):
    """An error caused by input or environment, reported as one line."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(BenchctlError):
    exit_code = EXIT_USAGE


class InputError(BenchctlError):
    """A file is malformed; the message names the file (and line)."""

    exit_code = EXIT_INPUT

    def __init__(self, message: str, path: object | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f":{line}"
            where += ": "
        super().__init__(where + message)
        self.reason = message  # without the file:line, for a caller that says where itself
        self.path = path
        self.line = line


class ToolMissingError(BenchctlError):
    """A program is missing; the message names the Debian package that provides it."""

    exit_code = EXIT_MISSING_TOOL


class ResourceError(BenchctlError):
    exit_code = EXIT_RESOURCE


class RunFailed(BenchctlError):
    exit_code = EXIT_FAILED


class Interrupted(BenchctlError):
    exit_code = EXIT_INTERRUPTED
