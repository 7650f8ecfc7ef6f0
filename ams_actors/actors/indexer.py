"""Indexer: keeps the station's daily and yearly meteor index current.

On every MeteorVerified the meteor's archive JSON is read and its entry put into the day's index
(``meteor_archive/<STATION>/DETECTS/MI/YYYY/YYYY_MM_DD-meteor_index.json.gz``, the station's site from
its config); IndexUpdated goes to the Syncer only when the file's bytes changed, so a re-verified
meteor with the same result causes no upload. The yearly roll-up is rebuilt on the tick
(``schedule.index_interval_s``) for the years that changed, not per meteor: it reads the whole year.

The index is derived state that must not drift from the archive: a MeteorVerified lost to a kill or
to a stop with messages still in the inbox would otherwise leave a meteor out for good. So the
Verifier marks a day in the ledger when it writes to its archive folder, and every marked day is
rebuilt from the archive at start, at stop and daily; at start and daily (station clock) every day
is also checked (index ids == archive ids) and repaired with a log line when they differ. The
`fix_days` and `proc_index` tasks run the same check (one day: a full rebuild).

The per-meteor and yearly file work (JSON, schema checks, gzip of up to thousands of entries) runs in
the process pool via ``run_cpu``, the drift check in a worker thread; the actor only decides and
publishes. ``rebuild_day`` is the on-demand rebuild of one day from the archive.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from ams_actors.actors.base import StationActor, StationContext
from ams_actors.runtime.actor import Publish
from ams_actors.runtime.pool import run_cpu
from ams_actors.store import index_check, index_files
from ams_actors.store.index_files import IndexChange
from protocols.messages import IndexUpdated, MeteorVerified, TaskResult
from protocols.meteor_index import SiteInfo
from protocols.s3_keys import InvalidKey, parse_day


class Indexer(StationActor):
    tasks = ("fix_days", "proc_index")

    def __init__(self, name: str, ctx: StationContext, publish: Publish | None = None) -> None:
        super().__init__(name, ctx, publish)
        self.tick_interval_s = ctx.config.schedule.index_interval_s
        self._dirty_years: set[int] = set()
        self._last: dict[str, IndexChange] = {}  # per day: the index as last written (see add_meteor)
        self._checked_on: date | None = None  # station-clock day of the last full check

    @property
    def site(self) -> SiteInfo:
        st = self.ctx.config.station
        return SiteInfo(lat=st.lat, lon=st.lon, alt_m=st.alt_m)

    async def on_start(self) -> None:
        # After a restart the roll-up may lag the daily files; the first tick brings it up to date.
        self._dirty_years.add(self.clock.now().year)
        await self.reconcile(check_all=True)

    async def on_message(self, msg: Any) -> None:
        if not isinstance(msg, MeteorVerified):
            await super().on_message(msg)
            return
        if msg.station_id != self.ctx.config.station_id or not self._valid_day(msg.day):
            self.log.warning("ignoring %s: not a meteor of station %s", msg, self.ctx.config.station_id)
            return
        last = self._last.get(msg.day)
        change = await run_cpu(
            self.ctx.executor,
            index_files.add_meteor,
            self.ctx.paths,
            msg.day,
            self.site,
            msg.archive_path,
            last.index if last else None,
            last.digest if last else "",
        )
        await self._after(msg.day, change)

    async def on_tick(self) -> None:
        if self._checked_on != self.clock.now().date():
            await self.reconcile(check_all=True)
        await self.roll_up()

    async def on_task(self, task: str, day: str | None) -> TaskResult:
        if day is not None:
            if not self._valid_day(day):  # an operator's typo must not crash the actor
                return TaskResult(task, self.name, done=0, failed=1, detail=f"day must be YYYY_MM_DD, got {day!r}")
            change = await self.rebuild_day(day)
            return TaskResult(task, self.name, done=1, detail=f"index {day}: {change.meteors} meteor(s)")
        repaired = await self.reconcile(check_all=True)
        return TaskResult(task, self.name, done=len(repaired), detail=f"{len(repaired)} daily index(es) repaired")

    async def reconcile(self, check_all: bool) -> list[str]:
        """Rebuild the marked days (and, with `check_all`, every day whose index is not its archive);
        returns the days whose index file changed. Marks are cleared only at the generation read."""
        ledger = self.ctx.ledger
        marked = await ledger.index_days_marked() if ledger is not None else {}
        if check_all:
            self._checked_on = self.clock.now().date()
        if not marked and not check_all:
            return []
        # a thread, not the pool: at start the pool may not be needed yet (its workers would outlive a
        # killed station); listing days is I/O, and a rebuild of a drifted day is rare
        repairs = await asyncio.to_thread(
            index_check.check_days, self.ctx.paths, self.site, None if check_all else (), tuple(marked)
        )
        changed = []
        for r in repairs:
            if r.change.changed:
                if r.day not in marked:
                    self.log.warning("index %s did not match the archive (%d meteors in the archive, %s indexed): "
                                     "rebuilt from the archive", r.day, r.archive_ids,
                                     "none" if r.index_ids < 0 else r.index_ids)
                changed.append(r.day)
            self._last.pop(r.day, None)
            await self._after(r.day, r.change)
        for day, gen in marked.items():
            assert ledger is not None
            await ledger.clear_index_day(day, gen)
        return changed

    async def rebuild_day(self, day: str) -> IndexChange:
        """Recreate one day's index from the archive folder alone; publishes IndexUpdated if it changed."""
        if not self._valid_day(day):
            raise ValueError(f"day must be YYYY_MM_DD, got {day!r}")
        change = await run_cpu(self.ctx.executor, index_files.rebuild_day, self.ctx.paths, day, self.site)
        await self._after(day, change)
        return change

    async def roll_up(self) -> list[IndexChange]:
        """Rebuild the yearly roll-up of every year whose daily indexes changed since the last one."""
        out = []
        for year in sorted(self._dirty_years):
            change = await run_cpu(self.ctx.executor, index_files.rebuild_year, self.ctx.paths, year, self.site)
            for line in change.problems:
                self.log.warning("%s", line)
            if change.changed:
                self.log.info("yearly index %s: %d meteors", change.path.name, change.meteors)
            self._dirty_years.discard(year)
            out.append(change)
        return out

    async def on_stop(self) -> None:
        await self.reconcile(check_all=False)  # meteors whose message is still in the inbox
        if self._dirty_years:
            await self.roll_up()

    async def _after(self, day: str, change: IndexChange) -> None:
        if change.index is not None and change.digest:
            self._last = {day: change}  # the night's day; older days are rarely touched twice
        for line in change.problems:
            self.log.warning("%s", line)
        if not change.changed:
            return
        self._dirty_years.add(int(day[:4]))
        self.log.info("index %s: %d meteors", change.path.name, change.meteors)
        await self.publish(IndexUpdated(self.ctx.config.station_id, day, change.path, change.meteors))

    @staticmethod
    def _valid_day(day: str) -> bool:
        try:
            parse_day(day)
        except InvalidKey:
            return False
        return True
