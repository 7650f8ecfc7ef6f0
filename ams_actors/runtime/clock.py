"""Injected time: every actor asks its Clock, never `time` or `asyncio.sleep` directly.

The simulator runs a whole night in minutes and tests never sleep for real, so time must be a
dependency. Two clocks:

- `RealClock`: wall time for `now()`, `time.monotonic()` for leases, `asyncio.sleep`.
- `VirtualClock`: like trio's MockClock. Time moves only by `advance()` (rate 0: tests step it
  exactly) or also at `rate` × real time (the simulator: a 30-minute night at 60× takes 30 s), and
  `skew_s` shifts one station's wall clock without touching its monotonic clock (clock-skew faults).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Wall-clock UTC (tz-aware). May be skewed between machines: never used for leases."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps: leases, back-off and timeouts use this."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class VirtualClock:
    """Virtual time shared by everything that holds it (one per simulated network).

    Sleepers wait on futures in a heap keyed by virtual deadline. With `rate > 0` a single loop
    timer wakes the earliest sleeper when its deadline arrives in scaled real time; `advance()`
    moves time forward at once and wakes everyone whose deadline passed, in deadline order.
    """

    def __init__(self, start: datetime | None = None, rate: float = 0.0, max_stall_s: float | None = None) -> None:
        if rate < 0:
            raise ValueError("rate must be >= 0")
        if max_stall_s is not None and max_stall_s <= 0:
            raise ValueError("max_stall_s must be > 0")
        self._epoch = start or datetime(2026, 7, 12, 21, 0, tzinfo=UTC)
        self._rate = rate
        self._offset = 0.0  # virtual seconds added by advance()
        self._real0 = time.monotonic()
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        # With `rate > 0`, a stall of the whole process (CPU starvation, the GIL) would otherwise turn
        # into rate × stall of virtual time at once: at 60x a 1.5 s hiccup is 90 s, a whole lease, run
        # out for every simulated station together while none of them could act. A pulse on the loop
        # folds real time into virtual time every max_stall_s / 2; real time beyond max_stall_s between
        # two turns of the loop is not counted (virtual time stands still while nothing can run).
        self._max_stall_s = max_stall_s
        self._pulse: asyncio.TimerHandle | None = None
        self._pulse_loop: asyncio.AbstractEventLoop | None = None

    # -- reading time ----------------------------------------------------------------------------
    def monotonic(self) -> float:
        real = time.monotonic() - self._real0
        if self._max_stall_s is not None:
            real = min(real, self._max_stall_s)
        return self._offset + real * self._rate

    def _on_pulse(self) -> None:
        """Fold the real time since the last pulse (at most max_stall_s of it) into the offset."""
        self._pulse = None
        self._offset = self.monotonic()
        self._real0 = time.monotonic()
        self._start_pulse(self._pulse_loop)

    def _start_pulse(self, loop: asyncio.AbstractEventLoop | None) -> None:
        if self._max_stall_s is None or self._rate <= 0 or loop is None or loop.is_closed():
            return
        if self._pulse is not None and self._pulse_loop is loop:
            return
        if self._pulse is not None:
            self._pulse.cancel()
        self._pulse_loop = loop
        self._pulse = loop.call_later(self._max_stall_s / 2, self._on_pulse)

    def now(self) -> datetime:
        return self._epoch + timedelta(seconds=self.monotonic())

    def set_rate(self, rate: float) -> None:
        """Change the speed of time from now on (0 pauses it, e.g. while the simulator renders)."""
        if rate < 0:
            raise ValueError("rate must be >= 0")
        now_virtual = self.monotonic()
        self._real0 = time.monotonic()
        self._offset = now_virtual
        self._rate = rate
        try:
            self._schedule(asyncio.get_running_loop())
        except RuntimeError:  # no loop yet: the next sleep schedules
            pass

    @property
    def rate(self) -> float:
        return self._rate

    def skewed(self, skew_s: float) -> SkewedClock:
        """A view of this clock whose wall time is off by `skew_s` (its monotonic time is not)."""
        return SkewedClock(self, skew_s)

    # -- waiting ---------------------------------------------------------------------------------
    async def sleep(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        deadline = self.monotonic() + max(0.0, seconds)
        heapq.heappush(self._heap, (deadline, next(self._seq), fut))
        self._schedule(loop)
        try:
            await fut
        finally:
            if not fut.done():
                fut.cancel()

    def _wake_due(self) -> None:
        now = self.monotonic()
        while self._heap and (self._heap[0][0] <= now or self._heap[0][2].done()):
            _, _, fut = heapq.heappop(self._heap)
            if not fut.done():
                fut.set_result(None)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        self._start_pulse(loop)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._wake_due()
        if not self._heap or self._rate <= 0:
            return
        delay_virtual = self._heap[0][0] - self.monotonic()
        self._timer = loop.call_later(max(0.0, delay_virtual / self._rate), self._on_timer, loop)

    def _on_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        self._schedule(loop)

    async def advance(self, seconds: float, settle_steps: int = 20) -> None:
        """Move virtual time forward by `seconds`, waking sleepers in deadline order.

        Between wake-ups the loop gets `settle_steps` turns so woken tasks can react (and schedule
        new sleeps that may fall inside the same advance) before time moves on.
        """
        target = self.monotonic() + seconds
        while True:
            self._wake_due()
            pending = [d for d, _, f in self._heap if not f.done()]
            nxt = min(pending) if pending else None
            if nxt is None or nxt > target:
                break
            self._offset += max(0.0, nxt - self.monotonic())
            self._wake_due()
            for _ in range(settle_steps):
                await asyncio.sleep(0)
        self._offset += max(0.0, target - self.monotonic())
        self._wake_due()
        for _ in range(settle_steps):
            await asyncio.sleep(0)
        self._schedule(asyncio.get_running_loop())


class SkewedClock:
    """One station's view of a shared VirtualClock, with a wrong wall clock (skew faults)."""

    def __init__(self, base: VirtualClock, skew_s: float) -> None:
        self.base = base
        self.skew_s = skew_s

    def now(self) -> datetime:
        return self.base.now() + timedelta(seconds=self.skew_s)

    def monotonic(self) -> float:
        return self.base.monotonic()

    async def sleep(self, seconds: float) -> None:
        await self.base.sleep(seconds)
