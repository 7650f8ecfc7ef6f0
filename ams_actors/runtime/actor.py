"""The Actor: one bounded inbox, one `run()` loop, lifecycle hooks (after pykka).

Hooks, all optional:
- `on_start()`  — before the first message; also after every restart (re-read state from disk).
- `on_message(msg)` — one message at a time; an exception crashes the actor and the supervisor
  restarts it with back-off (per-item trouble such as a corrupt clip is handled inside, not raised).
- `on_tick()` — every `tick_interval_s` of the station clock, for actors that poll (Scanner, Syncer).
- `on_task(task, day)` — admin `run TASK` and the one-shot CLI verbs; returns a TaskResult.
- `on_stop()` — after intake stopped and the current message finished: checkpoint, release.
- `on_failure(exc)` — after a crash, before the restart: log, release what must not be held.

Pausing stops intake (the bounded inbox then pushes back on producers); the loop never blocks on
CPU work: actors hand that to the process pool through `ctx.run_cpu`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ams_actors.runtime.clock import Clock
from protocols.messages import RunTask, TaskResult


class ActorState(StrEnum):
    NEW = "new"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    STOPPED = "stopped"
    CRASHED = "crashed"  # waiting for its restart
    FAILED = "failed"  # restart limit reached


@dataclass(frozen=True, slots=True)
class ActorStats:
    name: str
    state: str
    inbox: int
    inbox_size: int
    processed: int
    failed: int
    restarts: int
    last_error: str
    uptime_s: float
    # per camera, what the actor did to its minutes ({"010001": {"minutes": 4, "meteors": 1}}): the
    # operator's numbers; ``processed`` counts messages (a `bs` task is one message for a night of clips)
    work: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "inbox": self.inbox,
            "inbox_size": self.inbox_size,
            "processed": self.processed,
            "failed": self.failed,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "uptime_s": round(self.uptime_s, 1),
            "work": {cam: dict(counts) for cam, counts in sorted(self.work.items())},
        }


Publish = Callable[[Any], Awaitable[None]]


async def _no_route(msg: Any) -> None:
    raise RuntimeError(f"no route for {type(msg).__name__}")


class Actor:
    """Base class. Subclasses set `tasks` (the admin task names they own) and override hooks."""

    tasks: tuple[str, ...] = ()
    tick_interval_s: float | None = None

    def __init__(self, name: str, clock: Clock, inbox_size: int = 64, publish: Publish | None = None) -> None:
        self.name = name
        self.clock = clock
        self.inbox: asyncio.Queue[Any] = asyncio.Queue(maxsize=inbox_size)
        self.publish: Publish = publish or _no_route
        self.log = logging.getLogger(f"ams.{name}")
        self.state = ActorState.NEW
        self.processed = 0
        self.failed = 0
        self.restarts = 0
        self.last_error = ""
        self._started_mono: float | None = None
        self._stop = asyncio.Event()
        self._resume = asyncio.Event()
        self._resume.set()

    # -- hooks -----------------------------------------------------------------------------------
    async def on_start(self) -> None:
        pass

    async def on_message(self, msg: Any) -> None:
        self.log.debug("ignoring %s", type(msg).__name__)

    async def on_tick(self) -> None:
        pass

    async def on_task(self, task: str, day: str | None) -> TaskResult:
        return TaskResult(task=task, actor=self.name, done=0, detail="nothing to do")

    async def on_stop(self) -> None:
        pass

    async def on_failure(self, exc: BaseException) -> None:
        pass

    # -- mailbox ---------------------------------------------------------------------------------
    async def tell(self, msg: Any) -> None:
        """Deliver a message, waiting while the inbox is full (back-pressure on the producer)."""
        await self.inbox.put(msg)

    def pause(self) -> None:
        if self.state == ActorState.RUNNING:
            self.state = ActorState.PAUSED
        self._resume.clear()

    def resume(self) -> None:
        if self.state == ActorState.PAUSED:
            self.state = ActorState.RUNNING
        self._resume.set()

    def request_stop(self) -> None:
        """Stop intake: the message in hand is finished, then `on_stop` runs and `run()` returns."""
        self._stop.set()
        self._resume.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stats(self) -> ActorStats:
        up = 0.0 if self._started_mono is None else max(0.0, self.clock.monotonic() - self._started_mono)
        return ActorStats(
            name=self.name,
            state=str(self.state),
            inbox=self.inbox.qsize(),
            inbox_size=self.inbox.maxsize,
            processed=self.processed,
            failed=self.failed,
            restarts=self.restarts,
            last_error=self.last_error,
            uptime_s=up,
        )

    # -- the loop --------------------------------------------------------------------------------
    async def run(self) -> None:
        """One life of the actor. Returns on a clean stop; raises when a hook crashes."""
        self.state = ActorState.RUNNING if self._resume.is_set() else ActorState.PAUSED
        if self._started_mono is None:
            self._started_mono = self.clock.monotonic()
        await self.on_start()
        next_tick = self.clock.monotonic() + self.tick_interval_s if self.tick_interval_s else None
        try:
            while not self._stop.is_set():
                if not self._resume.is_set():
                    await self._wait_any(self._resume.wait(), None)
                    continue
                timeout = None if next_tick is None else max(0.0, next_tick - self.clock.monotonic())
                msg = await self._wait_any(self.inbox.get(), timeout)
                if self._stop.is_set():
                    if msg is not _NOTHING:
                        self._requeue(msg)
                    break
                if not self._resume.is_set() and msg is not _NOTHING:
                    self._requeue(msg)
                    continue
                if msg is _NOTHING:
                    if next_tick is not None and self.clock.monotonic() >= next_tick:
                        await self.on_tick()
                        assert self.tick_interval_s is not None
                        next_tick = self.clock.monotonic() + self.tick_interval_s
                    continue
                try:
                    await self._handle(msg)
                finally:
                    self.inbox.task_done()  # `inbox.join()` (Station.settle) waits for handled, not taken
        finally:
            if self.state not in (ActorState.CRASHED, ActorState.FAILED):
                self.state = ActorState.STOPPING
        await self.on_stop()
        left = self.inbox.qsize()
        if left:
            self.log.info("stopped with %d message(s) unprocessed; they are redone from disk on restart", left)
        self.state = ActorState.STOPPED

    async def _handle(self, msg: Any) -> None:
        if isinstance(msg, RunTask):
            try:
                result = await self.on_task(msg.task, msg.day)
            except Exception as exc:
                if msg.reply is not None and not msg.reply.done():
                    msg.reply.set_exception(exc)
                raise
            if msg.reply is not None and not msg.reply.done():
                msg.reply.set_result(result)
            self.processed += 1
            return
        await self.on_message(msg)
        self.processed += 1

    def _requeue(self, msg: Any) -> None:
        # Put back at the end: order within an inbox is not a contract (durable state is on disk).
        with contextlib.suppress(asyncio.QueueFull):
            self.inbox.put_nowait(msg)
        self.inbox.task_done()  # the get() that took it

    async def _wait_any(self, aw: Awaitable[Any], within_s: float | None) -> Any:
        """Wait for `aw`, the stop request, or `within_s` seconds of the station clock."""
        main = asyncio.ensure_future(aw)
        waiters: set[asyncio.Future[Any]] = {main, asyncio.ensure_future(self._stop.wait())}
        if within_s is not None:
            waiters.add(asyncio.ensure_future(self.clock.sleep(within_s)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                if w is not main:
                    w.cancel()
            if not main.done():
                main.cancel()  # also when this task itself is cancelled: no orphan get() may take an item
        if main.done() and not main.cancelled():
            return main.result()
        # asyncio.wait, not `await main`: awaiting the abandoned future and suppressing its
        # CancelledError would also swallow a cancellation of this task arriving in the same instant
        # (a killed actor would then run on)
        await asyncio.wait({main})
        # a get() that completed in the same instant as its cancellation must not lose the item
        if not main.cancelled() and main.exception() is None:
            return main.result()
        return _NOTHING

    def record_failure(self, exc: BaseException) -> None:
        self.failed += 1
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]
        self.state = ActorState.CRASHED


class _Nothing:
    def __repr__(self) -> str:
        return "<nothing>"


_NOTHING: Any = _Nothing()
