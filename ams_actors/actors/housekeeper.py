"""Housekeeper: resume after a crash, repair missing outputs (old `fix_days`), per-day stats (`proc_index`).

The files are the truth and the ledger their index, so all three jobs start from one reading of a
day's folder (`store.day_folders.day_files_state`): which clips are there, and which of vals / stack /
classification / verdict exist for each. From that:
- resume (at start): pending work is published again — a clip with vals but no classification goes to
  the Detector, a maybe-meteors clip with no verdict to the Verifier — so a crash loses nothing, and
  nothing already written is redone;
- fix_days: the same, plus clips whose vals or stack are missing are scanned again in place;
- proc_index: per-day counts from the ledger into `proc2/json/proc_stats.json`; `--rebuild` first
  recreates the ledger from the files alone.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ams_actors.actors.base import StationActor, StationContext, camera_mask
from ams_actors.runtime.actor import Publish
from ams_actors.runtime.files import atomic_move_async, atomic_write_json_async
from ams_actors.runtime.pool import run_cpu
from ams_actors.store.day_folders import ClipFiles, day_files_state, days_on_disk, remove_stale_temp_files
from protocols.errors import InputError
from protocols.messages import ClipClassified, ClipScanned, TaskResult
from protocols.pipeline_files import DETECT_SUFFIX, parse_clip_name


class Housekeeper(StationActor):
    tasks = ("fix_days", "proc_index")

    def __init__(self, name: str, ctx: StationContext, publish: Publish | None = None) -> None:
        super().__init__(name, ctx, publish)
        self.tick_interval_s = ctx.config.schedule.housekeeping_interval_s
        self.resumed = 0

    async def on_start(self) -> None:
        if self.restarts == 0:
            removed = remove_stale_temp_files(self.ctx.paths)
            if removed:
                self.log.info("removed %d temp file(s) left by an interrupted write", removed)
            await self.move_unknown_clips()
            if self.ctx.one_shot:
                return  # `fix_days` resumes as its task; other verbs leave pending work to the daemon
            self.resumed = await self.resume_pending(rescan_missing=False)
            if self.resumed:
                self.log.info("resumed %d clip(s) whose processing was interrupted", self.resumed)

    async def on_tick(self) -> None:
        await self.move_unknown_clips()
        await self.write_stats()

    async def move_unknown_clips(self) -> int:
        """Clips of a camera that is not in station.toml → ``SD/proc2/unknown/`` with a warning: no
        Scanner takes them, and left in SD/ they would fill the disk unseen (a camera added to the
        recorder but not to the config, or a typo in a camera id)."""
        known = {c.id for c in self.ctx.config.cameras}
        moved = 0
        for path in await asyncio.to_thread(lambda: sorted(self.ctx.paths.sd.glob("*.mp4"))):
            try:
                camera = parse_clip_name(path.name).camera
            except InputError:
                continue  # not a camera's minute: the Scanners report badly named clips of their camera
            if camera in known:
                continue
            dest = self.ctx.paths.unknown_dir / path.name
            try:
                await atomic_move_async(path, dest)
            except FileNotFoundError:
                continue
            self.log.warning("clip %s is from camera %s, which is not in %s: moved to %s", path.name, camera,
                             self.ctx.config.source, dest.parent)
            moved += 1
        return moved

    async def on_task(self, task: str, day: str | None) -> TaskResult:
        if task == "fix_days":
            n = await self.resume_pending(rescan_missing=True, only_day=day)
            await self.write_stats(day)
            return TaskResult(task, self.name, done=n, detail=f"{n} clip(s) with missing outputs redone")
        stats = await self.write_stats(day)
        return TaskResult(task, self.name, done=len(stats), detail=f"stats for {len(stats)} day(s)")

    # -- resume and repair -----------------------------------------------------------------------
    async def resume_pending(self, rescan_missing: bool, only_day: str | None = None) -> int:
        ledger = self.ctx.ledger
        now = self.clock.now().isoformat()
        n = 0
        for day in [only_day] if only_day else days_on_disk(self.ctx.paths):
            for cf in day_files_state(self.ctx.paths, day):
                if rescan_missing and (not cf.has_vals or not cf.has_stack):
                    await self._rescan_in_place(cf)
                    cf = next(c for c in day_files_state(self.ctx.paths, day) if c.stem == cf.stem)
                    n += 1
                row = await ledger.get_clip(cf.stem) if ledger else None
                if ledger is not None and (row is None or row.state != cf.state):
                    await ledger.clip_state(cf.stem, cf.camera, cf.day, cf.state, now, result=cf.result)
                vals_path = self.ctx.paths.data_dir(day) / f"{cf.stem}-vals.json"
                if cf.has_vals and cf.result is None:
                    await self.publish(ClipScanned(cf.camera, cf.stem, day, cf.clip_path, vals_path))
                    n += 1
                elif cf.result == "maybe-meteors" and cf.verdict is None:
                    result_path = self.ctx.paths.data_dir(day) / f"{cf.stem}{DETECT_SUFFIX['maybe-meteors']}"
                    await self.publish(ClipClassified(cf.camera, cf.stem, day, "maybe-meteors", result_path, 0))
                    n += 1
        return n

    async def _rescan_in_place(self, cf: ClipFiles) -> None:
        from ams_actors.actors.scanner import ScanFailure, scan_job

        out = await run_cpu(self.ctx.executor, scan_job, str(cf.clip_path), camera_mask(self.ctx.config, cf.camera))
        if isinstance(out, ScanFailure):
            self.log.warning("fix_days: %s cannot be scanned: %s", cf.clip_path.name, out.reason)
            return
        await asyncio.to_thread(out.write, self.ctx.paths, parse_clip_name(cf.clip_path.name))

    # -- stats -----------------------------------------------------------------------------------
    async def write_stats(self, day: str | None = None) -> dict[str, Any]:
        """Update `proc_stats.json` for one day (after a task) or all days; other days are kept."""
        ledger = self.ctx.ledger
        if ledger is None:
            return {}
        path = self.ctx.paths.proc_stats
        current: dict[str, Any] = {}
        if path.exists():
            import json

            try:
                current = json.loads(path.read_text()).get("days", {})
            except (ValueError, OSError, AttributeError):
                current = {}
        days = [day] if day else await ledger.days()
        for d in days:
            current[d] = await ledger.day_stats(d)
        doc = {"station": self.ctx.config.station_id, "updated_utc": self.clock.now().isoformat(), "days": current}
        await atomic_write_json_async(path, doc)
        return {d: current[d] for d in days}
