"""Stop signals of `ams run`, caught from the first instant of the process.

A SIGTERM that arrives while the station is still starting (loading its config, opening the store)
must be a clean stop, not the default action that kills the process mid-write. So the handler that
only *records* the signal is installed before anything else, and once the event loop runs the same
signals are routed to the station's stop request; a signal recorded before that is replayed then.

SIGHUP is a graceful stop too (an operator's terminal closing, or `systemctl kill -s HUP`): a station
that reloads half its configuration while claims are held is harder to reason about than a restart.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from types import FrameType

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class StopSignals:
    """Record stop signals until the loop runs, then hand every one of them to `on_stop`."""

    def __init__(self) -> None:
        self.first: signal.Signals | None = None
        self._installed = False

    def install(self) -> None:
        if self._installed:
            return
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._record)
        self._installed = True

    def _record(self, signum: int, frame: FrameType | None) -> None:
        if self.first is None:
            self.first = signal.Signals(signum)

    def attach(self, loop: asyncio.AbstractEventLoop, on_stop: Callable[[signal.Signals], None]) -> None:
        """Route the stop signals to `on_stop` on `loop`; replay one that came before."""
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, on_stop, sig)
        if self.first is not None:
            on_stop(self.first)


def ignore_stop_signals() -> None:
    """For pool workers and the fork server: a stop is the station's to decide (see runtime/pool.py)."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


# One per process: `ams` installs it before it even builds its parser when the verb is `run`.
EARLY = StopSignals()
