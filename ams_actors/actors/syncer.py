"""Syncer: uploads what changed to stations/<STATION>/ and downloads partner data and our events.

Every ``schedule.sync_interval_s`` (and on admin ``run sync [--day D]``) one cycle of
``netsync.sync.SyncEngine`` runs over today and yesterday (station clock), the older days an
IndexUpdated named since the last successful cycle, and — on the first cycle after a start — the days
whose local index differs from what the ledger says was uploaded (resume after restart or outage).

For each event of ours that is new or has a new revision the local EVENTS tree is written and
``EventsChanged(day, event_ids)`` published (for the EventBroker), one message per event folder day;
superseded events are written locally (with ``superseded_by``) but not announced. The first cycle
after a start also re-announces the active local events of today's and yesterday's folders, because
the EventBroker's tracking lives in memory.

At start (the first cycle) and then once a day (station clock) the last ``[sync] reconcile_days`` days
are reconciled with the bucket by content hash (``store.bucket_reconcile``): a station back after days
offline, or a bucket that lost objects, gets everything the station has; nothing is deleted.

Offline (no store) the Syncer does nothing and says so; store failures are logged and the affected
days stay pending, so the actor never crashes on the network.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from ams_actors.actors.base import StationActor, StationContext
from ams_actors.netsync.bucket_reconcile import ReconcileReport, reconcile, window
from ams_actors.netsync.sync import SyncEngine, SyncReport
from ams_actors.runtime.actor import Publish
from ams_actors.store.events_tree import local_events, recent_days
from ams_actors.store.outcomes import StoreError
from protocols.messages import EventsChanged, IndexUpdated, TaskResult
from protocols.s3_keys import InvalidKey, day_str, parse_day

OFFLINE = "offline: no object store, nothing synced (see `ams admin status`)"


class Syncer(StationActor):
    tasks = ("sync",)

    def __init__(self, name: str, ctx: StationContext, publish: Publish | None = None) -> None:
        super().__init__(name, ctx, publish)
        self.tick_interval_s = ctx.config.schedule.sync_interval_s
        self.pending: set[str] = set()  # older days named by IndexUpdated, until synced
        self._engine: SyncEngine | None = None
        self._store: Any = None
        self._caught_up = False
        self._said_offline = False
        self.last_report: SyncReport | None = None
        self.last_reconcile: ReconcileReport | None = None
        self._reconciled_on: date | None = None  # station-clock day of the last complete reconcile

    def engine(self) -> SyncEngine | None:
        store = self.ctx.store
        if store is None:
            return None
        if self._engine is None or self._store is not store:
            cfg = self.ctx.config
            self._engine = SyncEngine(
                self.ctx.paths,
                store,
                partners=cfg.network.partners,
                ledger=self.ctx.ledger,
                now_utc=lambda: self.clock.now().isoformat(timespec="seconds"),
                concurrency=cfg.store.max_concurrency,
                executor=self.ctx.executor,
                logger=self.log,
            )
            self._store = store
        # the station opens the ledger and the pool in start(), after building us
        self._engine.ledger = self.ctx.ledger
        self._engine.executor = self.ctx.executor
        return self._engine

    async def on_message(self, msg: Any) -> None:
        if isinstance(msg, IndexUpdated):
            if msg.station_id == self.ctx.config.station_id:
                self.pending.add(msg.day)
            return
        await super().on_message(msg)

    async def on_tick(self) -> None:
        await self.sync()

    async def on_task(self, task: str, day: str | None) -> TaskResult:
        if day is not None:
            try:
                day = day_str(parse_day(day))
            except InvalidKey as err:
                return TaskResult(task=task, actor=self.name, done=0, failed=1, detail=str(err))
        if self.ctx.store is None:
            return TaskResult(task=task, actor=self.name, done=0, detail=OFFLINE)
        report = await self.sync(day)
        if report is None:
            return TaskResult(task=task, actor=self.name, done=0, failed=1, detail="sync failed; see the log")
        n_events = sum(len(v) for v in report.events_changed.values())
        return TaskResult(
            task=task,
            actor=self.name,
            done=len(report.uploaded) + len(report.partner_indexes) + n_events,
            failed=len(report.failed),
            detail=report.summary(),
        )

    async def reconcile(self, engine: SyncEngine) -> ReconcileReport:
        """Bring the bucket up to what this station has over the reconcile window (StoreError: later)."""
        today = self.clock.now().date()
        rec = await reconcile(engine, window(today, self.ctx.config.sync.reconcile_days))
        self.last_reconcile = rec
        if not rec.failed:
            self._reconciled_on = today
        (self.log.info if rec.uploaded or rec.failed else self.log.debug)("%s", rec.summary())
        return rec

    def days_due(self) -> list[str]:
        today = self.clock.now().date()
        return sorted({*recent_days(today), *self.pending})

    async def sync(self, day: str | None = None) -> SyncReport | None:
        """One cycle (all due days, or just ``day``); None when offline or the store failed outright."""
        engine = self.engine()
        if engine is None:
            if not self._said_offline:
                self.log.info("%s", OFFLINE)
                self._said_offline = True
            return None
        self._said_offline = False
        first = day is None and not self._caught_up
        try:
            if first:
                self.pending.update(await engine.pending_days_on_disk())
            days = [day] if day is not None else self.days_due()
            report = await engine.run(days)
            if day is None and self._reconciled_on != self.clock.now().date():
                try:
                    rec = await self.reconcile(engine)
                except StoreError as err:  # the cycle's own work is done; the next cycle tries again
                    self.log.warning("reconcile with the bucket failed (retried next cycle): %s", err)
                else:
                    report.uploaded += rec.uploaded
                    report.failed += rec.failed
        except StoreError as err:
            self.log.warning("sync failed (retried next cycle): %s", err)
            return None
        if first:
            # The EventBroker keeps its state in memory: after a start, offer it again the events of
            # the recent days it may not have finished (it skips what is already solved).
            self._caught_up = True
            for d in self.days_due():
                for ev in await asyncio.to_thread(local_events, self.ctx.paths, d):
                    ids = report.events_changed.setdefault(d, [])
                    if ev.superseded_by is None and ev.event_id not in ids:
                        ids.append(ev.event_id)
                        ids.sort()
            report.events_changed = {k: v for k, v in report.events_changed.items() if v}
        self.pending -= set(report.days) - report.failed_days
        self.last_report = report
        if report.uploaded or report.failed or report.partner_indexes or report.events_written:
            self.log.info("%s", report.summary())
        for folder_day, ids in sorted(report.events_changed.items()):
            await self.publish(EventsChanged(day=folder_day, event_ids=tuple(ids)))
        return report
