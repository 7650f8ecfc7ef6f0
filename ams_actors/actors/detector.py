"""Detector: Turns each minute's vals into exactly one of -detect / -maybe-meteors / -toomany (old `rvd`).

The machinery (inbox, supervision, admin tasks) is complete; the stage's work lands with its issue.
"""

from __future__ import annotations

from ams_actors.actors.base import StationActor


class Detector(StationActor):
    tasks = ("rvd",)
