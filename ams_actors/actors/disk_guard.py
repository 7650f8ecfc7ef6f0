"""DiskGuard: stop intake before the data root is full, and start it again when space returns.

A full disk must not corrupt or lose anything already stored: every write is atomic (a failed one
leaves the old file and no temp file), and a clip leaves SD/ only after its outputs exist. What it
must not do is crash-loop the station: so below `runtime.min_free_mb` free (checked every
`schedule.disk_check_interval_s` of the station clock), or as soon as an actor crashes on ENOSPC
(the supervisor tells us), the Scanners are paused — said once — and resumed, said once, when the free
space is back. Work already in the pipeline drains or is redone from disk after its actor's restart.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from ams_actors.actors.base import StationActor, StationContext
from ams_actors.runtime.actor import Actor, ActorState, Publish

MB = 1024 * 1024


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


class DiskGuard(StationActor):
    def __init__(
        self, name: str, ctx: StationContext, publish: Publish | None, intake: Callable[[], Sequence[Actor]]
    ) -> None:
        super().__init__(name, ctx, publish)
        self.tick_interval_s = ctx.config.schedule.disk_check_interval_s
        self.min_free = int(ctx.config.runtime.min_free_mb * MB)
        self._intake = intake
        self.full = False
        self._paused: list[Actor] = []  # only what we paused is resumed (not an operator's pause)

    async def on_start(self) -> None:
        await self.check()

    async def on_tick(self) -> None:
        await self.check()

    async def check(self) -> None:
        free = await asyncio.to_thread(free_bytes, self.ctx.paths.root)
        if free < self.min_free and not self.full:
            self._pause(f"only {free / MB:.1f} MB free (runtime.min_free_mb = {self.min_free / MB:.0f})")
        elif self.full and free >= max(self.min_free, MB):
            self.full = False
            for actor in self._paused:
                actor.resume()
            self.log.warning("data root %s: %.1f MB free again: intake resumed (%s)", self.ctx.paths.root,
                             free / MB, ", ".join(a.name for a in self._paused) or "nothing was paused")
            self._paused = []

    def disk_full(self, actor: str, exc: BaseException) -> None:
        """The supervisor saw `actor` crash on a full disk (its write left nothing half-done)."""
        if not self.full:
            self._pause(f"{actor}: {exc}")

    def _pause(self, why: str) -> None:
        self.full = True
        self._paused = [a for a in self._intake() if a.state != ActorState.PAUSED]
        for actor in self._paused:
            actor.pause()
        self.log.error("data root %s is full (%s): intake paused until space returns; nothing stored is lost",
                       self.ctx.paths.root, why)
