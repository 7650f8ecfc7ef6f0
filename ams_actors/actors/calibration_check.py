"""CalibrationCheck (one per station): once a night per camera, re-fit the calibration on a clear stack.

Cameras move (wind, a bumped mount, a sagging bracket) and a stale calibration silently puts every
meteor in the wrong place, so the daemon re-checks each camera nightly (issue 4, item 4). It also
must never make things worse: a fit on a hazy stack, or one that locked onto the wrong stars, is
refused by the same rule `ams calibrate` uses (`protocols.calibration.compare_fits`), and the
calibration in use stays.

When: every `tick_interval_s` (hourly) the actor looks whether the station clock has passed the
check time in *local mean solar time* (UTC + longitude/15 h: the station config has no time zone,
and the sky only cares about the Sun). From then until local noon the night's check is due; it runs
once per camera per night (remembered in `state/calibration_check.json`, so a restart does not redo
it). A night without a clear stack yet is retried on the next tick, as long as the night lasts.

Which stack ("clear"): the Scanner's minute stacks of the camera from the last `lookback_h` hours,
sampled evenly down to `max_candidates`, newer than the calibration in use. Each is scored in the
process pool by the number of stars `detect_stars` finds (point-like blobs only: planes, meteors
and hot pixels are rejected by its shape tests) — the quantity the fit actually needs; cloud, haze,
dew and moonlight all lower it. Ties go to the lower median background (darker sky). The best
must reach `min_clear_stars`, else the night is not clear yet.

The fit (`kernels.astrometry.stack.fit_stack`, no I/O) starts from the calibration in use and is judged
against it; everything CPU-heavy (image reads, star detection, the fit, reading the calibration
folder) runs in one pool job per camera. The actor only writes the accepted record — dated by the
stack's time, `created_utc` by the station clock — into the folder the Detector and Verifier read
(`Calibrations.folder`), so their next `Calibrations.model()` uses it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ams_actors.actors.base import StationActor, StationContext
from ams_actors.actors.calibrations import Calibrations
from ams_actors.config import CameraSection
from ams_actors.runtime.actor import Publish
from ams_actors.runtime.files import atomic_write_json_async
from ams_actors.runtime.pool import run_cpu
from protocols.messages import TaskResult
from protocols.s3_keys import InvalidKey, parse_day

DEFAULT_CHECK_HOUR = 1.5  # local mean solar time: the middle of the night, well away from twilight
DEFAULT_INTERVAL_S = 3600.0
DEFAULT_LOOKBACK_H = 3.0
DEFAULT_MAX_CANDIDATES = 24
DEFAULT_MIN_CLEAR_STARS = 40
MAG_LIMIT = 5.5
_STACK_RE = re.compile(
    r"^(?P<y>\d{4})_(?P<mo>\d{2})_(?P<d>\d{2})_(?P<h>\d{2})_(?P<mi>\d{2})_(?P<s>\d{2})_(?P<ms>\d{3})_"
    r"(?P<cam>\d{6})-stacked\.png$"
)


def stack_mid_time(name: str) -> tuple[datetime, str] | None:
    """(mid-exposure UTC, camera id) of `<clip>-stacked.png`: the clip's start + 30 s; None if not a stack."""
    m = _STACK_RE.match(name)
    if m is None:
        return None
    try:
        start = datetime(int(m["y"]), int(m["mo"]), int(m["d"]), int(m["h"]), int(m["mi"]), int(m["s"]),
                         int(m["ms"]) * 1000, tzinfo=UTC)
    except ValueError:
        return None
    return start + timedelta(seconds=30), m["cam"]


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """Everything the pool job needs (picklable; paths as strings)."""

    camera_id: str
    station_id: str
    cal_dir: str
    stacks: tuple[str, ...]
    guess: dict[str, Any]  # lat, lon, alt_m, az, el, fov_h, rotation (station.toml pointing)
    mask: str | None = None
    min_clear_stars: int = DEFAULT_MIN_CLEAR_STARS
    max_shift_deg: float = 1.0  # station.toml [calibration] max_shift_deg
    mag_limit: float = MAG_LIMIT


@dataclass(frozen=True, slots=True)
class StackScore:
    stack: str
    n_stars: int
    background: float


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """What the job found. `attempted`: a clear stack was fitted (accepted or not) — the night is done."""

    camera_id: str
    attempted: bool
    accept: bool
    reason: str
    stack: str | None = None
    obs_utc: str | None = None
    current: str | None = None  # file name of the calibration in use, if any
    scores: tuple[StackScore, ...] = ()
    model: dict[str, Any] | None = None
    quality: dict[str, Any] | None = None
    stars: list[dict[str, Any]] = field(default_factory=list)


def check_camera_job(req: CheckRequest) -> CheckOutcome:
    """Runs in a pool worker: pick the clearest stack, fit it from the calibration in use, judge it."""
    import cv2
    import numpy as np

    from ams_actors.data import load_star_table
    from ams_actors.kernels.astrometry import camera_from_record, detect_stars, guess_camera
    from ams_actors.kernels.astrometry.stack import fit_stack, matched_stars
    from protocols.calibration import newest_valid_calibration

    current = newest_valid_calibration(Path(req.cal_dir), req.camera_id)
    cur_name = current.path.name if current is not None and current.path is not None else None
    cands: list[tuple[str, datetime]] = []
    for s in req.stacks:
        parsed = stack_mid_time(Path(s).name)
        if parsed is None or parsed[1] != req.camera_id:
            continue
        if current is not None and parsed[0] <= current.obs_utc:
            continue  # the calibration in use is from this stack or a later one
        cands.append((s, parsed[0]))
    if not cands:
        return CheckOutcome(req.camera_id, False, False, "no stack newer than the calibration in use", current=cur_name)

    mask = None
    mask_note = ""
    if req.mask:
        m = cv2.imread(req.mask, cv2.IMREAD_GRAYSCALE)
        mask = None if m is None else m > 127  # white = ignore
        if mask is None:
            mask_note = f" (mask {req.mask} unreadable: not used)"
    scores: list[StackScore] = []
    images: dict[str, Any] = {}
    for path, _t in cands:
        img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
        if img is None:
            continue
        use_mask = mask if mask is not None and mask.shape == img.shape else None
        n = len(detect_stars(img, mask=use_mask))
        scores.append(StackScore(path, n, float(np.median(img))))
        images[path] = img
    if not scores:
        return CheckOutcome(req.camera_id, False, False, "no readable stack", current=cur_name)
    best = max(scores, key=lambda s: (s.n_stars, -s.background))
    ranked = tuple(sorted(scores, key=lambda s: (-s.n_stars, s.background)))
    if best.n_stars < req.min_clear_stars:
        return CheckOutcome(req.camera_id, False, False,
                            f"no clear stack: at most {best.n_stars} stars (need {req.min_clear_stars})",
                            current=cur_name, scores=ranked)
    image = images[best.stack]
    t_mid = dict(cands)[best.stack]
    h, w = image.shape
    g = req.guess
    guess = camera_from_record(current) if current is not None else None
    if guess is None or (guess.width, guess.height) != (w, h):
        guess = guess_camera(g["lat"], g["lon"], g["alt_m"], w, h, g["az"], g["el"], g["fov_h"], g["rotation"])
    table = load_star_table()
    use_mask = mask if mask is not None and mask.shape == image.shape else None
    fit, accept, reason = fit_stack(image, t_mid, guess, current, mag_limit=req.mag_limit, table=table, mask=use_mask,
                                    max_shift_deg=req.max_shift_deg)
    stack_name, obs = Path(best.stack).name, t_mid.isoformat()
    if fit is None:
        return CheckOutcome(req.camera_id, True, False, f"no fit: {reason}{mask_note}", stack=stack_name,
                            obs_utc=obs, current=cur_name, scores=ranked)
    return CheckOutcome(req.camera_id, True, accept, reason + mask_note, stack=stack_name, obs_utc=obs,
                        current=cur_name, scores=ranked, model=fit.camera.to_dict(), quality=fit.quality(),
                        stars=matched_stars(fit, table))


class CalibrationCheck(StationActor):
    """The nightly re-check; `run calibrate` forces it now (all cameras, or the stacks of `--day`)."""

    tasks = ("calibrate",)

    def __init__(
        self,
        name: str,
        ctx: StationContext,
        publish: Publish | None = None,
        *,
        check_hour: float | None = None,
        interval_s: float | None = None,
        lookback_h: float = DEFAULT_LOOKBACK_H,
        max_candidates: int = DEFAULT_MAX_CANDIDATES,
        min_clear_stars: int = DEFAULT_MIN_CLEAR_STARS,
    ) -> None:
        super().__init__(name, ctx, publish)
        sched = ctx.config.schedule
        self.check_hour = float(check_hour if check_hour is not None
                                else getattr(sched, "calibration_check_hour", DEFAULT_CHECK_HOUR))
        self.tick_interval_s = float(interval_s if interval_s is not None
                                     else getattr(sched, "calibration_check_interval_s", DEFAULT_INTERVAL_S))
        self.lookback_h = min(lookback_h, 23.0)
        self.max_candidates = max_candidates
        self.min_clear_stars = min_clear_stars
        self.calibrations = Calibrations(ctx.config)
        self.state_path = ctx.paths.state / "calibration_check.json"
        self.done: dict[str, dict[str, Any]] = {}  # camera id -> last check (night, result)

    # -- hooks -----------------------------------------------------------------------------------
    async def on_start(self) -> None:
        try:
            data = json.loads(self.state_path.read_text())
            self.done = {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}
        except FileNotFoundError:
            self.done = {}
        except (OSError, ValueError) as err:
            self.log.warning("%s unreadable (%s): tonight's checks run again", self.state_path, err)
            self.done = {}

    async def on_tick(self) -> None:
        await self.check_due()

    async def on_task(self, task: str, day: str | None) -> TaskResult:
        if day is not None:
            try:
                parse_day(day)
            except InvalidKey as err:  # an operator's typo must not crash the actor
                return TaskResult(task=task, actor=self.name, done=0, failed=1, detail=str(err))
        results = await self.check_due(force=True, day=day)
        written = sum(1 for r in results if r.get("written"))
        detail = "; ".join(f"{r['camera_id']}: {r['result']}" for r in results) or "no cameras"
        return TaskResult(task=task, actor=self.name, done=written, failed=0, detail=detail)

    # -- when ------------------------------------------------------------------------------------
    def local_solar(self, t: datetime) -> datetime:
        """Local mean solar time (naive): UTC shifted by the station's longitude."""
        return t.astimezone(UTC).replace(tzinfo=None) + timedelta(hours=self.ctx.config.station.lon / 15.0)

    def night_of(self, t: datetime) -> str:
        """The night's name: the local date of its evening (a night runs from local noon to noon)."""
        return (self.local_solar(t) - timedelta(hours=12)).strftime("%Y_%m_%d")

    def is_due(self, t: datetime) -> bool:
        """True from the check time until local noon (hours are counted from local noon)."""
        since_noon = self.local_solar(t) - timedelta(hours=12)
        hours = since_noon.hour + since_noon.minute / 60.0 + since_noon.second / 3600.0
        return hours >= (self.check_hour - 12.0) % 24.0

    # -- what ------------------------------------------------------------------------------------
    async def check_due(self, force: bool = False, day: str | None = None) -> list[dict[str, Any]]:
        now = self.clock.now()
        if not force and not self.is_due(now):
            return []
        night = self.night_of(now)
        out = []
        for cam in self.ctx.config.cameras:
            if self.stopping:
                break
            if not force and self.done.get(cam.id, {}).get("night") == night:
                continue
            out.append(await self.check_camera(cam, night, now, day))
        return out

    def candidate_stacks(self, cam: CameraSection, now: datetime, day: str | None) -> list[Path]:
        """This camera's stacks of the last `lookback_h` hours (or of `day`), thinned evenly."""
        if day is not None:
            days = [day]
            lo, hi = None, None
        else:
            lo, hi = now - timedelta(hours=self.lookback_h), now
            days = sorted({lo.strftime("%Y_%m_%d"), hi.strftime("%Y_%m_%d")})  # lookback_h < 24
        found: list[tuple[datetime, Path]] = []
        for d in days:
            folder = self.ctx.paths.images_dir(d)
            if not folder.is_dir():
                continue
            for p in folder.glob(f"*_{cam.id}-stacked.png"):
                parsed = stack_mid_time(p.name)
                if parsed is None:
                    continue
                if lo is not None and hi is not None and not (lo <= parsed[0] - timedelta(seconds=30) <= hi):
                    continue
                found.append((parsed[0], p))
        found.sort()
        k = self.max_candidates
        if len(found) > k > 1:
            found = [found[round(i * (len(found) - 1) / (k - 1))] for i in range(k)]
        return [p for _, p in found]

    def _mask(self, cam: CameraSection) -> str | None:
        if not cam.mask:
            return None
        p = Path(cam.mask).expanduser()
        if not p.is_absolute():
            src = self.ctx.config.source
            p = (Path(".") if src.startswith("sim:") else Path(src).parent) / p
        return str(p)

    async def check_camera(self, cam: CameraSection, night: str, now: datetime, day: str | None) -> dict[str, Any]:
        from protocols.calibration import CalibrationRecord, write_calibration

        folder = self.calibrations.folder(cam)
        stacks = self.candidate_stacks(cam, now, day)
        row: dict[str, Any] = {"camera_id": cam.id, "night": night, "checked_at": now.isoformat(), "written": None}
        if not stacks:
            row["result"] = "no stacks yet"
            self.log.info("camera %s: calibration check: no stacks in the last %.0f h", cam.id, self.lookback_h)
            return row
        st = self.ctx.config.station
        req = CheckRequest(
            camera_id=cam.id,
            station_id=self.ctx.config.station_id,
            cal_dir=str(folder),
            stacks=tuple(str(p) for p in stacks),
            guess={"lat": st.lat, "lon": st.lon, "alt_m": st.alt_m, "az": cam.az_deg, "el": cam.el_deg,
                   "fov_h": cam.fov_h_deg, "rotation": cam.rotation_deg},
            mask=self._mask(cam),
            min_clear_stars=self.min_clear_stars,
            max_shift_deg=self.ctx.config.calibration.max_shift_deg,
        )
        outcome = await run_cpu(self.ctx.executor, check_camera_job, req)
        row.update(stack=outcome.stack, accepted=outcome.accept, reason=outcome.reason, current=outcome.current)
        if not outcome.attempted:
            row["result"] = outcome.reason
            self.log.info("camera %s: calibration check not done yet: %s", cam.id, outcome.reason)
            return row  # not remembered: the next tick tries again while the night lasts
        if outcome.accept and outcome.model is not None and outcome.quality is not None and outcome.obs_utc:
            record = CalibrationRecord(
                camera_id=cam.id,
                station_id=self.ctx.config.station_id,
                obs_utc=datetime.fromisoformat(outcome.obs_utc),
                model=outcome.model,
                fit=outcome.quality,
                stack=outcome.stack or "",
                created_utc=self.clock.now(),  # the station clock, not the wall clock
                stars=outcome.stars,
            )
            path = write_calibration(folder, record)
            row["written"] = path.name
            row["result"] = f"new calibration {path.name} ({outcome.reason})"
            self.log.info("camera %s: nightly calibration on %s accepted: %s; wrote %s", cam.id, outcome.stack,
                          outcome.reason, path)
        else:
            row["result"] = f"refused: {outcome.reason}"
            self.log.warning("camera %s: nightly calibration on %s refused: %s; keeping %s", cam.id, outcome.stack,
                             outcome.reason, outcome.current or "the config pointing")
        self.done[cam.id] = row
        try:
            await atomic_write_json_async(self.state_path, self.done)
        except OSError as err:
            self.log.warning("cannot record the check in %s: %s", self.state_path, err)
        return row
