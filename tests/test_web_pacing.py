"""The page's pacer (web/pacing.py) on a fake clock: an operator's clicks never wait, a client asking
back to back is held to the share, and concurrent requests cannot add up to more than one at a time."""

from __future__ import annotations

import asyncio

import pytest

from ams_actors.web.pacing import Pacer


class FakeTime:
    """Wall and CPU clocks that move only when the pacer sleeps (wall) or a request works (both)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.cpu_s = 5.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def cpu(self) -> float:
        return self.cpu_s

    def pacer(self, share: float, burst_s: float) -> Pacer:
        return Pacer(share, burst_s, monotonic=self.monotonic, cpu=self.cpu, sleep=self.sleep)

    async def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s

    def work(self, s: float):  # type: ignore[no-untyped-def]
        async def run() -> str:
            self.now += s
            self.cpu_s += s
            await asyncio.sleep(0)
            return "done"
        return run


def test_clicks_within_the_burst_never_wait() -> None:
    t = FakeTime()
    pacer = t.pacer(0.05, 0.25)

    async def go() -> None:
        for _ in range(20):  # a page every 2 s, 10 ms each: 0.5% busy
            assert await pacer.run(t.work(0.010)) == "done"
            t.now += 2.0
    asyncio.run(go())
    assert t.slept == [] and pacer.waited_s == 0.0


def test_back_to_back_client_is_held_to_the_share() -> None:
    t = FakeTime()
    share = 0.05
    pacer = t.pacer(share, 0.25)
    start = t.now

    async def go() -> float:
        busy = 0.0
        for _ in range(400):  # 8 ms pages, one after the other, no think time
            await pacer.run(t.work(0.008))
            busy += 0.008
        return busy
    busy = asyncio.run(go())
    elapsed = t.now - start
    # after the burst is spent, busy time is the share of the wall time (within one request)
    assert (busy - 0.25) / elapsed == pytest.approx(share, rel=0.05)
    assert pacer.waited_s > 0 and max(t.slept) <= 0.008 / share + 1e-9


def test_waiting_for_a_core_is_not_billed() -> None:
    """On a loaded machine a handler's wall time is mostly waiting for a core: only its CPU is owed."""
    t = FakeTime()
    pacer = t.pacer(0.05, 0.0)

    async def slow_but_cheap() -> None:
        t.now += 0.050  # 50 ms on the wall clock, 1 ms of CPU
        t.cpu_s += 0.001

    async def go() -> None:
        for _ in range(50):
            await pacer.run(slow_but_cheap)
    asyncio.run(go())
    assert pacer.waited_s == 0.0  # 1 ms of CPU per 50 ms is 2%, under the 5% share


def test_share_one_is_no_pacing() -> None:
    t = FakeTime()
    pacer = t.pacer(1.0, 0.0)

    async def go() -> None:
        for _ in range(100):
            await pacer.run(t.work(0.05))
    asyncio.run(go())
    assert t.slept == []


def test_concurrent_requests_run_one_at_a_time() -> None:
    t = FakeTime()
    pacer = t.pacer(0.5, 0.0)
    running = 0
    peak = 0

    async def one() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        t.now += 0.01
        t.cpu_s += 0.01
        await asyncio.sleep(0)
        running -= 1

    async def go() -> None:
        await asyncio.gather(*(pacer.run(one) for _ in range(10)))
    asyncio.run(go())
    assert peak == 1
    # each after the first waited for its debt: 10 ms owed, repaid at 0.5 s per s, less the 10 ms it ran
    assert sum(t.slept) == pytest.approx((0.01 / 0.5 - 0.01) * 9, rel=0.01)


def test_share_must_be_a_fraction() -> None:
    with pytest.raises(ValueError, match="share"):
        Pacer(0.0)


def test_an_expensive_page_is_paid_back_over_several_requests() -> None:
    """A cold night page (40 ms) among cheap ones (2 ms): the request after it is not held for the whole
    40 ms / share, yet over the run the client still gets no more than the share."""
    t = FakeTime()
    share = 0.05
    pacer = t.pacer(share, 0.0)
    start = t.now

    async def go() -> float:
        busy = 0.0
        for i in range(600):
            cost = 0.040 if i % 10 == 5 else 0.002
            await pacer.run(t.work(cost))
            busy += cost
        return busy
    busy = asyncio.run(go())
    assert busy / (t.now - start) <= share * 1.05
    mean = (0.040 + 9 * 0.002) / 10
    assert max(t.slept) < 0.040 / share * 0.6  # unspread, the next request would wait 0.8 s
    assert max(t.slept) <= 2.0 * 1.5 * mean / share  # about twice the (recent) mean cost's share-time
