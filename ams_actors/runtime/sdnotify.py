"""systemd notifications (`Type=notify`): READY=1, STATUS=..., STOPPING=1 and the watchdog ping.

The protocol is one datagram per message on the unix socket named by $NOTIFY_SOCKET (a leading `@`
names an abstract socket); a dozen lines, so no library. Outside systemd the variable is unset and
every call does nothing.

The watchdog ping (WATCHDOG=1, every half of $WATCHDOG_USEC) is the station saying "I am healthy",
so it is sent only while every actor is alive and the event loop is not stalled: a station with an
actor crashed or waiting for its restart, or a loop that woke up far later than asked (something
blocked it), lets the ping lapse, and systemd restarts it if that lasts for WatchdogSec.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterable, Mapping

from ams_actors.runtime.actor import ActorState
from ams_actors.runtime.clock import Clock

log = logging.getLogger("ams.sdnotify")

ALIVE = frozenset({ActorState.RUNNING, ActorState.PAUSED})


class Notifier:
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        addr = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + addr[1:] if addr.startswith("@") else addr
        self.watchdog_s: float | None = None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        if usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid())):
            self.watchdog_s = int(usec) / 1e6
        self._warned = False

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, *fields: str) -> None:
        if not self.address:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto("\n".join(fields).encode(), self.address)
        except OSError as err:
            if not self._warned:  # systemd restarted under us, or a wrong path: say it once
                log.warning("cannot notify systemd at %s: %s", self.address.replace("\0", "@"), err)
                self._warned = True


def watchdog_verdict(states: Iterable[tuple[str, str]], lag_s: float, max_lag_s: float) -> str | None:
    """None when the watchdog may be pinged, else why not (actor states as (name, state) pairs)."""
    dead = [f"{name} {state}" for name, state in states if state not in ALIVE]
    if dead:
        return "not all actors alive: " + ", ".join(dead)
    if lag_s > max_lag_s:
        return f"event loop stalled for {lag_s:.1f} s"
    return None


async def keep_alive(
    notifier: Notifier,
    clock: Clock,
    states: Callable[[], Iterable[tuple[str, str]]],
    status: Callable[[], str],
) -> None:
    """Ping the watchdog (when systemd asked for it) and refresh STATUS= until cancelled."""
    interval = notifier.watchdog_s / 2.0 if notifier.watchdog_s else 30.0
    max_lag = interval / 2.0
    last_reason: str | None = None
    while True:
        asked = clock.monotonic() + interval
        await clock.sleep(interval)
        lag = clock.monotonic() - asked
        reason = watchdog_verdict(states(), lag, max_lag)
        if reason != last_reason and reason is not None:
            log.warning("watchdog not pinged: %s", reason)
        last_reason = reason
        fields = [f"STATUS={status() if reason is None else reason}"]
        if reason is None and notifier.watchdog_s:
            fields.insert(0, "WATCHDOG=1")
        notifier.send(*fields)
