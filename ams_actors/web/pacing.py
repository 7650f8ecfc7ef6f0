"""Pacing: the page yields to the pipeline.

A station is a mini-PC whose cores belong to the Scanner's pool. A browser tab that reloads in a loop,
a crawler on the LAN or a misconfigured scraper would otherwise take as much of the station process as
it asks for, and detection would fall behind. The pacer keeps the CPU time the station process spends
while handling requests at most ``share`` of the wall clock, averaged over a burst of ``burst_s`` of
work: an operator clicking around never waits (the burst covers many pages), a client asking back to
back is slowed to what the share allows. CPU time, not the handler's wall time: on a busy machine a
handler also waits for a core, and billing that wait would hold the page back for the load it did not
cause. Handling is one request at a time, so concurrent requests cannot add up to more. A share of 1
turns pacing off.

The hold-back is spread: a request waits at most ``spread`` times the recent mean cost's worth of
share-time, so one expensive page (a night never looked at before) is paid back over the next few
requests instead of all by the one after it; the debt still bounds the share over any long run, since
every wait at the cap repays ``spread`` mean costs while a request adds one.

Clocks and sleeping are injected (the page runs on the real clocks; tests pass fakes).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class Pacer:
    def __init__(self, share: float, burst_s: float = 0.25, *, spread: float = 2.0,
                 monotonic: Callable[[], float] = time.monotonic,
                 cpu: Callable[[], float] = time.process_time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        if not 0 < share <= 1:
            raise ValueError(f"share must be within (0, 1], got {share}")
        self.share = share
        self.burst_s = burst_s
        self.spread = spread
        self._mean_cost = 0.0  # CPU seconds per request over the last ~20 (exponential mean)
        self._monotonic = monotonic
        self._cpu = cpu
        self._sleep = sleep
        self._debt = 0.0  # CPU seconds of handling not yet paid for by elapsed time
        self._last = monotonic()
        self._lock = asyncio.Lock()
        self.waited_s = 0.0  # total time requests were held back (for /metrics and the bench)

    def _settle(self, owed: float = 0.0) -> None:
        """Add what is owed and repay with the time gone since the last settling (share x elapsed)."""
        now = self._monotonic()
        self._debt = max(0.0, self._debt + owed - (now - self._last) * self.share)
        self._last = now

    def wait_needed(self) -> float:
        """Seconds to hold the next request back so the debt falls to the burst allowance."""
        self._settle()
        owed = max(0.0, (self._debt - self.burst_s) / self.share)
        return min(owed, self.spread * self._mean_cost / self.share) if self._mean_cost > 0 else owed

    async def run(self, work: Callable[[], Awaitable[T]]) -> T:
        if self.share >= 1.0:
            return await work()
        async with self._lock:
            wait = self.wait_needed()
            if wait > 0:
                self.waited_s += wait
                await self._sleep(wait)
                self._settle()
            c0 = self._cpu()
            try:
                return await work()
            finally:
                # the handler's CPU is owed; its wall time earns credit like any other time
                cost = max(0.0, self._cpu() - c0)
                self._mean_cost = cost if self._mean_cost == 0 else 0.95 * self._mean_cost + 0.05 * cost
                self._settle(cost)
