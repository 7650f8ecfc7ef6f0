"""Syncer: Uploads what changed to stations/<STATION>/ and downloads partner data.

The machinery (inbox, supervision, admin tasks) is complete; the stage's work lands with its issue.
"""

from __future__ import annotations

from ams_actors.actors.base import StationActor, StationContext
from ams_actors.runtime.actor import Publish


class Syncer(StationActor):
    tasks = ("sync",)

    def __init__(self, name: str, ctx: StationContext, publish: Publish | None = None) -> None:
        super().__init__(name, ctx, publish)
        self.tick_interval_s = ctx.config.schedule.sync_interval_s
