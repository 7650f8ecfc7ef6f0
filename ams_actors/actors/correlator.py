"""Correlator: On the solving node: correlates all stations' indexes into multi-station events.

The machinery (inbox, supervision, admin tasks) is complete; the stage's work lands with its issue.
"""

from __future__ import annotations

from ams_actors.actors.base import StationActor, StationContext
from ams_actors.runtime.actor import Publish


class Correlator(StationActor):
    tasks = ("correlate",)

    def __init__(self, name: str, ctx: StationContext, publish: Publish | None = None) -> None:
        super().__init__(name, ctx, publish)
        self.tick_interval_s = ctx.config.schedule.correlate_interval_s
