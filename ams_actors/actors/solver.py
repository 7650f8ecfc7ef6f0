"""Solver: Solves claimed events' trajectories in the process pool.

The machinery (inbox, supervision, admin tasks) is complete; the stage's work lands with its issue.
"""

from __future__ import annotations

from ams_actors.actors.base import StationActor


class Solver(StationActor):
    tasks = ()
