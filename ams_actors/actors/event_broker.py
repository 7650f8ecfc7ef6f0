"""EventBroker: Claims events in the shared bucket with conditional writes so that each is solved exactly once.

The machinery (inbox, supervision, admin tasks) is complete; the stage's work lands with its issue.
"""

from __future__ import annotations

from ams_actors.actors.base import StationActor


class EventBroker(StationActor):
    tasks = ("solve",)
