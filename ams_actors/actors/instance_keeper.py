"""InstanceKeeper: holds `stations/<ID>/instance.json` while the station runs (protocols/instance.py).

`acquire()` runs during start-up, before any other actor: a second machine running this station id
makes the start fail (exit 2, naming the other instance) instead of overwriting its indexes. Then the
record is renewed every lease/3 of the station clock and released on a clean stop. If another instance
took it over while we ran (we were cut off for longer than the lease), the station stops with exit 2.
A store that cannot be reached is not a reason to refuse: the check is retried on every tick.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable

from ams_actors.actors.base import StationActor, StationContext
from ams_actors.runtime.actor import Publish
from ams_actors.store.outcomes import (
    Conflict,
    Created,
    NotFound,
    PreconditionFailed,
    Replaced,
    ReplaceOutcome,
    StoredObject,
    StoreError,
    TooLarge,
)
from protocols import instance as inst
from protocols.errors import InputError
from protocols.s3_keys import instance_key


class StationIdInUse(InputError):
    """Exit 2: restarting cannot help while the other instance runs."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(key, None, problem)


class InstanceKeeper(StationActor):
    def __init__(
        self, name: str, ctx: StationContext, publish: Publish | None, on_lost: Callable[[str], None]
    ) -> None:
        super().__init__(name, ctx, publish)
        claims = ctx.config.claims
        self.lease_s, self.margin_s = claims.lease_s, claims.skew_margin_s
        self.tick_interval_s = self.lease_s / 3.0
        self.key = instance_key(ctx.config.station_id)
        self.mine = inst.InstanceRecord(
            station=ctx.config.station_id, state=inst.InstanceState.RUNNING, host=socket.gethostname(),
            pid=os.getpid(), data_root=str(ctx.paths.root.resolve()), started_at=ctx.clock.now().isoformat(),
            token=uuid.uuid4().hex, lease_s=self.lease_s, hb_seq=0, updated_at=ctx.clock.now().isoformat(),
        )
        self.etag: str | None = None  # set while we hold the record
        self._on_lost = on_lost

    # -- start-up --------------------------------------------------------------------------------
    async def acquire(self) -> None:
        """Hold the record, or raise StationIdInUse once the other instance is seen renewing its own."""
        store = self.ctx.store
        if store is None:
            return
        seen_etag: str | None = None
        since = self.clock.monotonic()
        changes = 0
        told = False
        while True:
            try:
                observed, etag = await self._read()
                if etag != seen_etag:
                    changes += seen_etag is not None
                    seen_etag, since = etag, self.clock.monotonic()
                now = self.clock.monotonic()
                verdict = inst.decide(self.mine, observed, since, now, self.margin_s)
                if verdict.decision == inst.Decision.WAIT:
                    assert observed is not None and verdict.wake_at is not None
                    if changes:  # it renewed while we watched: alive
                        raise StationIdInUse(self.key, f"station {self.mine.station} is already running on "
                                             f"{observed.describe()}; stop it there or give this station its own id")
                    if not told:
                        self.log.warning("instance record %s: %s; watching it for up to %.0f s to see whether it "
                                         "is alive", self.key, verdict.reason, verdict.wake_at - now)
                        told = True
                    await self.clock.sleep(min(verdict.wake_at - now + 0.01, self.lease_s / 6.0))
                    continue
                if verdict.decision == inst.Decision.HELD or await self._write(verdict, observed, etag):
                    self.log.info("instance record %s held (%s)", self.key, verdict.reason)
                    return
            except StoreError as err:
                self.log.warning("cannot check the instance record %s (%s); retrying every %.0f s",
                                 self.key, err, self.tick_interval_s)
                return

    async def _read(self) -> tuple[inst.InstanceRecord | None, str | None]:
        found = await self.ctx.store.get(self.key, max_bytes=inst.MAX_INSTANCE_BYTES)
        if isinstance(found, NotFound):
            return None, None
        if isinstance(found, TooLarge):
            self.log.warning("%s: %d bytes, over the limit: replacing it", self.key, found.size)
            return None, found.etag
        assert isinstance(found, StoredObject)
        try:
            return inst.InstanceRecord.from_bytes(found.body, self.key), found.etag
        except InputError as err:
            self.log.warning("%s; replacing it", err)  # our own key: nobody else may write it
            return None, found.etag

    async def _write(self, verdict: inst.Verdict, observed: inst.InstanceRecord | None, etag: str | None) -> bool:
        store = self.ctx.store
        mine = inst.taking_over(self.mine, observed) if observed is not None else self.mine
        if etag is None:
            outcome = await store.put(self.key, mine.to_bytes(), if_none_match="*")
        else:
            outcome = await store.put(self.key, mine.to_bytes(), if_match=etag)
        if isinstance(outcome, Created | Replaced):
            self.mine, self.etag = mine, outcome.etag
            return True
        if isinstance(outcome, Conflict):
            await self.clock.sleep(0.2)
        return False  # someone else wrote first (or no answer): read it again

    # -- running ---------------------------------------------------------------------------------
    async def on_tick(self) -> None:
        if self.ctx.store is None:
            return
        if self.etag is None:
            try:
                await self.acquire()
            except StationIdInUse as err:
                self._on_lost(str(err))
            return
        rec = inst.renewed(self.mine, self.clock.now().isoformat())
        outcome = await self._replace(rec, "renewed")
        if outcome is None:
            return
        if isinstance(outcome, Replaced):
            self.mine, self.etag = rec, outcome.etag
        elif isinstance(outcome, PreconditionFailed | NotFound):
            self.etag = None
            other, _ = await self._read()
            who = other.describe() if other is not None else "nobody (the record is gone)"
            self._on_lost(f"{self.key}: another instance of station {self.mine.station} took over: {who}")
        else:
            self.log.warning("instance record %s not renewed: %s", self.key, outcome)

    async def on_stop(self) -> None:
        if self.ctx.store is None or self.etag is None:
            return
        outcome = await self._replace(inst.released(self.mine, self.clock.now().isoformat()), "released")
        if outcome is None:
            return
        self.etag = None
        if isinstance(outcome, Replaced):
            self.log.info("instance record %s released", self.key)

    async def _replace(self, rec: inst.InstanceRecord, what: str) -> ReplaceOutcome | None:
        """If-Match write of our next record; None (logged) when the store could not be asked."""
        assert self.etag is not None
        try:
            return await self.ctx.store.put(self.key, rec.to_bytes(), if_match=self.etag)
        except StoreError as err:
            self.log.warning("instance record %s not %s: %s", self.key, what, err)
            return None
