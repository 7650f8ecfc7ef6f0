"""Verifier: each maybe-meteor measured frame by frame; meteors written to meteors/DAY/ and the archive.

The measurement (decode at full resolution, centroids, fit, pixel → sky) and the trims' re-encoding run
in the process pool. Order of effects, for crash safety: trims and meteor JSON (atomic) → archive JSON
→ the clip's verdict file last → ledger → MeteorVerified. A crash before the verdict means the clip is
verified again on restart and writes the same files (same meteor ids) — nothing is duplicated.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ams_actors.actors.base import StationActor, StationContext
from ams_actors.actors.calibrations import Calibrations
from ams_actors.actors.previews import make_previews
from ams_actors.runtime.actor import Publish
from ams_actors.runtime.files import atomic_write_json_async, fsync_dir
from ams_actors.runtime.pool import run_cpu
from protocols.errors import InputError
from protocols.messages import ClipClassified, MeteorRejected, MeteorVerified, TaskResult
from protocols.pipeline_files import DETECT_SUFFIX, VERIFY_SUFFIX, validate


def verify_job(
    sd_path: str, detect_path: str, station: str, hd_path: str | None, calibration: Any, trims_dir: str
) -> tuple[dict[str, Any], list[dict[str, Any]], list[str]]:
    """Runs in a pool worker: verify the clip, then cut each accepted meteor's SD (and HD) trim.

    Trims are written to temp names in `trims_dir` (same filesystem) and renamed into place, so a
    half-written trim never carries a final name. Returns (verdict, meteors, trim file names).
    """
    from ams_actors.kernels.verify import verify_clip, write_trim

    with open(detect_path, encoding="utf-8") as fh:
        detect_doc = json.load(fh)
    verdict, meteors, outcomes = verify_clip(
        sd_path, detect_doc, station=station, hd_path=hd_path, calibration=calibration
    )
    written: list[str] = []
    os.makedirs(trims_dir, exist_ok=True)
    accepted = [o for o in outcomes if o.accepted and o.meteor is not None]
    for outcome in accepted:
        meteor = outcome.meteor
        assert meteor is not None
        start, stop = outcome.trim
        for src, name in ((sd_path, meteor["sd_trim"]), (hd_path, meteor.get("hd_trim"))):
            if src is None or not name:
                continue
            fd, tmp = tempfile.mkstemp(prefix=".trim-", suffix=".mp4", dir=trims_dir)
            os.close(fd)
            try:
                write_trim(src, tmp, start, stop)
                os.replace(tmp, os.path.join(trims_dir, name))
                written.append(name)
            except Exception:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
    fsync_dir(Path(trims_dir))
    return verdict, meteors, written


def _read_meteor(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    validate("meteor", doc, str(path))
    return doc


class Verifier(StationActor):
    tasks = ("rvms", "bmpi")

    def __init__(self, name: str, ctx: StationContext, publish: Publish | None = None) -> None:
        super().__init__(name, ctx, publish)
        self.calibrations = Calibrations(ctx.config)

    async def on_message(self, msg: Any) -> None:
        if isinstance(msg, ClipClassified) and msg.result == "maybe-meteors":
            await self.verify(msg)

    async def on_task(self, task: str, day: str | None) -> TaskResult:
        from ams_actors.store.day_folders import day_files_state, days_on_disk

        if task == "bmpi":
            return await self.remake_previews(day)
        done = found = 0
        for d in [day] if day else days_on_disk(self.ctx.paths):
            for cf in day_files_state(self.ctx.paths, d):
                if cf.result == "maybe-meteors" and cf.verdict is None:
                    path = self.ctx.paths.data_dir(d) / f"{cf.stem}{DETECT_SUFFIX['maybe-meteors']}"
                    found += await self.verify(ClipClassified(cf.camera, cf.stem, d, "maybe-meteors", path, 0))
                    done += 1
        return TaskResult(task, self.name, done=done, detail=f"{found} meteor(s)")

    async def verify(self, msg: ClipClassified) -> int:
        paths = self.ctx.paths
        clip_name = f"{msg.clip}.mp4"
        sd_path = paths.day_dir(msg.day) / clip_name
        hd = paths.hd / clip_name
        hd_path = str(hd) if hd.exists() else None
        calibration = self.calibrations.model(msg.camera_id)
        trims_dir = paths.meteors_dir(msg.day)
        verdict, meteors, _trims = await run_cpu(
            self.ctx.executor, verify_job, str(sd_path), str(msg.result_path), self.ctx.config.station_id,
            hd_path, calibration, str(trims_dir),
        )
        ledger = self.ctx.ledger
        if meteors and ledger is not None:  # the day's index is rebuilt from the archive if its message is lost
            await ledger.mark_index_day(msg.day)
        for meteor in meteors:
            await make_previews(self.ctx, msg.day, meteor, self.log)
            await atomic_write_json_async(trims_dir / f"{meteor['meteor_id']}.json", meteor)
            await atomic_write_json_async(paths.archive_meteor(msg.day, meteor["meteor_id"]), meteor)
        if meteors and ledger is not None:  # again: a rebuild that ran during the writes did not see them
            await ledger.mark_index_day(msg.day)
        result = str(verdict["result"])
        self.count(msg.camera_id, "minutes")
        self.count(msg.camera_id, "meteors", len(meteors))
        await atomic_write_json_async(paths.data_dir(msg.day) / f"{msg.clip}{VERIFY_SUFFIX[result]}", verdict)
        now = self.clock.now().isoformat()
        if ledger is not None:
            await ledger.clip_verified(msg.clip, result, len(meteors), now)
            for meteor in meteors:
                archive = paths.archive_meteor(msg.day, meteor["meteor_id"])
                await ledger.meteor(meteor["meteor_id"], msg.clip, msg.camera_id, msg.day, str(archive), now)
        for meteor in meteors:
            frames = meteor["frames"]
            self.log.info("meteor %s: camera %s, %d frames, %s → %s%s", meteor["meteor_id"], msg.camera_id,
                          len(frames), frames[0]["t_utc"], frames[-1]["t_utc"],
                          "" if "previews" in meteor else " (no preview)")
            await self.publish(MeteorVerified(self.ctx.config.station_id, msg.camera_id, meteor["meteor_id"], msg.day,
                                              paths.archive_meteor(msg.day, meteor["meteor_id"])))
        if not meteors:
            reasons = "; ".join(str(r.get("reason")) for r in verdict.get("rejected", []))[:300]
            await self.publish(MeteorRejected(msg.camera_id, msg.clip, msg.day, reasons or "no meteor"))
        return len(meteors)

    async def remake_previews(self, day: str | None) -> TaskResult:
        """`ams bmpi [--day D]`: (re)make the previews of every meteor of the day(s) on disk; the meteor
        JSON and its archive copy are rewritten only when their ``previews`` entry changed."""
        from ams_actors.store.day_folders import DAY_RE

        root = self.ctx.paths.root / "meteors"
        days = [day] if day else sorted(p.name for p in root.glob("*") if DAY_RE.match(p.name))
        done = failed = 0
        for d in days:
            folder = self.ctx.paths.meteors_dir(d)
            for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
                try:
                    meteor = await asyncio.to_thread(_read_meteor, path)
                except (OSError, ValueError, InputError) as err:
                    self.log.warning("bmpi: skipped %s: %s", path, err)
                    failed += 1
                    continue
                before = meteor.get("previews")
                if not await make_previews(self.ctx, d, meteor, self.log):
                    failed += 1
                    continue
                done += 1
                if meteor["previews"] != before:
                    await atomic_write_json_async(path, meteor)
                    await atomic_write_json_async(self.ctx.paths.archive_meteor(d, meteor["meteor_id"]), meteor)
        return TaskResult("bmpi", self.name, done=done, failed=failed, detail=f"{done} meteor(s) with previews")
