"""Detector: each minute's vals → exactly one of -detect / -maybe-meteors / -toomany (old `rvd`).

The classification runs in the process pool. "Exactly one" holds at every instant a reader looks:
the new file is written atomically first, then any stale classification from an earlier run removed.
"""

from __future__ import annotations

import json
from typing import Any

from ams_actors.actors.base import MaskRef, StationActor, StationContext, camera_mask
from ams_actors.actors.calibrations import Calibrations
from ams_actors.config import cached_mask
from ams_actors.runtime.actor import Publish
from ams_actors.runtime.files import atomic_write_json_async
from ams_actors.runtime.pool import run_cpu
from protocols.messages import ClipClassified, ClipScanned, TaskResult
from protocols.pipeline_files import DETECT_SUFFIX


def detect_job(vals_path: str, pixel_scale_deg: float, mask: MaskRef | None = None) -> tuple[dict[str, Any], float]:
    """Runs in a pool worker: read the vals and classify (JSON parsing is CPU work too). Returns the
    classification and the minute's scan + detect time in ms (for the operator's log line)."""
    import time

    from ams_actors.kernels.detect import detect_vals

    t0 = time.perf_counter()
    with open(vals_path, encoding="utf-8") as fh:
        vals = json.load(fh)
    doc = detect_vals(vals, pixel_scale_deg=pixel_scale_deg, mask=None if mask is None else cached_mask(*mask))
    scan_s = float(vals.get("scan", {}).get("elapsed_s", 0.0))
    return doc, 1000.0 * (scan_s + time.perf_counter() - t0)


class Detector(StationActor):
    tasks = ("rvd",)

    def __init__(self, name: str, ctx: StationContext, publish: Publish | None = None) -> None:
        super().__init__(name, ctx, publish)
        self.calibrations = Calibrations(ctx.config)

    async def on_message(self, msg: Any) -> None:
        if isinstance(msg, ClipScanned):
            await self.classify(msg)

    async def on_task(self, task: str, day: str | None) -> TaskResult:
        from ams_actors.store.day_folders import day_files_state, days_on_disk

        done = 0
        for d in [day] if day else days_on_disk(self.ctx.paths):
            for cf in day_files_state(self.ctx.paths, d):
                if cf.has_vals and cf.result is None:
                    vals = self.ctx.paths.data_dir(d) / f"{cf.stem}-vals.json"
                    await self.classify(ClipScanned(cf.camera, cf.stem, d, cf.clip_path, vals))
                    done += 1
        return TaskResult(task, self.name, done=done)

    async def classify(self, msg: ClipScanned) -> None:
        scale = float(self.calibrations.model(msg.camera_id).pixel_scale_deg)
        mask = camera_mask(self.ctx.config, msg.camera_id)
        doc, ms = await run_cpu(self.ctx.executor, detect_job, str(msg.vals_path), scale, mask)
        result = str(doc["classification"])
        n_obj = len(doc.get("objects", []))
        self.log.info("minute %s camera %s: %s%s, %.0f ms", msg.clip, msg.camera_id, result,
                      f" ({n_obj} object(s))" if n_obj else "", ms)
        self.count(msg.camera_id, "minutes")
        data_dir = self.ctx.paths.data_dir(msg.day)
        path = data_dir / f"{msg.clip}{DETECT_SUFFIX[result]}"
        await atomic_write_json_async(path, doc)
        for other, suffix in DETECT_SUFFIX.items():
            if other != result:
                (data_dir / f"{msg.clip}{suffix}").unlink(missing_ok=True)
        if self.ctx.ledger is not None:
            now = self.clock.now().isoformat()
            await self.ctx.ledger.clip_state(msg.clip, msg.camera_id, msg.day, "classified", now, result=result)
        await self.publish(ClipClassified(msg.camera_id, msg.clip, msg.day, result, path, len(doc.get("objects", []))))
