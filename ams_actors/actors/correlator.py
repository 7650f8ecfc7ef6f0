"""Correlator: on the solving node, correlates all stations' daily indexes into multi-station events.

Built only with ``roles = ["correlator"]``. Every ``schedule.correlate_interval_s`` (and on admin
``run correlate [--day D]``) it runs ``netsync.correlation.NetworkCorrelator`` over today and
yesterday (station clock) and every older day whose station indexes changed in the bucket since the
last run (``store.index_watch``: a partner back after days offline uploads old days), or the given
day: indexes validated and correlated in the process pool,
events written with conditional PUTs (safe with two correlators at once), ms_detects written per
station. It publishes nothing: each station's Syncer learns its events from its ms_detects, the
correlator's own station included, so there is one path for every station.
"""

from __future__ import annotations

import asyncio

from ams_actors.actors.base import StationActor, StationContext
from ams_actors.netsync.bucket_reconcile import window
from ams_actors.netsync.correlation import CorrelationReport, NetworkCorrelator, default_days
from ams_actors.runtime.actor import Publish
from ams_actors.store.index_watch import IndexWatch
from ams_actors.store.outcomes import StoreError
from protocols.messages import TaskResult
from protocols.s3_keys import InvalidKey, parse_day

OFFLINE = "offline: no object store, nothing correlated (see `ams admin status`)"


class Correlator(StationActor):
    tasks = ("correlate",)

    def __init__(self, name: str, ctx: StationContext, publish: Publish | None = None) -> None:
        super().__init__(name, ctx, publish)
        self.tick_interval_s = ctx.config.schedule.correlate_interval_s
        self.last_report: CorrelationReport | None = None
        self._runner: NetworkCorrelator | None = None
        self._watch = IndexWatch(ctx.config.state_dir / "correlator_index_etags.json")

    async def on_tick(self) -> None:
        await self.correlate()

    async def on_task(self, task: str, day: str | None) -> TaskResult:
        if day is not None:
            try:
                parse_day(day)
            except InvalidKey as err:
                return TaskResult(task=task, actor=self.name, done=0, failed=1, detail=str(err))
        if self.ctx.store is None:
            return TaskResult(task=task, actor=self.name, done=0, detail=OFFLINE)
        report = await self.correlate(day)
        if report is None:
            return TaskResult(task=task, actor=self.name, done=0, failed=1, detail="correlation failed; see the log")
        return TaskResult(
            task=task,
            actor=self.name,
            done=len(report.created) + len(report.revised) + len(report.superseded),
            failed=len(report.problems),
            detail=report.summary(),
        )

    async def correlate(self, day: str | None = None) -> CorrelationReport | None:
        """One run over ``day`` or today and yesterday; None when offline or the store failed."""
        if self.ctx.store is None:
            return None
        today = self.clock.now().date()
        days = [day] if day is not None else default_days(today)
        listing = None
        if day is None:
            try:
                listing = await self._watch.listing(self.ctx.store)
            except StoreError as err:
                self.log.warning("cannot list the station indexes (only %s this run): %s", ", ".join(days), err)
            if listing is not None:
                days = sorted(set(days) | set(self._watch.changed_days(
                    listing, window(today, self.ctx.config.sync.reconcile_days))))
        if self._runner is None or self._runner.store is not self.ctx.store:
            # kept between runs: it caches the validated station indexes by ETag
            self._runner = NetworkCorrelator(
                self.ctx.store,
                self.ctx.executor,
                concurrency=self.ctx.config.store.max_concurrency,
                logger=self.log,
            )
        self._runner.executor = self.ctx.executor
        try:
            report = await self._runner.run(days)
        except StoreError as err:
            self.log.warning("correlation of %s failed (retried next run): %s", ", ".join(days), err)
            return None
        self.last_report = report
        if listing is not None:
            await asyncio.to_thread(self._watch.commit, listing, set(days))
        if report.created or report.revised or report.superseded or report.problems:
            self.log.info("%s", report.summary())
        return report
