"""Scanner (one per camera): finished SD minutes → vals, stack, thumbnail → `SD/proc2/DAY/` (old `bs`).

A clip is finished when a later minute of the same camera exists, or when its size and mtime have not
changed for `clip_settle_s` of the station clock (a camera writing its last minute of the night).
Order of effects, so a crash at any point loses nothing and does nothing twice:
outputs written atomically → clip moved → ledger updated → ClipScanned. A clip still in SD/ after a
crash is simply scanned again (its outputs are overwritten atomically); one already moved is picked
up from its files by the Housekeeper's resume.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

from ams_actors.actors.base import MaskRef, StationActor, StationContext, camera_mask
from ams_actors.config import cached_mask
from ams_actors.kernels.sun import is_daytime
from ams_actors.runtime.actor import Publish
from ams_actors.runtime.files import atomic_move_async, atomic_write_bytes, atomic_write_bytes_async
from ams_actors.runtime.pool import run_cpu
from ams_actors.store.local_paths import StationPaths
from protocols.errors import InputError
from protocols.messages import ClipRejected, ClipScanned, TaskResult
from protocols.pipeline_files import ClipName, parse_clip_name


@dataclass(frozen=True, slots=True)
class ScanOutput:
    """Everything the Scanner writes for a minute, already encoded (in the worker, not on the loop)."""

    vals_json: bytes
    stack_png: bytes
    thumb_jpg: bytes

    def write(self, paths: StationPaths, name: ClipName) -> Path:
        """The three files, each atomic; returns the vals path. Blocking: run it on a thread."""
        vals_path = paths.data_dir(name.day) / f"{name.stem}-vals.json"
        atomic_write_bytes(vals_path, self.vals_json)
        atomic_write_bytes(paths.images_dir(name.day) / f"{name.stem}-stacked.png", self.stack_png)
        atomic_write_bytes(paths.images_dir(name.day) / f"{name.stem}-stacked-tn.jpg", self.thumb_jpg)
        return vals_path


@dataclass(frozen=True, slots=True)
class ScanFailure:
    reason: str


def scan_job(path: str, mask: MaskRef | None = None) -> ScanOutput | ScanFailure:
    """Runs in a pool worker: decode and scan, and encode the images there too (CPU work)."""
    from ams_actors.kernels.scan import encode_stack_png, encode_thumbnail_jpeg, scan_clip
    from ams_actors.kernels.video import ClipUnreadable

    try:
        result = scan_clip(path, mask=None if mask is None else cached_mask(*mask))
    except ClipUnreadable as err:
        return ScanFailure(str(err.reason) if hasattr(err, "reason") else str(err))
    vals_json = (json.dumps(result.vals, separators=(",", ":")) + "\n").encode()
    return ScanOutput(vals_json, encode_stack_png(result.stack), encode_thumbnail_jpeg(result.stack))


class Scanner(StationActor):
    tasks = ("bs",)

    def __init__(self, name: str, ctx: StationContext, publish: Publish | None = None, camera_id: str = "") -> None:
        super().__init__(name, ctx, publish)
        self.camera_id = camera_id or name.rsplit("-", 1)[-1]
        self.tick_interval_s = ctx.config.schedule.scan_interval_s
        self._seen: dict[Path, tuple[int, int, float]] = {}  # path -> (size, mtime_ns, unchanged since)
        self._bad_names: set[str] = set()

    async def on_tick(self) -> None:
        await self.scan_finished()

    async def on_task(self, task: str, day: str | None) -> TaskResult:
        done, failed = await self.scan_finished(force=True, day=day)
        return TaskResult(task=task, actor=self.name, done=done, failed=failed)

    # -- finding work ----------------------------------------------------------------------------
    def finished_clips(self, force: bool = False) -> list[tuple[Path, ClipName]]:
        """Finished clips of this camera in SD/, oldest first. `force` (the one-shot `bs` verb, run by
        cron after recording): every clip counts as finished."""
        now = self.clock.monotonic()
        clips: list[tuple[Path, ClipName]] = []
        try:
            entries = sorted(self.ctx.paths.sd.glob(f"*_{self.camera_id}.mp4"))
        except OSError:
            return []
        for path in entries:
            try:
                clips.append((path, parse_clip_name(path.name)))
            except InputError as err:
                if path.name not in self._bad_names:
                    self._bad_names.add(path.name)
                    self.log.warning("ignoring %s", err)
        finished: list[tuple[Path, ClipName]] = []
        settle = self.ctx.config.schedule.clip_settle_s
        for i, (path, name) in enumerate(clips):
            later_exists = i + 1 < len(clips)
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            prev = self._seen.get(path)
            if prev is None or prev[:2] != (st.st_size, st.st_mtime_ns):
                self._seen[path] = (st.st_size, st.st_mtime_ns, now)
                settled = False
            else:
                settled = now - prev[2] >= settle
            if later_exists or settled or force:
                finished.append((path, name))
        return finished

    async def scan_finished(self, force: bool = False, day: str | None = None) -> tuple[int, int]:
        done = failed = 0
        for path, name in self.finished_clips(force):
            if self.stopping:
                break
            if day is not None and name.day != day:
                continue
            ok = await self.process(path, name)
            done += ok
            failed += not ok
        return done, failed

    # -- one clip --------------------------------------------------------------------------------
    async def process(self, path: Path, name: ClipName) -> bool:
        paths, ledger, now = self.ctx.paths, self.ctx.ledger, self.clock.now().isoformat()
        st = self.ctx.config.station
        self._seen.pop(path, None)
        if is_daytime(st.lat, st.lon, name.start_utc):
            await atomic_move_async(path, paths.daytime_dir / name.name)
            if ledger is not None:
                await ledger.clip_state(name.stem, name.camera, name.day, "daytime", now)
            await self.publish(ClipRejected(name.camera, name.stem, name.day, "daytime"))
            return True
        out = await run_cpu(self.ctx.executor, scan_job, str(path), camera_mask(self.ctx.config, self.camera_id))
        if isinstance(out, ScanFailure):
            bad = paths.bad_dir(name.day)
            await atomic_write_bytes_async(bad / f"{name.name}.reason", (out.reason + "\n").encode())
            await atomic_move_async(path, bad / name.name)
            self.failed += 1
            self.last_error = f"{name.name}: {out.reason}"
            self.log.warning("bad clip %s: %s (moved to %s)", name.name, out.reason, bad)
            if ledger is not None:
                await ledger.clip_state(name.stem, name.camera, name.day, "bad", now, error=out.reason)
            await self.publish(ClipRejected(name.camera, name.stem, name.day, out.reason))
            return False
        vals_path = await asyncio.to_thread(out.write, paths, name)
        dest = paths.day_dir(name.day) / name.name
        await atomic_move_async(path, dest)
        self.count(name.camera, "minutes")
        if ledger is not None:
            await ledger.clip_state(name.stem, name.camera, name.day, "scanned", now)
        await self.publish(ClipScanned(name.camera, name.stem, name.day, dest, vals_path))
        return True
