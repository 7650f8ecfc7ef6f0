"""Actor lifecycle, supervision and the virtual clock — real actors, a virtual clock, no sleeping."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from ams_actors.runtime.actor import Actor, ActorState
from ams_actors.runtime.clock import VirtualClock
from ams_actors.runtime.supervisor import RestartPolicy, Supervisor
from protocols.messages import RunTask, TaskResult


class Recorder(Actor):
    def __init__(self, name: str, clock: VirtualClock, journal: list[str], **kw: Any) -> None:
        super().__init__(name, clock, **kw)
        self.journal = journal
        self.crash_on: set[Any] = set()

    async def on_start(self) -> None:
        self.journal.append(f"{self.name}:start")

    async def on_message(self, msg: Any) -> None:
        if msg in self.crash_on:
            raise RuntimeError(f"boom on {msg}")
        self.journal.append(f"{self.name}:msg:{msg}")

    async def on_tick(self) -> None:
        self.journal.append(f"{self.name}:tick@{self.clock.monotonic():.0f}")

    async def on_task(self, task: str, day: str | None) -> TaskResult:
        return TaskResult(task=task, actor=self.name, done=3, detail=str(day))

    async def on_stop(self) -> None:
        self.journal.append(f"{self.name}:stop")

    async def on_failure(self, exc: BaseException) -> None:
        self.journal.append(f"{self.name}:failure:{exc}")


async def settle(n: int = 50) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_virtual_clock_wakes_sleepers_in_deadline_order() -> None:
    clock = VirtualClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, s: float) -> None:
        await clock.sleep(s)
        woke.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("c", 30), ("a", 10), ("b", 20))]
    await settle()
    await clock.advance(15)
    assert woke == [("a", 10.0)]
    await clock.advance(100)
    assert [w[0] for w in woke] == ["a", "b", "c"]
    assert [w[1] for w in woke] == [10.0, 20.0, 30.0]
    assert clock.monotonic() == 115.0
    await asyncio.gather(*tasks)


async def test_virtual_clock_rate_and_skew() -> None:
    clock = VirtualClock(rate=1000.0)
    t0 = clock.monotonic()
    await clock.sleep(50)  # 50 virtual seconds = 0.05 s real
    assert clock.monotonic() - t0 >= 50
    skewed = clock.skewed(300)
    assert (skewed.now() - clock.now()).total_seconds() == pytest.approx(300, abs=1)
    assert skewed.monotonic() == pytest.approx(clock.monotonic(), abs=1)


def _busy(seconds: float) -> None:
    """Hold the CPU and the loop, as a starved or GIL-bound process does."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


async def test_virtual_clock_does_not_count_a_stall_of_the_whole_process() -> None:
    """At 60x a blocked loop (a loaded machine, the GIL) turned 1.5 s into 90 virtual seconds at once:
    every simulated lease ran out together while no station could renew, and a partner took over a
    claim whose holder was mid-upload (the network night's duplicate solve). With `max_stall_s` only
    that much real time of a stall counts; time still runs at `rate` while the loop turns."""
    clock = VirtualClock(rate=60.0, max_stall_s=0.1)
    sleeper = asyncio.create_task(clock.sleep(10_000))  # something waits on the clock, as in the sim
    await asyncio.sleep(0.06)  # the clock's pulse runs
    t0 = clock.monotonic()
    _busy(0.5)  # the whole process stalls: 30 virtual seconds at 60x
    assert clock.monotonic() - t0 <= 0.1 * 60.0 + 1e-6
    t1, r1 = clock.monotonic(), time.monotonic()
    for _ in range(30):  # the loop turns again: time runs at the rate
        await asyncio.sleep(0.01)
    ran = clock.monotonic() - t1
    assert 0.25 * (time.monotonic() - r1) * 60.0 <= ran <= (time.monotonic() - r1) * 60.0 + 0.01
    sleeper.cancel()
    uncapped = VirtualClock(rate=60.0)
    t0 = uncapped.monotonic()
    _busy(0.2)
    assert uncapped.monotonic() - t0 >= 0.2 * 60.0


async def test_lifecycle_order_messages_tasks_and_ticks() -> None:
    clock = VirtualClock()
    journal: list[str] = []
    actor = Recorder("A", clock, journal)
    actor.tick_interval_s = 10
    task = asyncio.create_task(actor.run())
    await settle()
    await actor.tell("one")
    await actor.tell("two")
    await settle()
    await clock.advance(25)
    fut: asyncio.Future[TaskResult] = asyncio.get_running_loop().create_future()
    await actor.tell(RunTask("bs", "2026_07_12", reply=fut))
    result = await asyncio.wait_for(fut, 5)
    assert result.done == 3 and result.detail == "2026_07_12"
    actor.request_stop()
    await asyncio.wait_for(task, 5)
    assert journal == ["A:start", "A:msg:one", "A:msg:two", "A:tick@10", "A:tick@20", "A:stop"]
    assert actor.state == ActorState.STOPPED
    assert actor.stats().processed == 3


async def test_pause_holds_messages_until_resume() -> None:
    clock = VirtualClock()
    journal: list[str] = []
    actor = Recorder("P", clock, journal, inbox_size=2)
    task = asyncio.create_task(actor.run())
    await settle()
    actor.pause()
    await actor.tell(1)
    await actor.tell(2)
    await settle()
    assert journal == ["P:start"]
    assert actor.stats().state == "paused"
    blocked = asyncio.create_task(actor.tell(3))  # inbox full: the producer waits (back-pressure)
    await settle()
    assert not blocked.done()
    actor.resume()
    await asyncio.wait_for(blocked, 5)
    await settle()
    assert sorted(journal[1:]) == ["P:msg:1", "P:msg:2", "P:msg:3"]
    actor.request_stop()
    await asyncio.wait_for(task, 5)


async def test_a_cancelled_actor_stops_whatever_it_was_waiting_on() -> None:
    """A crash or kill cancels the actor task; that must end it at every point of its loop, also in
    the instant between a tick and the inbox wait it abandons (a swallowed cancellation there left a
    "killed" EventBroker renewing its claim forever)."""
    for steps in range(12):  # cancel 0..11 loop turns after the tick fired: one of them is that instant
        clock = VirtualClock()
        journal: list[str] = []
        actor = Recorder("K", clock, journal)
        actor.tick_interval_s = 10
        task = asyncio.create_task(actor.run())
        await settle()
        await clock.advance(10, settle_steps=0)
        for _ in range(steps):
            await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=1.0)
        assert done, f"the actor ignored a cancellation {steps} loop turn(s) after its tick"
        assert task.cancelled(), steps


async def test_crashing_actor_is_restarted_with_backoff() -> None:
    clock = VirtualClock()
    journal: list[str] = []
    actor = Recorder("C", clock, journal)
    actor.crash_on = {"bad"}
    sup = Supervisor(clock, RestartPolicy(max_restarts=3, window_s=300, backoff_initial_s=5, backoff_max_s=60))
    sup.start(actor)
    await settle()
    await actor.tell("bad")
    await settle()
    assert actor.state == ActorState.CRASHED
    assert journal[-1] == "C:failure:boom on bad"
    await clock.advance(4.9)
    assert journal.count("C:start") == 1  # still backing off
    await clock.advance(0.2)
    assert journal.count("C:start") == 2
    await actor.tell("good")
    await settle()
    assert journal[-1] == "C:msg:good"
    s = actor.stats()
    assert (s.failed, s.restarts, s.state) == (1, 1, "running")
    assert "boom on bad" in s.last_error
    assert not sup.failed.is_set()
    actor.request_stop()
    await asyncio.wait_for(sup.wait_stopped(actor), 5)


async def test_restart_rate_limit_fails_the_station() -> None:
    clock = VirtualClock()
    journal: list[str] = []
    actor = Recorder("F", clock, journal)
    actor.crash_on = {"bad"}
    sup = Supervisor(clock, RestartPolicy(max_restarts=2, window_s=300, backoff_initial_s=1, backoff_max_s=4))
    sup.start(actor)
    for _ in range(3):
        await settle()
        await actor.tell("bad")
        await settle()
        await clock.advance(10)
    await asyncio.wait_for(sup.failed.wait(), 5)
    assert actor.state == ActorState.FAILED
    assert "crashed 3 times" in sup.failure and "boom on bad" in sup.failure
    await sup.cancel_all()


def test_backoff_doubles_up_to_the_cap() -> None:
    p = RestartPolicy(backoff_initial_s=1, backoff_max_s=10)
    assert [p.backoff(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
