"""What every station actor shares: the station's config, clock, process pool, store and paths."""

from __future__ import annotations

import os
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import Any

from ams_actors.config import StationConfig
from ams_actors.runtime.actor import Actor, ActorStats, Publish
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
    one_shot: bool = False  # a one-shot verb (`ams rvd` …): only some actors run, then the process exits


# (mask file, SD width, SD height): what a pool worker needs to read a camera's mask (config.cached_mask)
MaskRef = tuple[str, int, int]


def camera_mask(config: StationConfig, camera_id: str) -> MaskRef | None:
    """The camera's mask for the scan and detect jobs; None without one (or for an unknown camera, or
    a mask file gone since the config was checked: the station warned at start)."""
    cam = next((c for c in config.cameras if c.id == camera_id), None)
    if cam is None or not cam.mask or not os.path.isfile(cam.mask):
        return None
    return (cam.mask, cam.sd_width, cam.sd_height)


class StationActor(Actor):
    def __init__(self, name: str, ctx: StationContext, publish: Publish | None = None) -> None:
        super().__init__(name, ctx.clock, inbox_size=ctx.config.runtime.inbox_size, publish=publish)
        self.ctx = ctx
        self.camera_work: dict[str, dict[str, int]] = {}

    def count(self, camera: str, what: str, n: int = 1) -> None:
        """Count minutes (clips) or meteors of a camera for `ams admin status`."""
        per_cam = self.camera_work.setdefault(camera, {})
        per_cam[what] = per_cam.get(what, 0) + n

    def stats(self) -> ActorStats:
        return replace(super().stats(), work={cam: dict(c) for cam, c in self.camera_work.items()})
