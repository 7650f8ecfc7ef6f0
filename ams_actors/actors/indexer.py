"""Indexer: Keeps the station's daily and yearly meteor index current.

The machinery (inbox, supervision, admin tasks) is complete; the stage's work lands with its issue.
"""

from __future__ import annotations

from ams_actors.actors.base import StationActor, StationContext
from ams_actors.runtime.actor import Publish


class Indexer(StationActor):
    tasks = ()

    def __init__(self, name: str, ctx: StationContext, publish: Publish | None = None) -> None:
        super().__init__(name, ctx, publish)
        self.tick_interval_s = ctx.config.schedule.index_interval_s
