"""SIGINT/SIGTERM/SIGHUP during a run: stop between two instructions, never in the middle of a record.

The first signal raises Stop in the main thread (a BaseException, so a
driver's `except Exception` cannot swallow it); signals that arrive while a
section must not be cut in two (one iteration's records and its manifest
update) are remembered and raised when the section ends; during teardown
they are only remembered.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from typing import Any


class Stop(BaseException):
    """Raised in the main thread by the SIGINT/SIGTERM handler (BaseException: drivers cannot swallow it)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class SignalGuard:
    """SIGINT/SIGTERM/SIGHUP -> Stop once; later signals during teardown are remembered, not raised."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.armed = True
        self._old: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        first = self.received is None
        self.received = self.received or signum
        if self.armed and first and not self.deferring:
            raise Stop(signum)

    deferring = False

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """A section a signal must not cut in two (one iteration's records + its manifest update)."""
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False
        if self.received and self.armed:
            raise Stop(self.received)

    def __enter__(self) -> SignalGuard:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal went away
            self._old[s] = signal.signal(s, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)
