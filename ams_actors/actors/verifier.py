"""Verifier: Measures each maybe-meteor frame by frame at full resolution and writes the meteor JSON (old
`rvms`).

The machinery (inbox, supervision, admin tasks) is complete; the stage's work lands with its issue.
"""

from __future__ import annotations

from ams_actors.actors.base import StationActor


class Verifier(StationActor):
    tasks = ("rvms",)
