"""The dashboard's data: the station's status, per camera its last minute, minutes per hour over the
last 16 h, its calibration and a warning when it is silent at night; disk, sync backlog, claims, counts."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from ams_actors.kernels.sun import is_daytime
from ams_actors.web import data, pages
from ams_actors.web.view import StationView
from protocols.errors import InputError
from protocols.pipeline_files import parse_clip_name

SILENT_AFTER_S = 600.0  # a camera with no minute for this long at night gets a warning


class Dashboard:
    def __init__(self, view: StationView) -> None:
        self.view = view
        self._cal_cache: dict[str, tuple[float, list[Any]]] = {}

    async def data(self) -> dict[str, Any]:
        now = self.view.ctx.clock.now()
        cams = [c.id for c in self.view.ctx.config.cameras]
        ledger = self.view.ctx.ledger
        since = now - timedelta(hours=16)
        since_prefix = since.strftime("%Y_%m_%d_%H")
        last = await ledger.last_clips(cams) if ledger else {}
        recent = await ledger.clips_since(since_prefix) if ledger else []
        last_day = (now - timedelta(hours=12)).strftime("%Y_%m_%d")
        counts = await ledger.day_stats(last_day) if ledger else {}
        hours = [(since + timedelta(hours=i)).strftime("%Y_%m_%d_%H") for i in range(17)]
        per_hour: dict[str, list[int]] = {c: [0] * len(hours) for c in cams}
        index = {h: i for i, h in enumerate(hours)}
        for cam, clip in recent:
            i = index.get(clip[:13])
            if cam in per_hour and i is not None:
                per_hour[cam][i] += 1
        night = not is_daytime(self.view.ctx.config.station.lat, self.view.ctx.config.station.lon, now)
        cal = {c: await self._newest_calibration(c) for c in cams}
        paths = self.view.ctx.paths
        thumbs = await asyncio.to_thread(lambda: {c: data.thumb_of(paths, last[c]) if c in last else None
                                                  for c in cams})
        disk = await asyncio.to_thread(data.disk, paths)
        cameras, warnings = [], []
        for c in cams:
            age = None
            if c in last:
                try:
                    age = (now - parse_clip_name(last[c] + ".mp4").start_utc).total_seconds()
                except InputError:
                    age = None
            silent = night and (age is None or age > SILENT_AFTER_S)
            if silent:
                warnings.append(f"camera {c} is silent at night: last minute {pages.age_text(age)}")
            rec = cal[c]
            cameras.append({
                "id": c, "last_clip": last.get(c), "age_s": age, "thumb": thumbs[c], "silent": silent,
                "per_hour": per_hour[c], "hours": [h[-2:] for h in hours],
                "calibration": None if rec is None else {
                    "age": pages.age_text((now - rec.obs_utc).total_seconds()).replace(" ago", ""),
                    "rms_px": rec.rms_px, "n": rec.n_matched},
            })
        return {
            "status": self.view.status(), "cameras": cameras, "warnings": warnings, "disk": disk,
            "sync_backlog": self.view.sync_backlog(), "claims_held": len(self.view.claims()["held"]),
            "last_night": counts, "last_night_day": last_day,
        }

    async def _newest_calibration(self, cam: str) -> Any:
        """The newest usable fit of a camera, re-read only when its folder changed."""
        from ams_actors.actors.calibrations import Calibrations

        folder = Calibrations(self.view.ctx.config).folder(self.view.ctx.config.camera(cam))
        try:
            stamp = folder.stat().st_mtime
        except OSError:
            return None
        hit = self._cal_cache.get(cam)
        if hit is None or hit[0] != stamp:
            recs = await asyncio.to_thread(data.calibration_records, self.view.ctx.config, cam)
            hit = (stamp, recs)
            self._cal_cache[cam] = hit
        return next((r for r in hit[1] if r.usable()), None)
