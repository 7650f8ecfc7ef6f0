"""Supervision: restart a crashed actor with back-off; past the restart-rate limit, fail the station.

A crash is a bug or a broken dependency; restarting usually heals the second kind. When restarts come
faster than `max_restarts` per `window_s`, something is persistently wrong: the station stops and
exits non-zero, so systemd (or the operator) sees it instead of a silently spinning process.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ams_actors.runtime.actor import Actor, ActorState
from ams_actors.runtime.clock import Clock
from ams_actors.runtime.files import is_disk_full

log = logging.getLogger("ams.supervisor")


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    max_restarts: int = 5
    window_s: float = 300.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0

    def backoff(self, consecutive: int) -> float:
        return float(min(self.backoff_max_s, self.backoff_initial_s * 2 ** max(0, consecutive - 1)))


class Supervisor:
    def __init__(self, clock: Clock, policy: RestartPolicy) -> None:
        self.clock = clock
        self.policy = policy
        self.failed = asyncio.Event()
        self.failure: str = ""
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # told when an actor crashed on a full disk: such a crash is waited out, not counted (DiskGuard)
        self.on_disk_full: Callable[[str, BaseException], None] | None = None

    def start(self, actor: Actor) -> None:
        self._tasks[actor.name] = asyncio.create_task(self._supervise(actor), name=f"actor:{actor.name}")

    async def wait_stopped(self, actor: Actor) -> None:
        """Wait until the actor's supervision ended (stopped, failed or cancelled); never raises."""
        task = self._tasks.get(actor.name)
        if task is not None and not task.done():
            await asyncio.wait({task})

    async def cancel_all(self, patience_s: float = 5.0) -> None:
        """Cancel every actor task and wait for them to end.

        An actor that swallows its cancellation (a bug) is cancelled again and named in the log,
        instead of hanging the caller forever (a station's stop, or a simulated crash). `patience_s`
        is real time: task clean-up does not follow a virtual clock that may stand still.
        """
        pending = {t for t in self._tasks.values() if not t.done()}
        for attempt in range(3):
            if not pending:
                break
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=patience_s)
            if pending:
                log.error("actor task(s) %s ignored cancellation (attempt %d)",
                          sorted(t.get_name() for t in pending), attempt + 1)
        for task in self._tasks.values():
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: a crash at cancellation is not "never retrieved" noise

    async def _supervise(self, actor: Actor) -> None:
        recent: deque[float] = deque()
        consecutive = 0
        while True:
            disk_full = False
            try:
                await actor.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                actor.record_failure(exc)
                disk_full = self.on_disk_full is not None and is_disk_full(exc)
                if disk_full:
                    log.debug("actor %s stopped on a full disk: %s", actor.name, actor.last_error)
                    assert self.on_disk_full is not None
                    self.on_disk_full(actor.name, exc)
                else:
                    log.error("actor %s crashed: %s", actor.name, actor.last_error, exc_info=exc)
                try:
                    await actor.on_failure(exc)
                except Exception as hook_exc:
                    log.error("actor %s on_failure raised: %s", actor.name, hook_exc)
            now = self.clock.monotonic()
            if not disk_full:
                recent.append(now)
            while recent and now - recent[0] > self.policy.window_s:
                recent.popleft()
            if len(recent) > self.policy.max_restarts or actor.stopping:
                if not actor.stopping:
                    actor.state = ActorState.FAILED
                    self.failure = (
                        f"actor {actor.name} crashed {len(recent)} times in {self.policy.window_s:.0f} s "
                        f"(limit {self.policy.max_restarts}); last error: {actor.last_error}"
                    )
                    log.critical("%s — stopping the station", self.failure)
                    self.failed.set()
                else:
                    actor.state = ActorState.STOPPED
                return
            consecutive = consecutive + 1 if len(recent) > 1 or disk_full else 1
            delay = self.policy.backoff(consecutive)
            (log.debug if disk_full else log.warning)(
                "restarting %s in %.1f s (restart %d)", actor.name, delay, len(recent))
            await self.clock.sleep(delay)
            actor.restarts += 1
