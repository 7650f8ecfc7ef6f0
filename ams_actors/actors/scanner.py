"""Scanner: Picks up finished SD minutes of one camera, scans and stacks them in the process pool, moves
them to proc2/DAY/ (old `bs`).

The machinery (inbox, supervision, admin tasks) is complete; the stage's work lands with its issue.
"""

from __future__ import annotations

from ams_actors.actors.base import StationActor, StationContext
from ams_actors.runtime.actor import Publish


class Scanner(StationActor):
    tasks = ("bs",)

    def __init__(self, name: str, ctx: StationContext, publish: Publish | None = None) -> None:
        super().__init__(name, ctx, publish)
        self.tick_interval_s = ctx.config.schedule.scan_interval_s
