"""What every station actor shares: the station's config, clock, process pool, store and paths."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from ams_actors.config import StationConfig
from ams_actors.runtime.actor import Actor, Publish
from ams_actors.runtime.clock import Clock
from ams_actors.store.ledger import Ledger
from ams_actors.store.local_paths import StationPaths


@dataclass(slots=True)
class StationContext:
    config: StationConfig
    clock: Clock
    paths: StationPaths
    executor: Executor | None = None
    store: Any = None  # ams_actors.store ObjectStore once opened; None offline
    claims_enabled: bool = False
    probe_message: str = ""  # the last store probe's verdict (status), set by Station and StoreWatch
    ledger: Ledger | None = None


class StationActor(Actor):
    def __init__(self, name: str, ctx: StationContext, publish: Publish | None = None) -> None:
        super().__init__(name, ctx.clock, inbox_size=ctx.config.runtime.inbox_size, publish=publish)
        self.ctx = ctx
