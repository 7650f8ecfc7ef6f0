"""Housekeeper: Repairs minutes whose outputs are missing and writes per-day processing stats (old
`fix_days`, `proc_index`).

The machinery (inbox, supervision, admin tasks) is complete; the stage's work lands with its issue.
"""

from __future__ import annotations

from ams_actors.actors.base import StationActor, StationContext
from ams_actors.runtime.actor import Publish


class Housekeeper(StationActor):
    tasks = ("fix_days", "proc_index")

    def __init__(self, name: str, ctx: StationContext, publish: Publish | None = None) -> None:
        super().__init__(name, ctx, publish)
        self.tick_interval_s = ctx.config.schedule.housekeeping_interval_s
