"""What the web page may see of the station (it never imports station.py), and small readings of it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ams_actors.actors.base import StationContext
from ams_actors.runtime.actor import Actor


@dataclass(slots=True)
class StationView:
    """What the page may see of the station (it never imports station.py)."""

    ctx: StationContext
    status: Callable[[], dict[str, Any]]
    actors: Callable[[], Mapping[str, Actor]]
    reindex: Callable[[str], Awaitable[None]]  # rebuild a day's index now (the Indexer), then it syncs

    def sync_backlog(self) -> int:
        """Days the Syncer still has to upload (0 without a Syncer)."""
        return len(getattr(self.actors().get("Syncer"), "pending", ()))

    def claims(self) -> dict[str, Any]:
        """The EventBroker's claims report ({"held": [...], "seen": [...]}; empty without a broker)."""
        report = getattr(self.actors().get("EventBroker"), "claims_report", None)
        return report() if report else {"held": [], "seen": []}
